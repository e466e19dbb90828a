"""In-memory twin of storage/faq.py's FaqRepository (what services/faq.py's FaqService is
given): the chat's read of one community, and the editor's reads and writes, always scoped
(a new entry outside the scope is OutOfScope), with the same checks of question and answer."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId

from storage.faq import MAX_ENTRIES, FaqEntry, clean_keywords, validate
from storage.scope import OutOfScope, in_scope, scoped
from tests.fakes.query import FakeCollection


class FakeFaqRepository:
    def __init__(self) -> None:
        self.col = FakeCollection()

    async def ensure_indexes(self) -> None:
        return None

    async def for_community(self, community: str) -> list[FaqEntry]:
        docs = self.col.find({"community": str(community)}, [("_id", 1)], MAX_ENTRIES)
        return [FaqEntry.from_doc(d) for d in docs]

    async def list(self, scope: dict[str, Any]) -> list[FaqEntry]:
        docs = self.col.find(scoped({}, scope), [("community", 1), ("_id", 1)], MAX_ENTRIES * 20)
        return [FaqEntry.from_doc(d) for d in docs]

    async def get_doc(self, entry_id: str, scope: dict[str, Any]) -> dict[str, Any] | None:
        return self.col.find_one(scoped({"_id": str(entry_id)}, scope))

    async def count(self, community: str) -> int:
        return self.col.count({"community": str(community)})

    async def create(self, scope: dict[str, Any], *, community: str, question: str, answer: str,
                     keywords: str | list[str], staff_name: str) -> dict[str, Any]:
        question, answer = validate(question, answer)
        if self.col.count({"community": community}) >= MAX_ENTRIES:
            raise ValueError(f"每个社区最多{MAX_ENTRIES}条问答")
        if not in_scope(scope, community):
            raise OutOfScope(f"community {community!r} is outside this staff member's scope")
        doc = {"_id": str(ObjectId()), "community": community, "key": None, "question": question,
               "answer": answer, "keywords": clean_keywords(keywords), "updated_by": staff_name,
               "updated_at": datetime.now(timezone.utc)}
        self.col.insert_one(doc)
        return doc

    async def update(self, entry_id: str, scope: dict[str, Any], *, question: str, answer: str,
                     keywords: str | list[str], staff_name: str) -> dict[str, Any] | None:
        question, answer = validate(question, answer)
        changes = {"question": question, "answer": answer, "keywords": clean_keywords(keywords),
                   "updated_by": staff_name, "updated_at": datetime.now(timezone.utc)}
        return self.col.update_one(scoped({"_id": str(entry_id)}, scope), {"$set": changes})

    async def delete(self, entry_id: str, scope: dict[str, Any]) -> bool:
        return self.col.delete_one(scoped({"_id": str(entry_id)}, scope))
