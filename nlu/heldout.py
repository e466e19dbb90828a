"""Figures of a trained model on the held-out set (tests/nlu_heldout/heldout.yml).

The held-out messages were written by someone who had not read the training data and
are never trained on. Reported: intent accuracy and per-intent F1, code accuracy per
code entity (the expected code is among the message's entities of that name; for
several amenities, all of them), span accuracy for item/location, and out-of-scope
precision and recall (predicted out_of_scope against expected out_of_scope; an unsure
message, nlu_fallback, is a clarification, not a decline, and is counted as a miss in
recall), and how many messages came out unsure.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from nlu.dataset import CODE_ENTITIES, SPAN_ENTITIES, HeldOut

# Thresholds of the quality test (issue 16): a drop below any of them fails `make test`.
THRESHOLDS = {"intent_accuracy": 0.95, "code_accuracy": 0.92, "oos_precision": 0.90, "oos_recall": 0.90}
# A place is a span as written; the read-back asks again when it is missing or wrong.
# Guarded against regressions rather than a target: exact match of the whole span.
SPAN_THRESHOLDS = {"location": 0.65}


@dataclass
class Figures:
    n: int
    intent_accuracy: float
    per_intent: dict[str, dict[str, float]]
    code_accuracy: dict[str, tuple[float, int]]
    span_accuracy: dict[str, tuple[float, int]]
    oos_precision: float
    oos_recall: float
    unsure: float
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    code_errors: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)

    @property
    def all_codes_accuracy(self) -> float:
        hits = sum(acc * n for acc, n in self.code_accuracy.values())
        total = sum(n for _, n in self.code_accuracy.values())
        return hits / total if total else 1.0


def measure(examples: Sequence[HeldOut], parse: Callable[[list[str]], list[dict]]) -> Figures:
    results = parse([e.text for e in examples])
    predicted = [r["intent"]["name"] or "nlu_fallback" for r in results]
    gold = [e.intent for e in examples]
    correct = sum(p == g for p, g in zip(predicted, gold))
    per_intent = {}
    for label in sorted(set(gold)):
        tp = sum(p == g == label for p, g in zip(predicted, gold))
        fp = sum(p == label != g for p, g in zip(predicted, gold))
        fn = sum(g == label != p for p, g in zip(predicted, gold))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    code_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    code_errors = []
    for example, result in zip(examples, results):
        for name in CODE_ENTITIES:
            expected = example.codes.get(name)
            if not expected:
                continue
            got = [e["value"] for e in result["entities"] if e["entity"] == name]
            ok = set(expected) <= set(got)
            code_hits[name][0] += ok
            code_hits[name][1] += 1
            if not ok:
                code_errors.append((example.text, name, expected, got))
    span_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for example, result in zip(examples, results):
        for name in SPAN_ENTITIES:
            expected = example.spans.get(name)
            if not expected:
                continue
            got = [e["value"] for e in result["entities"] if e["entity"] == name]
            span_hits[name][0] += expected in got
            span_hits[name][1] += 1
    declined_gold = [g == "out_of_scope" for g in gold]
    declined_pred = [p == "out_of_scope" for p in predicted]
    tp = sum(a and b for a, b in zip(declined_gold, declined_pred))
    oos_precision = tp / sum(declined_pred) if sum(declined_pred) else 0.0
    oos_recall = tp / sum(declined_gold) if sum(declined_gold) else 0.0
    return Figures(
        n=len(examples),
        intent_accuracy=correct / len(examples) if examples else 0.0,
        per_intent=per_intent,
        code_accuracy={k: (v[0] / v[1], v[1]) for k, v in sorted(code_hits.items())},
        span_accuracy={k: (v[0] / v[1], v[1]) for k, v in sorted(span_hits.items())},
        oos_precision=oos_precision,
        oos_recall=oos_recall,
        unsure=sum(p == "nlu_fallback" for p in predicted) / len(predicted) if predicted else 0.0,
        errors=[(e.text, g, p) for e, g, p in zip(examples, gold, predicted) if g != p],
        code_errors=code_errors,
    )


def print_figures(f: Figures, show_errors: bool = False) -> None:
    print(f"\nHeld-out set: {f.n} messages")
    print(f"intent accuracy {f.intent_accuracy:.3f}  (threshold {THRESHOLDS['intent_accuracy']})")
    print(f"{'intent':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label, row in f.per_intent.items():
        print(f"{label:<16} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    print(f"\ncode accuracy {f.all_codes_accuracy:.3f}  (threshold {THRESHOLDS['code_accuracy']})")
    for name, (acc, n) in f.code_accuracy.items():
        print(f"  {name:<10} {acc:.3f}  ({n})")
    for name, (acc, n) in f.span_accuracy.items():
        bar = f"  (threshold {SPAN_THRESHOLDS[name]})" if name in SPAN_THRESHOLDS else ""
        print(f"  span {name:<8} {acc:.3f}  ({n}, exact span){bar}")
    print(f"\nout-of-scope precision {f.oos_precision:.3f}  recall {f.oos_recall:.3f}  "
          f"(thresholds {THRESHOLDS['oos_precision']} / {THRESHOLDS['oos_recall']})")
    print(f"unsure (nlu_fallback, answered with a clarification): {f.unsure:.3f}")
    if show_errors:
        confusions = Counter((g, p) for _, g, p in f.errors)
        print("\nTop confusions (true -> predicted):")
        for (g, p), n in confusions.most_common(12):
            print(f"  {g} -> {p}: {n}")
        print("\nIntent errors:")
        for text, g, p in f.errors:
            print(f"  [{g} -> {p}] {text}")
        print("\nCode errors:")
        for text, name, expected, got in f.code_errors:
            print(f"  [{name}: {expected} -> {got}] {text}")
