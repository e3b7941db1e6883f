"""Reporting: figure lines that show in a pytest run as well as in a plain script."""

from __future__ import annotations

from typing import Any


def tell(config: Any, line: str) -> None:
    """Print a figure line past pytest's output capture (plain print outside pytest)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    capture = config.pluginmanager.get_plugin("capturemanager") if config is not None else None
    if reporter is None or capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
