"""The spelling corrector remembers its answers, and a new vocabulary keeps only those it cannot change."""

from __future__ import annotations

from kb.spelling import Corrector

VOCAB = {"baclofen": 5, "gabapentin": 4, "spasticity": 3, "dizziness": 2, "tizanidine": 2}


def test_corrections_are_the_closest_known_word() -> None:
    c = Corrector(VOCAB)
    assert c.correct("baclofn") == "baclofen"
    assert c.correct("dizzyness") == "dizziness"
    assert c.correct("baclofen") is None  # known: nothing to correct
    assert c.correct("zzzzzzzz") is None


def test_a_new_vocabulary_keeps_answers_no_changed_word_could_change() -> None:
    old = Corrector(VOCAB)
    assert old.correct("baclofn") == "baclofen"
    assert old.correct("tizanidin") == "tizanidine"
    assert old.correct("spastisity") == "spasticity"
    # a commit adds a word one edit from "baclofn", and recounts "spasticity"
    new_vocab = {**VOCAB, "baclofan": 9, "spasticity": 7}
    new = Corrector.following(old, new_vocab)
    assert "tizanidin" in new._memo  # nothing near it changed: kept
    assert "baclofn" not in new._memo and "spastisity" not in new._memo  # asked again
    # ... and every answer is the one a corrector built from scratch gives
    scratch = Corrector(new_vocab)
    for word in ("baclofn", "tizanidin", "spastisity", "dizzyness"):
        assert new.correct(word) == scratch.correct(word), word
    assert new.correct("baclofn") == "baclofan"  # the closer tie, more frequent, now wins


def test_a_vocabulary_that_changed_a_lot_starts_afresh() -> None:
    old = Corrector(VOCAB)
    old.correct("baclofn")
    many = {**VOCAB, **{f"word{'x' * (i % 7)}{i}": 1 for i in range(600)}}
    assert not Corrector.following(old, many)._memo


def test_the_same_vocabulary_object_keeps_the_corrector() -> None:
    old = Corrector(VOCAB, ["lioresal"])
    assert Corrector.following(old, VOCAB, ["lioresal"]) is old
    assert Corrector.following(old, dict(VOCAB), ["lioresal"]) is not old  # an equal copy is checked word by word
    assert Corrector.following(old, VOCAB, ["zanaflex"]) is not old
