"""Spans as written: `item` and `location`, tagged character by character with a CRF.

Characters, not jieba words: a resident's place ("华富路和莲花路交叉口", "田面村15栋后面的巷子")
rarely matches jieba's segmentation, and a character tagger never loses an annotation
to a word boundary. Features are the character, its neighbours and bigrams, its kind
(digit, letter, Han) and whether it lies in a word of the lookup tables.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import sklearn_crfsuite

from nlu.text import normalize

# Generic words that are never a place on their own ("小区", not "小区3栋门口").
GENERIC_PLACES = frozenset(
    "小区 楼下 楼上 门口 这里 那里 这边 那边 我家 家里 附近 旁边 路边 路上 楼道 社区 我们小区 我们这 我们这里 这儿 那儿 外面 对面 家门口".split()
)


@dataclass
class Span:
    entity: str
    value: str
    start: int
    end: int
    confidence: float


def _kind(ch: str) -> str:
    if ch.isdigit():
        return "D"
    if ch.isascii() and ch.isalpha():
        return "A"
    if "\u4e00" <= ch <= "\u9fff":
        return "H"
    if ch.isspace():
        return "S"
    return "P" if unicodedata.category(ch).startswith(("P", "S")) else "O"


class LookupMarker:
    """Marks characters covered by a lookup word (longest match first)."""

    def __init__(self, tables: dict[str, Iterable[str]]) -> None:
        self.tables = {name: sorted({normalize(w) for w in words if w}, key=len, reverse=True) for name, words in tables.items()}

    def marks(self, norm: str) -> list[set[str]]:
        out: list[set[str]] = [set() for _ in norm]
        for name, words in self.tables.items():
            for word in words:
                start = norm.find(word)
                while start >= 0:
                    for k in range(start, start + len(word)):
                        out[k].add(name)
                    start = norm.find(word, start + 1)
        return out


def char_features(text: str, marker: LookupMarker | None) -> list[dict[str, object]]:
    norm = normalize(text)
    marks = marker.marks(norm) if marker else [set() for _ in norm]
    padded = "^^" + norm + "$$"
    feats = []
    for i, ch in enumerate(norm):
        p = i + 2
        f: dict[str, object] = {
            "b": 1.0,
            "c": ch,
            "k": _kind(ch),
            "c-1": padded[p - 1],
            "c+1": padded[p + 1],
            "c-2": padded[p - 2],
            "c+2": padded[p + 2],
            "b-1": padded[p - 1 : p + 1],
            "b+1": padded[p : p + 2],
            "t-1": padded[p - 1 : p + 2],
            "k-1": _kind(padded[p - 1]),
            "k+1": _kind(padded[p + 1]),
        }
        for name in marks[i]:
            f["lk:" + name] = 1.0
        feats.append(f)
    return feats


def bio_labels(text: str, spans: Sequence[tuple[str, int, int]]) -> list[str]:
    labels = ["O"] * len(text)
    for entity, start, end in spans:
        if not 0 <= start < end <= len(text):
            continue
        labels[start] = "B-" + entity
        for k in range(start + 1, end):
            labels[k] = "I-" + entity
    return labels


class SpanTagger:
    def __init__(self, entities: Sequence[str], lookups: dict[str, Iterable[str]] | None = None,
                 c1: float = 0.05, c2: float = 0.05, max_iterations: int = 120) -> None:
        self.entities = tuple(entities)
        self.marker = LookupMarker(lookups or {})
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=max_iterations,
                                        all_possible_transitions=True)

    def fit(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[str, int, int]]]) -> "SpanTagger":
        x = [char_features(t, self.marker) for t in texts if t]
        y = [bio_labels(t, [s for s in ss if s[0] in self.entities]) for t, ss in zip(texts, spans) if t]
        self.crf.fit(x, y)
        return self

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        nonempty = [t for t in texts if t]
        tagged = iter(self.crf.predict_marginals([char_features(t, self.marker) for t in nonempty]) if nonempty else [])
        out = []
        for text in texts:
            out.append(self._decode(text, next(tagged)) if text else [])
        return out

    def _decode(self, text: str, marginals: list[dict[str, float]]) -> list[Span]:
        labels = [max(m, key=m.get) for m in marginals]
        spans: list[Span] = []
        i = 0
        while i < len(labels):
            label = labels[i]
            if label == "O":
                i += 1
                continue
            entity = label[2:]
            start = i
            probs = [marginals[i][label]]
            i += 1
            while i < len(labels) and labels[i] == "I-" + entity:
                probs.append(marginals[i][labels[i]])
                i += 1
            value = text[start:i].strip()
            if not value:
                continue
            lead = len(text[start:i]) - len(text[start:i].lstrip())
            s, e = start + lead, start + lead + len(value)
            if entity == "location" and value in GENERIC_PLACES:
                continue
            spans.append(Span(entity, value, s, e, float(sum(probs) / len(probs))))
        return spans
