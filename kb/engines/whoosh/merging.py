"""Which segments a commit merges: size tiers, so that an edit costs about the same on the 1st day and the 400th.

Every incremental commit (a `kb index` of a few changed pages, an admin API PUT or DELETE) writes
one new segment, and may merge existing ones into it. Never merging piles up segments, and every
search pays for each one. The first policy merged every segment under a tenth of the index into
each commit's: so all the articles edited since the last full rebuild were rewritten by every
commit, and a PUT on the light NFCorpus pages went from 60 ms to 0.9 s over 400 uploads of
different articles (the readers re-read that growing segment after each commit, too).

Lucene's answer (`TieredMergePolicy`) is to merge segments of about the same size, a few at a
time, so each section is rewritten about once per size tier, log(n) times in all. Here:

* a segment with no live section is dropped, and one with over a fifth of its sections deleted
  is merged (rewritten without them), whatever its size;
* a big segment (a tenth of the live sections or more, such as each part of a full rebuild) is
  otherwise kept: merging the big ones would rewrite most of the index in one commit;
* the small ones are grouped by size tier (powers of `MERGE_FACTOR` live sections), and a tier
  is merged once it holds `MERGE_FACTOR` segments. So there are at most `MERGE_FACTOR - 1`
  small segments a tier, and about log(a tenth of the index) tiers.

`decide` is the policy on segment sizes alone; `kb.engines.whoosh.writer` applies it to Whoosh's
segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Small segments of one tier merged together. Lucene merges 10 at a time; here every search pays
# more per segment (Python per term and segment), so 2: at most one small segment a tier, like the
# digits of a binary counter. Simulated over 400 uploads of 2-section articles on the 7,266-section
# light pages: 6.2 segments on average (10 at most), against 8.3 (15) with 4 and 11.6 (21) with 8,
# for 6.5 rewrites a section instead of 4.3 or 2.8 (each a few milliseconds on small segments).
MERGE_FACTOR = 2
BIG_SHARE = 0.1  # a segment holding this share of the live sections is never merged for its size
DELETED_SHARE = 0.2  # a segment with more of its sections deleted than this is rewritten without them


@dataclass(frozen=True)
class Decision:
    """What a commit does with each existing segment, by its position in the list it was given.
    A segment in neither tuple is dropped: none of its sections is live."""

    keep: tuple[int, ...]
    merge: tuple[int, ...]


def tier(live: int) -> int:
    """A segment's size tier: the floor of log to the base `MERGE_FACTOR` of its live sections."""
    found = 0
    while live >= MERGE_FACTOR:
        live //= MERGE_FACTOR
        found += 1
    return found


def decide(sizes: Sequence[tuple[int, int]]) -> Decision:
    """The policy for segments given as (live sections, all sections including deleted ones)."""
    live_total = sum(live for live, _ in sizes) or 1
    keep: list[int] = []
    merge: list[int] = []
    tiers: dict[int, list[int]] = {}
    for i, (live, total) in enumerate(sizes):
        if live == 0:
            continue
        if total - live > DELETED_SHARE * total:
            merge.append(i)
        elif live >= BIG_SHARE * live_total:
            keep.append(i)
        else:
            tiers.setdefault(tier(live), []).append(i)
    for members in tiers.values():
        (merge if len(members) >= MERGE_FACTOR else keep).extend(members)
    return Decision(tuple(sorted(keep)), tuple(sorted(merge)))
