"""Text normalisation shared by the classifiers and the span extractor.

`normalize` keeps the length of the text (one character in, one character out), so
offsets found in the normalised text are offsets in what the resident wrote.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s")


def _norm_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    folded = folded.lower()
    return folded if len(folded) == 1 else ch


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, every digit as 0, every space as one space."""
    out = "".join(_norm_char(ch) for ch in text)
    out = _DIGITS.sub("0", out)
    return _SPACES.sub(" ", out)


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """Jieba words of the normalised text, without spaces and punctuation."""
    return [w for w in _jieba().lcut(normalize(text)) if w.strip() and not _is_punct(w)]


def _is_punct(word: str) -> bool:
    return all(unicodedata.category(ch).startswith(("P", "S")) for ch in word)


def length_bucket(text: str) -> str:
    """A coarse length token: smalltalk is short, complaints are long."""
    n = len(_SPACES.sub("", text))
    for limit, name in ((2, "xs"), (5, "s"), (10, "m"), (20, "l")):
        if n <= limit:
            return f"__len_{name}__"
    return "__len_xl__"
