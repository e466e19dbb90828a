"""The trained model, loaded once per process and parsed off the event loop.

Rasa's graph runner and TensorFlow are synchronous and CPU-bound, so every parse
runs on one dedicated thread (TensorFlow releases the GIL while it computes, and one
thread keeps the graph free of concurrent use). Texts that arrive while a parse is
running are queued and parsed together in one pass of the graph (micro-batching:
no added wait at low load, far fewer graph runs under load). Repeated texts are
answered from an LRU cache unless their result depends on the clock (time entities).
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
    def __init__(self, model_path: Path | None = None, cache_size: int = 2048, max_batch: int = 32) -> None:
        self.model_path = Path(model_path) if model_path else paths.model_path()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")
        self._processor = None
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._max_batch = max_batch
        self._queue: list[tuple[str, asyncio.Future]] = []
        self._draining = False
        self.parses = 0  # texts run through the model
        self.batches = 0  # graph runs
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
        return self.parse_batch_sync([text])[0]

    def parse_batch_sync(self, texts: list[str]) -> list[dict[str, Any]]:
        """One pass of Rasa's NLU graph over several texts (what the processor does for one)."""
        if self._processor is None:
            raise RuntimeError("NLU model is not loaded")
        from rasa.core.channels.channel import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
        from rasa.shared.core.trackers import DialogueStateTracker

        processor = self._processor
        messages = [UserMessage(text, sender_id="nlu") for text in texts]
        tracker = DialogueStateTracker.from_events("nlu", [])
        target = processor.model_metadata.nlu_target
        results = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker}, targets=[target]
        )[target]
        self.parses += len(texts)
        self.batches += 1
        out = []
        for text, parsed in zip(texts, results):
            data = {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": []}
            data.update(parsed.as_dict(only_output_properties=True))
            out.append(shape(data))
        return out

    async def parse(self, text: str) -> dict[str, Any]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            self.cache_hits += 1
            return _copy(cached)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((text, future))
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())
        result = await future
        if self._cache_size and not any(e["entity"] == "time" for e in result["entities"]):
            self._cache[text] = _copy(result)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    async def _drain(self) -> None:
        """Parse queued texts in batches until the queue is empty."""
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                try:
                    results = await loop.run_in_executor(
                        self._executor, self.parse_batch_sync, [text for text, _ in batch]
                    )
                except Exception as exc:  # fail this batch's callers, keep serving
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _copy(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": result["text"],
        "intent": dict(result["intent"]),
        "entities": [dict(e) for e in result["entities"]],
        "intent_ranking": [dict(r) for r in result["intent_ranking"]],
    }
