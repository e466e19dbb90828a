"""Rasa component that resolves Chinese time expressions into a `time` entity.

明天下午三点 / 下周一上午 / 周六中午 become ISO-8601 values in Asia/Shanghai, using
JioNLP's time parser. The entity's `value` is the start of the resolved span; the
end and whether the expression was exact (`accurate`) or vague (`blur`, 上午) are in
`additional_info`.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
from datetime import datetime, timedelta
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_jio = None

# A bare weekday (周六, 星期天) names the coming one, not the one this week already past.
_BARE_WEEKDAY = re.compile(r"^(?:周|星期|礼拜)[一二三四五六日天]")
# Expressions that can name a time point are only worth parsing when one of these occurs.
# "2号楼", "5号线", "3号床": a number followed by these is an address, not a date.
_ADDRESS_AFTER = set("楼栋幢单元室座门线院铺房床窗口车位")
_TIME_HINT = re.compile(
    r"[今明后昨前大]天|[早中下晚]午|早上|晚上|傍晚|凌晨|上午|中午|半夜|周|星期|礼拜|"
    r"[点时号日月年]|分钟|小时|\d{1,2}[:：]\d{2}|月底|月初|年底|节|下个|这个|下礼拜|今晚|明早"
)


def _jionlp():
    """Import JioNLP lazily and silence the banner it prints to stdout."""
    global _jio
    if _jio is None:
        with contextlib.redirect_stdout(io.StringIO()):
            import jionlp

        logging.getLogger().addFilter(_drop_jionlp_parse_noise)
        _jio = jionlp
    return _jio


def _drop_jionlp_parse_noise(record: logging.LogRecord) -> bool:
    """JioNLP logs a full traceback on the root logger for every fragment it cannot parse
    ("下晚上"); it then returns no time, which is the answer. Keep the logs readable."""
    return not (record.levelno == logging.ERROR and "jionlp" in record.pathname)


def resolve_times(text: str, now: datetime) -> List[Dict[str, Any]]:
    """Time entities in `text`, resolved against `now` (an aware datetime)."""
    if not text or not _TIME_HINT.search(text):
        return []
    jio = _jionlp()
    tz = now.tzinfo
    base = now.replace(tzinfo=None)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            found = jio.ner.extract_time(text, time_base=base, with_parsing=True)
    except Exception:  # the parser raises on some odd inputs; no time is the answer then
        return []
    entities = []
    for item in found:
        detail = item.get("detail") or {}
        if detail.get("type") not in ("time_point", "time_span"):
            continue
        span = detail.get("time") or []
        if len(span) != 2 or not all(isinstance(s, str) for s in span):
            continue  # infinite or periodic times are not bookable points
        try:
            start = datetime.strptime(span[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            end = datetime.strptime(span[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
        except ValueError:
            continue
        surface = item["text"]
        begin, finish = item["offset"]
        if text[finish : finish + 1] in _ADDRESS_AFTER:
            continue
        if _BARE_WEEKDAY.match(surface) and end < now:
            start, end = start + timedelta(days=7), end + timedelta(days=7)
        entities.append(
            {
                "entity": "time",
                "start": begin,
                "end": finish,
                "value": start.isoformat(),
                "confidence_entity": 1.0,
                "additional_info": {
                    "end": end.isoformat(),
                    "definition": detail.get("definition"),
                    "type": detail.get("type"),
                },
            }
        )
    return entities


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class ChineseTimeExtractor(GraphComponent, EntityExtractorMixin):
    """Adds `time` entities; needs no training."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"timezone": "Asia/Shanghai"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._tz = ZoneInfo(config.get("timezone", "Asia/Shanghai"))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ChineseTimeExtractor":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        now = datetime.now(self._tz)
        for message in messages:
            found = resolve_times(message.get(TEXT) or "", now)
            if not found:
                continue
            for entity in found:
                entity["extractor"] = self.__class__.__name__
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
