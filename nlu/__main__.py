"""`python -m nlu train | parse | evaluate`.

train     trains config.yml on nlu/data into models/linli-nlu.tar.gz (--if-stale: only
          when the config, the data or the custom component changed since last time)
parse     UTF-8 lines on stdin -> one JSON object per line on stdout (Rasa's parse shape)
evaluate  Rasa cross-validation: per-intent precision/recall/F1 and the top confusions;
          --heldout: the trained model on tests/nlu_heldout/heldout.yml (never trained on)
calibrate the fallback threshold from out-of-fold predictions (printed, not written)
"""
from __future__ import annotations

import argparse
import os
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import nlu  # noqa: F401  (sets the TensorFlow/Rasa environment first)
from nlu import paths


def _quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for name in ("rasa", "tensorflow", "absl", "jieba", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def train(args: argparse.Namespace) -> int:
    models_dir = Path(args.out)
    if args.if_stale and not paths.is_stale(models_dir):
        print(f"NLU model {paths.model_path(models_dir)} is up to date")
        return 0
    # Rasa caches trained components by config and data, not by their code: a change to
    # nlu/*.py would silently reuse the old component. Train from scratch every time.
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    from rasa.model_training import train_nlu

    models_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    config = str(paths.CONFIG)
    result = train_nlu(
        config=config,
        nlu_data=str(paths.DATA_DIR),
        output=str(models_dir),
        fixed_model_name=paths.MODEL_NAME,
    )
    if not result:
        print("training failed", file=sys.stderr)
        return 1
    paths.record_fingerprint(models_dir)
    print(f"trained {result} in {time.monotonic() - started:.0f}s")
    return 0


def parse(args: argparse.Namespace) -> int:
    from nlu.service import NLUService

    service = NLUService(Path(args.model) if args.model else None, cache_size=0)
    service.load_sync()
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
    for line in stdin:
        text = line.rstrip("\r\n")
        result = service.parse_sync(text)
        result.pop("intent_ranking", None)
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def evaluate(args: argparse.Namespace) -> int:
    if args.heldout:
        return evaluate_heldout(args)
    from rasa.nlu.test import cross_validate
    from rasa.shared.nlu.training_data.loading import load_data

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(str(paths.DATA_DIR))
    config = str(paths.CONFIG)
    started = time.monotonic()
    asyncio.run(
        cross_validate(data, args.folds, config, output=str(out), errors=True, disable_plotting=True, report_as_dict=True)
    )
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    print_report(report, args.folds, time.monotonic() - started)
    for entity_report in sorted(out.glob("*_report.json")):
        if entity_report.name not in ("intent_report.json", "response_selection_report.json"):
            entities = json.loads(entity_report.read_text(encoding="utf-8"))
            if entities:  # Rasa aligns entities to its own tokens; ours are characters: often empty
                print(f"\n{entity_report.stem}:")
                print_entities(entities)
    print("\nEntity codes and spans: `python -m nlu evaluate --heldout`.")
    return 0


def evaluate_heldout(args: argparse.Namespace) -> int:
    from nlu.dataset import heldout_examples
    from nlu.heldout import THRESHOLDS, measure, print_figures
    from nlu.service import NLUService

    service = NLUService(Path(args.model) if args.model else None, cache_size=0)
    service.load_sync()
    figures = measure(heldout_examples(), service.parse_batch_sync)
    print_figures(figures, show_errors=args.errors)
    ok = (
        figures.intent_accuracy >= THRESHOLDS["intent_accuracy"]
        and figures.all_codes_accuracy >= THRESHOLDS["code_accuracy"]
        and figures.oos_precision >= THRESHOLDS["oos_precision"]
        and figures.oos_recall >= THRESHOLDS["oos_recall"]
    )
    print("\nheld-out thresholds:", "met" if ok else "NOT met")
    return 0 if ok else 1


def calibrate(args: argparse.Namespace) -> int:
    from nlu.calibration import calibrate as run

    run(folds=args.folds)
    return 0


def print_report(report: dict, folds: int, seconds: float) -> None:
    labels = sorted(k for k, v in report.items() if isinstance(v, dict) and "f1-score" in v and k not in ("micro avg", "macro avg", "weighted avg"))
    print(f"\nIntent cross-validation ({folds} folds, {seconds:.0f}s)")
    print(f"{'intent':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}  confused with")
    for label in labels:
        row = report[label]
        confused = ", ".join(f"{k}×{v}" for k, v in list((row.get("confused_with") or {}).items())[:3])
        print(f"{label:<16} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1-score']:>6.3f} {row['support']:>8}  {confused}")
    for avg in ("macro avg", "weighted avg"):
        if avg in report:
            row = report[avg]
            print(f"{avg:<16} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1-score']:>6.3f} {row['support']:>8}")
    if "accuracy" in report:
        print(f"{'accuracy':<16} {report['accuracy']:>24.3f}")
    pairs = []
    for label in labels:
        for other, count in (report[label].get("confused_with") or {}).items():
            pairs.append((count, label, other))
    pairs.sort(reverse=True)
    print("\nTop confusions (true -> predicted):")
    for count, label, other in pairs[:10] or []:
        print(f"  {label} -> {other}: {count}")
    if not pairs:
        print("  none")


def print_entities(report: dict) -> None:
    print(f"{'entity':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label, row in sorted(report.items()):
        if isinstance(row, dict) and "f1-score" in row and label not in ("micro avg", "macro avg", "weighted avg"):
            print(f"{label:<16} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1-score']:>6.3f} {row['support']:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train the NLU model")
    p_train.add_argument("--if-stale", action="store_true", help="skip when the model matches config and data")
    p_train.add_argument("--out", default=str(paths.MODELS_DIR))
    p_parse = sub.add_parser("parse", help="parse stdin lines to JSON lines")
    p_parse.add_argument("--model", help="model archive (default models/linli-nlu.tar.gz)")
    p_eval = sub.add_parser("evaluate", help="cross-validate and print per-intent metrics")
    p_eval.add_argument("--folds", type=int, default=3)
    p_eval.add_argument("--out", default="results/nlu")
    p_eval.add_argument("--heldout", action="store_true", help="measure the trained model on the held-out set")
    p_eval.add_argument("--model", help="model archive for --heldout (default models/linli-nlu.tar.gz)")
    p_eval.add_argument("--errors", action="store_true", help="with --heldout: list every error")
    p_cal = sub.add_parser("calibrate", help="choose the fallback threshold on out-of-fold predictions")
    p_cal.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    _quiet_logs()
    return {"train": train, "parse": parse, "evaluate": evaluate, "calibrate": calibrate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
