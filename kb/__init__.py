"""kb: a searchable knowledge base for article sites (the core: models, settings, schema, search)."""

from __future__ import annotations

__version__ = "0.1.0"
