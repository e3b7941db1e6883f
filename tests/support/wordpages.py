"""Made-up article pages whose words come from a fixed list: many small pages for rebuild tests."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = ["baclofen", "gabapentin", "spasm", "spasticity", "dose", "kidney", "liver", "drowsiness", "dizziness", "nausea", "pregnancy", "alcohol", "elderly", "withdrawal", "pump", "tablet", "capsule", "interaction", "warning", "fever", "rash", "sleep", "nerve", "pain", "muscle", "relaxant", "tizanidine", "methocarbamol", "cyclobenzaprine", "café", "naïve", "résumé"]
STOP = ("the", "of", "and", "a", "is", "with", "for")


def sentence(rng: random.Random, n: int) -> str:
    """`n` words from the list (stop words among them, now and then a dose), as a sentence."""
    out = []
    for _ in range(n):
        out.append(rng.choice(STOP) if rng.random() < 0.3 else rng.choice(WORDS))
        if rng.random() < 0.05:
            out.append(f"{rng.randint(1, 400)} mg")
    return " ".join(out).capitalize() + "."


def write_pages(folder: Path, count: int) -> Path:
    """`count` small article pages of a few sections each, their words drawn from a fixed list."""
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        title = f"{rng.choice(WORDS).capitalize()} note {i}"
        body = "".join(f"<h2>{rng.choice(WORDS).capitalize()} {j}</h2><p>{sentence(rng, rng.randint(4, 60))}</p>"
                       for j in range(rng.randint(1, 4)))
        (folder / f"page-{i:04d}.html").write_text(
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{sentence(rng, rng.randint(3, 30))}</p>{body}</article></body></html>", encoding="utf-8")
    return folder
