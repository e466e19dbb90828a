"""Content check before anything is published to neighbours (共享社区 posts, help requests).

The word list is configurable: collection `content_words` ({_id: word, reason}), seeded
with defaults and edited by staff in the console. Matching ignores spaces, punctuation
and full-width forms, so "代 开-发票" still matches "代开发票". Besides the list, phone
numbers and links are refused (neighbours reach each other through the assistant, and
posts are not for advertising). A refusal says why, in Chinese.
"""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.phone import ANY_PHONE

DEFAULT_WORDS: list[tuple[str, str]] = [
    ("代开发票", "广告"), ("办证", "广告"), ("刷单", "广告"), ("兼职日结", "广告"), ("贷款", "金融广告"),
    ("套现", "金融广告"), ("博彩", "赌博"), ("赌博", "赌博"), ("六合彩", "赌博"), ("枪支", "违禁物品"),
    ("管制刀具", "违禁物品"), ("毒品", "违禁物品"), ("处方药", "药品不能在邻里间转让"), ("烟花爆竹", "违禁物品"),
    ("傻逼", "不文明用语"), ("滚蛋", "不文明用语"),
]
MAX_TEXT = 500
_LINK = re.compile(r"https?://|www\.|\.com\b|\.cn\b|加微信|加v|vx[:：]?|wx[:：]", re.IGNORECASE)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # Chinese, shown to the resident
    code: str = ""  # English code for the API
    word: str | None = None


OK = Verdict(True)


def _squash(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


class ContentChecker:
    def __init__(self, db: Any) -> None:
        self._col = db["content_words"]
        self._cache: tuple[float, list[tuple[str, str]]] | None = None

    async def words(self) -> list[tuple[str, str]]:
        """(word, reason) pairs, cached for a few seconds."""
        if self._cache is not None and time.monotonic() - self._cache[0] < CACHE_SECONDS:
            return self._cache[1]
        words = [(doc["_id"], doc.get("reason") or "不适合发布") async for doc in self._col.find({})]
        self._cache = (time.monotonic(), words)
        return words

    def forget(self) -> None:
        self._cache = None

    async def check(self, *texts: str | None) -> Verdict:
        """Whether these texts (title, description, ...) may be published."""
        parts = [t for t in texts if t]
        joined = "\n".join(parts)
        if any(len(t) > MAX_TEXT for t in parts):
            return Verdict(False, f"内容太长了，请控制在{MAX_TEXT}字以内", "too_long")
        if ANY_PHONE.search(joined.replace(" ", "")):
            return Verdict(False, "为了保护隐私，请不要在内容里留电话号码，邻居会通过小助手联系您", "phone_number")
        if _LINK.search(joined):
            return Verdict(False, "邻里共享不能发链接或微信号", "link")
        squashed = _squash(joined)
        for word, reason in await self.words():
            if _squash(word) and _squash(word) in squashed:
                return Verdict(False, f"内容里有不允许发布的词“{word}”（{reason}），请修改后再发", "blocked_word", word)
        return OK

    async def add_word(self, word: str, reason: str, staff_id: str | None = None) -> bool:
        word = word.strip()
        if not word:
            return False
        result = await self._col.update_one(
            {"_id": word},
            {"$set": {"reason": reason.strip() or "不适合发布", "by": staff_id, "at": datetime.now(timezone.utc)}},
            upsert=True,
        )
        self.forget()
        return bool(result.upserted_id or result.modified_count)

    async def remove_word(self, word: str) -> bool:
        result = await self._col.delete_one({"_id": word})
        self.forget()
        return bool(result.deleted_count)

    async def all_words(self) -> list[dict[str, Any]]:
        return [doc async for doc in self._col.find({}).sort("_id", 1)]


async def seed_words(db: Any) -> None:
    """Seed the default word list when there is none (staff edits are kept)."""
    col = db["content_words"]
    if await col.count_documents({}) == 0:
        for word, reason in DEFAULT_WORDS:
            await col.update_one({"_id": word}, {"$setOnInsert": {"reason": reason}}, upsert=True)
