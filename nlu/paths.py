"""Where the NLU's inputs and outputs live, and whether the model is stale."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yml"
DATA_DIR = ROOT / "nlu" / "data"
MODELS_DIR = ROOT / "models"
MODEL_NAME = "linli-nlu"
FINGERPRINT_FILE = "fingerprint.json"
# Code that becomes part of the trained graph: a change must retrain.
COMPONENT_FILES = [ROOT / "nlu" / name for name in ("time_extractor.py", "components.py", "meaning.py", "spans.py", "text.py", "dataset.py", "span_fillers.py", "places.py")]


def fingerprint() -> str:
    """Hash of everything the trained model depends on."""
    import rasa

    digest = hashlib.sha256(f"rasa={rasa.__version__}".encode())
    files = [CONFIG, *sorted(DATA_DIR.rglob("*.yml")), *COMPONENT_FILES]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def model_path(models_dir: Path = MODELS_DIR) -> Path:
    return models_dir / f"{MODEL_NAME}.tar.gz"


def recorded_fingerprint(models_dir: Path = MODELS_DIR) -> str | None:
    try:
        return json.loads((models_dir / FINGERPRINT_FILE).read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        return None


def is_stale(models_dir: Path = MODELS_DIR) -> bool:
    return not model_path(models_dir).exists() or recorded_fingerprint(models_dir) != fingerprint()


def record_fingerprint(models_dir: Path = MODELS_DIR) -> None:
    (models_dir / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fingerprint()}))
