"""Medicine-name synonyms: the bundled brand/generic file plus a site owner's own.

Each line of a synonyms file is `generic: name, name, ...` (see `kb/data/synonyms.txt`).
Query words are expanded at query time, never at index time, so changing the file needs
no re-index and `expanded_terms` can say exactly what was added.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kb import text
from kb.errors import ConfigError


@dataclass(frozen=True)
class Synonyms:
    """Groups of names for the same thing, looked up by any folded single-word name."""

    groups: tuple[tuple[str, ...], ...]  # generic first
    index: dict[str, tuple[int, ...]]

    def expand(self, word: str) -> list[str]:
        """The other names of `word` (generic first), or [] when it has none."""
        key = text.normalize_phrase(word)
        out: list[str] = []
        for gi in self.index.get(key, ()):
            for name in self.groups[gi]:
                if name != key and name not in out:
                    out.append(name)
        return out

    def names(self) -> set[str]:
        """Every single-word name in the file: candidates for spelling and suggestions."""
        return {n for group in self.groups for n in group if " " not in n}

    def __contains__(self, word: str) -> bool:
        return text.normalize_phrase(word) in self.index


def parse_lines(lines: list[str], where: str) -> list[tuple[str, ...]]:
    """Groups from the lines of a synonyms file; a malformed line is a ConfigError naming it."""
    groups = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line:
            raise ConfigError(f"{where}:{n}: expected 'generic: name, name', got {line!r}")
        head, rest = line.split(":", 1)
        names = [text.normalize_phrase(x) for x in [head, *rest.split(",")]]
        group = tuple(dict.fromkeys(x for x in names if x))
        if len(group) > 1:
            groups.append(group)
    return groups


def load(extra: Path | None = None) -> Synonyms:
    """The bundled synonyms, plus the site owner's file when given."""
    bundled = resources.files("kb").joinpath("data/synonyms.txt").read_text(encoding="utf-8")
    groups = parse_lines(bundled.splitlines(), "kb/data/synonyms.txt")
    if extra is not None:
        try:
            groups += parse_lines(extra.read_text(encoding="utf-8").splitlines(), str(extra))
        except OSError as e:
            raise ConfigError(f"cannot read synonyms file {extra}: {e.strerror}") from e
    index: dict[str, list[int]] = {}
    for gi, group in enumerate(groups):
        for name in group:
            index.setdefault(name, []).append(gi)
    return Synonyms(tuple(groups), {k: tuple(v) for k, v in index.items()})
