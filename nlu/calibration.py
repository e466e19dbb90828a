"""The fallback threshold, chosen on out-of-fold predictions (never on what a model trained on).

Every training example is predicted by a model that did not see it (k folds). A threshold
is scored by what it costs residents: a wrong action costs 1, a clarification of a message
the model had right costs CLARIFY_COST (one more turn), declining an off-topic message
costs nothing. The cheapest pair (threshold, ambiguity threshold) is printed for config.yml.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from nlu.dataset import training_examples
from nlu.meaning import MeaningModel

CLARIFY_COST = 0.35
DECLINE_OK = {"out_of_scope"}


def out_of_fold(folds: int) -> tuple[np.ndarray, list[str], list[str]]:
    examples = training_examples()
    texts = [e.text for e in examples]
    gold = [e.intent for e in examples]
    probs: np.ndarray | None = None
    classes: list[str] = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=7).split(texts, gold):
        model = MeaningModel().fit([texts[i] for i in train], [gold[i] for i in train], [{} for _ in train])
        p, classes = model.intent_probabilities([texts[i] for i in test])
        if probs is None:
            probs = np.zeros((len(texts), len(classes)), dtype=np.float32)
        probs[test] = p
    return probs, classes, gold


def cost(probs: np.ndarray, classes: list[str], gold: list[str], threshold: float, ambiguity: float) -> tuple[float, float, float]:
    order = np.argsort(-probs, axis=1)
    top = probs[np.arange(len(gold)), order[:, 0]]
    second = probs[np.arange(len(gold)), order[:, 1]]
    declined = (top < threshold) | (top - second < ambiguity)
    predicted = [classes[j] for j in order[:, 0]]
    total = 0.0
    wrong = 0
    clarified = 0
    for g, p, d in zip(gold, predicted, declined):
        if d:
            if g not in DECLINE_OK:
                total += CLARIFY_COST
                clarified += 1
        elif p != g:
            total += 1.0
            wrong += 1
    n = len(gold)
    return total / n, wrong / n, clarified / n


def calibrate(folds: int = 5) -> tuple[float, float]:
    started = time.monotonic()
    probs, classes, gold = out_of_fold(folds)
    print(f"out-of-fold predictions of {len(gold)} examples ({folds} folds, {time.monotonic() - started:.0f}s)")
    print(f"{'threshold':>9} {'ambiguity':>9} {'cost':>7} {'wrong':>7} {'clarified':>9}")
    best = None
    for threshold in np.arange(0.10, 0.71, 0.05):
        for ambiguity in (0.0, 0.02, 0.05, 0.1):
            c, w, k = cost(probs, classes, gold, float(threshold), ambiguity)
            if ambiguity == 0.05:
                print(f"{threshold:>9.2f} {ambiguity:>9.2f} {c:>7.3f} {w:>7.3f} {k:>9.3f}")
            if best is None or c < best[0]:
                best = (c, float(threshold), ambiguity)
    assert best is not None
    print(f"\nchosen: threshold {best[1]:.2f}, ambiguity_threshold {best[2]:.2f} (cost {best[0]:.3f})")
    return best[1], best[2]
