"""Rasa graph components around Linli's classifiers (`nlu.meaning`) and span tagger (`nlu.spans`).

`MeaningClassifier` sets the intent, the ranking and the code entities (category, service,
amenity); `SpanExtractor` adds `item` and `location` spans. Both train in seconds on the
2-core machine, which is what lets the full model train well inside the time budget.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.dataset import CODE_ENTITIES, SPAN_ENTITIES, Example, from_messages
from nlu.meaning import FAMILIES, MeaningModel
from nlu.places import common_place, refine, trim_admin
from nlu.spans import Span, SpanTagger

log = logging.getLogger(__name__)
RANKING_LENGTH = 10


class _Persisted(GraphComponent):
    """Shared create/load/persist of a component that keeps one joblib file."""

    FILE = "model.joblib"

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, model=None) -> None:
        self.config = config
        self._storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config, model_storage, resource, execution_context: ExecutionContext, **kwargs):
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / cls.FILE)
        except (ValueError, FileNotFoundError):
            log.warning("%s: no trained model in the archive", cls.__name__)
            model = None
        return cls(config, model_storage, resource, model)

    def _persist(self) -> Resource:
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self.model, Path(directory) / self.FILE, compress=3)
        return self._resource


def _examples(training_data: TrainingData) -> list[Example]:
    """Examples with code values normalised through the synonyms (surface word -> code)."""
    synonyms = training_data.entity_synonyms or {}
    examples = from_messages(training_data.intent_examples)
    for example in examples:
        for name, values in example.codes.items():
            example.codes[name] = [synonyms.get(v, v) for v in values]
    return examples


def _synonym_examples(training_data: TrainingData) -> list[Example]:
    """Each synonym's surface word as a short example of its code (code classifiers only)."""
    out = []
    by_code: dict[str, set[str]] = {}
    for example in from_messages(training_data.intent_examples):
        for family in FAMILIES:
            for value in example.codes.get(family.entity, []):
                by_code.setdefault(value, set()).add(family.entity)
    for surface, code in (training_data.entity_synonyms or {}).items():
        for entity in sorted(by_code.get(code, ())):
            out.append(Example(text=surface, intent="", codes={entity: [code]}))
    return out


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class MeaningClassifier(_Persisted, IntentClassifier, EntityExtractorMixin):
    """Intent and code entities from linear classifiers over character and word features."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intent_c": 20.0, "code_c": 20.0, "code_threshold": 0.25, "multi_threshold": 0.3, "none_threshold": 0.6,
                "min_df": 1, "solver": "saga"}

    def train(self, training_data: TrainingData) -> Resource:
        examples = _examples(training_data)
        extra = _synonym_examples(training_data)
        self.model = MeaningModel(
            intent_c=float(self.config["intent_c"]),
            code_c=float(self.config["code_c"]),
            code_threshold=float(self.config["code_threshold"]),
            multi_threshold=float(self.config["multi_threshold"]),
            none_threshold=float(self.config["none_threshold"]),
            min_df=int(self.config["min_df"]),
            solver=str(self.config["solver"]),
        ).fit(
            [e.text for e in examples],
            [e.intent for e in examples],
            [e.codes for e in examples],
            extra_codes=[(e.text, e.codes) for e in extra],
        )
        return self._persist()

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        for message, meaning in zip(messages, self.model.predict(texts)):
            name, confidence = meaning.ranking[0]
            message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                [{"name": n, "confidence": c} for n, c in meaning.ranking[:RANKING_LENGTH]],
                add_to_output=True,
            )
            found = [
                {
                    "entity": guess.entity,
                    "value": guess.value,
                    "start": guess.start,
                    "end": guess.end,
                    "confidence_entity": round(guess.confidence, 4),
                    "extractor": self.__class__.__name__,
                }
                for guess in meaning.codes
            ]
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class SpanExtractor(_Persisted, EntityExtractorMixin):
    """`item` and `location` as written, from a character CRF."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entities": list(SPAN_ENTITIES), "c1": 0.05, "c2": 0.05, "max_iterations": 120}

    def train(self, training_data: TrainingData) -> Resource:
        examples = from_messages(training_data.intent_examples)
        lookups = {
            t["name"]: list(t["elements"])
            for t in training_data.lookup_tables
            if isinstance(t.get("elements"), list)
        }
        self.model = SpanTagger(
            self.config["entities"], lookups,
            c1=float(self.config["c1"]), c2=float(self.config["c2"]),
            max_iterations=int(self.config["max_iterations"]),
        ).fit([e.text for e in examples], [e.spans for e in examples])
        return self._persist()

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        for message, text, spans in zip(messages, texts, self.model.predict(texts)):
            spans = _places(text, spans)
            if not spans:
                continue
            found = [
                {
                    "entity": s.entity, "value": s.value, "start": s.start, "end": s.end,
                    "confidence_entity": round(s.confidence, 4), "extractor": self.__class__.__name__,
                }
                for s in spans
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


def _places(text: str, spans: List[Span]) -> List[Span]:
    """Locations without the district/street prefix; a shared place when the tagger found none."""
    out = []
    for s in spans:
        if s.entity == "location":
            start, end = refine(text, s.start, s.end)
            value, cut = trim_admin(text[start:end])
            s = Span(s.entity, value, start + cut, end, s.confidence)
        out.append(s)
    if text and not any(s.entity == "location" for s in out):
        found = common_place(text, [(s.start, s.end) for s in out])
        if found:
            out.append(Span("location", found[0], found[1], found[2], 0.5))
    return out


__all__ = ["MeaningClassifier", "SpanExtractor", "CODE_ENTITIES"]
