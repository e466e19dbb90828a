"""What a message means: its intent and the codes of its category, service and amenities.

One set of features (character 1–4-grams and jieba words and word pairs, TF-IDF) feeds
linear classifiers: one over intents, and one per code family trained on message-level
labels (the code an example's annotation carries). A code is decided from the whole
message, so words the training data never had still get the nearest code
("人行道中间塌了个大坑" -> road). The character n-gram that weighs most for the chosen
code gives the entity its span.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.text import length_bucket, normalize, words

NONE = "__none__"


@dataclass(frozen=True)
class Family:
    """A code entity: which intents carry it and whether a message can name several."""

    entity: str
    intents: frozenset[str]
    multi: bool = False
    # Below this probability a named-but-unclear code becomes `fallback` (None: no entity).
    fallback: str | None = None


FAMILIES: tuple[Family, ...] = (
    Family("category", frozenset({"report_problem", "report_status"}), fallback="other"),
    Family("service", frozenset({"book_service", "my_bookings", "cancel_booking"})),
    Family("amenity", frozenset({"find_station"}), multi=True),
)


def _char_doc(text: str) -> str:
    return "^" + normalize(text) + "$"


def _word_doc(text: str) -> list[str]:
    ws = words(text)
    pairs = [a + "_" + b for a, b in zip(ws, ws[1:])]
    return ws + pairs + [length_bucket(text)]


class Features:
    """The shared sparse features of a message."""

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, min_df=1, dtype=np.float32)
        self.words = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=1, dtype=np.float32)

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        c = self.chars.fit_transform([_char_doc(t) for t in texts])
        w = self.words.fit_transform([_word_doc(t) for t in texts])
        return sparse.hstack([c, w], format="csr")

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        c = self.chars.transform([_char_doc(t) for t in texts])
        w = self.words.transform([_word_doc(t) for t in texts])
        return sparse.hstack([c, w], format="csr")

    @property
    def n_chars(self) -> int:
        return len(self.chars.vocabulary_)

    def char_names(self) -> np.ndarray:
        return self.chars.get_feature_names_out()


def _identity(doc):
    return doc


@dataclass
class CodeGuess:
    entity: str
    value: str
    confidence: float
    start: int
    end: int


@dataclass
class Meaning:
    ranking: list[tuple[str, float]]
    codes: list[CodeGuess] = field(default_factory=list)


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced", solver="lbfgs")


class MeaningModel:
    """Intent and code classifiers over shared features."""

    def __init__(self, intent_c: float = 20.0, code_c: float = 20.0, code_threshold: float = 0.25,
                 multi_threshold: float = 0.3, none_threshold: float = 0.6) -> None:
        self.none_threshold = none_threshold
        self.intent_c = intent_c
        self.code_c = code_c
        self.code_threshold = code_threshold
        self.multi_threshold = multi_threshold
        self.features = Features()
        self.intent_model: LogisticRegression | None = None
        self.code_models: dict[str, object] = {}
        self._char_names: np.ndarray | None = None

    # -- training -------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], intents: Sequence[str], codes: Sequence[dict[str, list[str]]],
            extra_codes: Sequence[tuple[str, dict[str, list[str]]]] = ()) -> "MeaningModel":
        """`codes[i]` maps an entity name to the code values example i is annotated with;
        `extra_codes` are short texts (synonym words) that train the code classifiers only."""
        x = self.features.fit_transform(texts)
        self._char_names = self.features.char_names()
        self.intent_model = _classifier(self.intent_c).fit(x, list(intents))
        if extra_codes:
            x = sparse.vstack([x, self.features.transform([t for t, _ in extra_codes])], format="csr")
            intents = list(intents) + [""] * len(extra_codes)
            codes = list(codes) + [c for _, c in extra_codes]
        for family in FAMILIES:
            rows = [i for i, (intent, c) in enumerate(zip(intents, codes)) if intent in family.intents or c.get(family.entity)]
            if not rows:
                continue
            if family.multi:
                self.code_models[family.entity] = self._fit_multi(x[rows], [codes[i].get(family.entity, []) for i in rows])
            else:
                labels = [(codes[i].get(family.entity) or [NONE])[0] for i in rows]
                if len(set(labels)) > 1:
                    self.code_models[family.entity] = _classifier(self.code_c).fit(x[rows], labels)
        return self

    def _fit_multi(self, x, label_sets: list[list[str]]) -> dict[str, LogisticRegression]:
        values = sorted({v for labels in label_sets for v in labels})
        models = {}
        for value in values:
            y = np.array([value in labels for labels in label_sets])
            if y.all() or not y.any():
                continue
            models[value] = _classifier(self.code_c).fit(x, y)
        return models

    # -- prediction -----------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> list[Meaning]:
        if not texts:
            return []
        x = self.features.transform(texts)
        probs = self.intent_model.predict_proba(x)
        names = self.intent_model.classes_
        out = []
        for i, text in enumerate(texts):
            order = np.argsort(-probs[i])
            ranking = [(str(names[j]), float(probs[i, j])) for j in order]
            meaning = Meaning(ranking=ranking)
            top = ranking[0][0]
            for family in FAMILIES:
                if top in family.intents:
                    meaning.codes.extend(self._codes(family, x[i], text))
            out.append(meaning)
        return out

    def intent_probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        x = self.features.transform(texts)
        return self.intent_model.predict_proba(x), [str(c) for c in self.intent_model.classes_]

    def _codes(self, family: Family, row, text: str) -> Iterable[CodeGuess]:
        model = self.code_models.get(family.entity)
        if model is None:
            return []
        if family.multi:
            scored = [(value, float(m.predict_proba(row)[0, 1]), m.coef_[0]) for value, m in model.items()]
            chosen = [s for s in scored if s[1] >= self.multi_threshold]
            if not chosen:
                return []
            return [self._guess(family.entity, value, p, coef, row, text) for value, p, coef in sorted(chosen, key=lambda s: -s[1])]
        p = model.predict_proba(row)[0]
        classes = [str(c) for c in model.classes_]
        p_none = float(p[classes.index(NONE)]) if NONE in classes else 0.0
        if p_none >= self.none_threshold:
            return []
        codes = [j for j, c in enumerate(classes) if c != NONE]
        best = max(codes, key=lambda j: p[j])
        value = classes[best]
        confidence = float(p[best]) / max(1e-9, 1.0 - p_none)  # given that a code is named
        coef = model.coef_[best] if model.coef_.shape[0] > 1 else model.coef_[0]
        if confidence < self.code_threshold:
            if family.fallback is None:
                return []
            value = family.fallback
        return [self._guess(family.entity, value, confidence, coef, row, text)]

    def _guess(self, entity: str, value: str, confidence: float, coef: np.ndarray, row, text: str) -> CodeGuess:
        start, end = self._span(coef, row, text)
        return CodeGuess(entity, value, confidence, start, end)

    def _span(self, coef: np.ndarray, row, text: str) -> tuple[int, int]:
        """Where the code shows: the character n-gram (2+ characters) that weighs most for it."""
        n_chars = self.features.n_chars
        idx = row.indices[row.indices < n_chars]
        if len(idx) and self._char_names is not None:
            weights = row[0, idx].toarray()[0] * coef[idx]
            doc = _char_doc(text)
            for j in np.argsort(-weights):
                gram = self._char_names[idx[j]]
                core = gram.strip("^$")
                if len(core) < 2 and len(text) > 1 or weights[j] <= 0:
                    continue
                pos = doc.find(gram)
                if pos < 0:
                    continue
                start = pos + (1 if gram.startswith("^") else 0) - 1
                start = max(start, 0)
                end = min(start + len(core), len(text))
                if end > start:
                    return start, end
        return 0, len(text)
