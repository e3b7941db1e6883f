"""Word lists the query side consults: the language's dictionary and the words around a question.

The dictionary is pyspellchecker's English word list (160k words from subtitles and Wiktionary,
filtered by SCOWL), read once per process: spelling correction never rewrites a word found in
it ("addictive" stays "addictive" even when the index only holds "additive"). The question
words are NLTK's English stop words (`kb/data/question-words.txt`): scored like any word, but
never required by the all-words rule, never reported missing, never corrected.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

import orjson


@functools.cache
def dictionary() -> frozenset[str]:
    """Every word of the English dictionary, lower-case."""
    raw = resources.files("spellchecker").joinpath("resources/en.json.gz").read_bytes()
    return frozenset(w for w in orjson.loads(gzip.decompress(raw)) if w.isalpha())


@functools.cache
def question_words() -> frozenset[str]:
    """Stop words of questions ("what", "how", "can", "my"), folded."""
    lines = resources.files("kb").joinpath("data/question-words.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


def is_word(word: str) -> bool:
    """Whether a folded word is in the dictionary (a real word, not a typo)."""
    return word in dictionary()
