"""Training examples and the held-out set as plain records (no Rasa objects past loading)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu import paths

CODE_ENTITIES = ("category", "service", "amenity")
SPAN_ENTITIES = ("item", "location")
HELDOUT_FILE = paths.ROOT / "tests" / "nlu_heldout" / "heldout.yml"
# Reports naming where, written later by another writer who had not read nlu/data either.
LOCATIONS_FILE = paths.ROOT / "tests" / "nlu_heldout" / "locations.yml"


@dataclass
class Example:
    text: str
    intent: str
    codes: dict[str, list[str]] = field(default_factory=dict)
    spans: list[tuple[str, int, int]] = field(default_factory=list)


def from_messages(messages) -> list[Example]:
    """Rasa training messages -> examples (codes from annotation values, spans as annotated)."""
    out = []
    for message in messages:
        text = message.get("text")
        intent = message.get("intent")
        if not text or not intent:
            continue
        example = Example(text=text, intent=intent)
        for ent in message.get("entities") or []:
            name = ent.get("entity")
            if name in CODE_ENTITIES:
                example.codes.setdefault(name, []).append(str(ent.get("value")))
            elif name in SPAN_ENTITIES:
                example.spans.append((name, int(ent["start"]), int(ent["end"])))
        out.append(example)
    return out


def training_examples(data_dir: Path = paths.DATA_DIR) -> list[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    return from_messages(load_data(str(data_dir)).intent_examples)


def lookup_tables(data_dir: Path = paths.DATA_DIR) -> dict[str, list[str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return {t["name"]: list(t["elements"]) for t in load_data(str(data_dir)).lookup_tables if isinstance(t.get("elements"), list)}


@dataclass
class HeldOut:
    text: str
    intent: str
    codes: dict[str, list[str]]
    spans: dict[str, str]


def heldout_examples(paths_: tuple[Path, ...] = (HELDOUT_FILE, LOCATIONS_FILE)) -> list[HeldOut]:
    rows = []
    for path in paths_:
        rows += yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
    out = []
    for row in rows:
        codes = {}
        for name in CODE_ENTITIES:
            if row.get(name):
                value = row[name]
                codes[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        spans = {name: str(row[name]) for name in SPAN_ENTITIES if row.get(name)}
        out.append(HeldOut(text=str(row["text"]), intent=str(row["intent"]), codes=codes, spans=spans))
    return out
