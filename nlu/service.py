"""The trained model, loaded once per process and parsed off the event loop.

Rasa's graph runner and TensorFlow are synchronous and CPU-bound, so every parse
runs on one dedicated thread (TensorFlow releases the GIL while it computes, and one
thread keeps the graph free of concurrent use). Repeated texts are answered from an
LRU cache unless their result depends on the clock (time entities).
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nlu import paths

log = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"


def shape(parse_data: dict[str, Any]) -> dict[str, Any]:
    """Rasa's parse output, reduced to the keys of the contract (plus the ranking)."""
    intent = parse_data.get("intent") or {}
    entities = []
    for ent in parse_data.get("entities") or []:
        item = {
            "entity": ent.get("entity"),
            "value": ent.get("value"),
            "start": ent.get("start"),
            "end": ent.get("end"),
        }
        for extra in ("confidence_entity", "extractor", "additional_info"):
            if ent.get(extra) is not None:
                item[extra] = ent[extra]
        entities.append(item)
    return {
        "text": parse_data.get("text", ""),
        "intent": {
            "name": intent.get("name"),
            "confidence": float(intent.get("confidence") or 0.0),
        },
        "entities": entities,
        "intent_ranking": [
            {"name": r.get("name"), "confidence": float(r.get("confidence") or 0.0)}
            for r in (parse_data.get("intent_ranking") or [])[:5]
        ],
    }


class NLUService:
    def __init__(self, model_path: Path | None = None, cache_size: int = 2048) -> None:
        self.model_path = Path(model_path) if model_path else paths.model_path()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")
        self._processor = None
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self.parses = 0
        self.cache_hits = 0

    @property
    def ready(self) -> bool:
        return self._processor is not None

    def load_sync(self) -> None:
        if not self.model_path.exists():
            raise FileNotFoundError(f"NLU model {self.model_path} not found: run `python -m nlu train`")
        from rasa.core.agent import Agent

        self._processor = Agent.load(str(self.model_path)).processor
        log.info("NLU model loaded from %s", self.model_path)

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.load_sync)

    def parse_sync(self, text: str) -> dict[str, Any]:
        """Parse on the calling thread (the CLI); the app uses `parse`."""
        if self._processor is None:
            raise RuntimeError("NLU model is not loaded")
        from rasa.core.channels.channel import UserMessage
        from rasa.shared.core.trackers import DialogueStateTracker

        message = UserMessage(text, sender_id="nlu")
        tracker = DialogueStateTracker.from_events("nlu", [])
        self.parses += 1
        return shape(self._processor._parse_message_with_graph(message, tracker))

    async def parse(self, text: str) -> dict[str, Any]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            self.cache_hits += 1
            return _copy(cached)
        result = await asyncio.get_running_loop().run_in_executor(
            self._executor, self.parse_sync, text
        )
        if self._cache_size and not any(e["entity"] == "time" for e in result["entities"]):
            self._cache[text] = _copy(result)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _copy(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": result["text"],
        "intent": dict(result["intent"]),
        "entities": [dict(e) for e in result["entities"]],
        "intent_ranking": [dict(r) for r in result["intent_ranking"]],
    }
