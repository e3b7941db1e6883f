"""Where indexes built before kb 0.2 look for their analyzer (do not import this module).

Whoosh pickles the tokenizer's import path into every index's table of contents. Indexes
written before the engines moved to `kb/engines/` name `kb.schema.KbTokenizer`; this alias
keeps them opening (`tests/test_old_index.py`). New indexes name
`kb.engines.whoosh.schema.KbTokenizer`.
"""

from kb.engines.whoosh.schema import KbTokenizer

__all__ = ["KbTokenizer"]
