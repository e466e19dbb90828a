"""In-memory twin of storage/callbacks.py's CallbackRepository (what services/handoff.py's
HandoffService is given): one open request per resident (the partial unique index), staff
reads and the close always scoped, lists without the conversation."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId

from storage.callbacks import DONE, OPEN, Callback
from storage.scope import scoped
from tests.fakes.query import FakeCollection


class FakeCallbackRepository:
    def __init__(self) -> None:
        self.col = FakeCollection({"one_open_per_resident": (("resident_id",), {"status": OPEN})})

    async def ensure_indexes(self) -> None:
        return None

    async def open_request(
        self, *, resident_id: str, user_key: str, channel: str, community: str, phone: str | None,
        reason: str, turns: list[dict[str, Any]], elder: bool,
    ) -> tuple[Callback, bool]:
        now = datetime.now(timezone.utc)
        contact: dict[str, Any] = {"conversation": turns}
        if phone:
            contact = {"phone": phone, **contact}
        refreshed = {"user_key": user_key, "channel": channel, "community": community, "contact": contact,
                     "reason": reason, "elder": elder, "updated_at": now}
        new_id = str(ObjectId())
        doc = self.col.update_one(
            {"resident_id": resident_id, "status": OPEN},
            {"$set": refreshed, "$setOnInsert": {"_id": new_id, "code": f"RG{new_id[-6:].upper()}",
                                                 "created_at": now}},
            upsert=True,
        )
        assert doc is not None  # an upsert always answers the document
        return Callback.from_doc(doc), doc["_id"] == new_id

    async def get(self, callback_id: str, scope: dict[str, Any]) -> Callback | None:
        doc = self.col.find_one(scoped({"_id": str(callback_id)}, scope))
        return Callback.from_doc(doc) if doc else None

    async def list(self, scope: dict[str, Any], status: str | None = OPEN,
                   limit: int = 200) -> list[Callback]:
        docs = self.col.find(scoped({"status": status} if status else {}, scope), [("created_at", -1)], limit)
        for doc in docs:  # the list leaves the conversation out
            doc.get("contact", {}).pop("conversation", None)
        return [Callback.from_doc(doc) for doc in docs]

    async def close(self, callback_id: str, scope: dict[str, Any], staff: dict[str, Any],
                    note: str) -> Callback | None:
        now = datetime.now(timezone.utc)
        handled = {"status": DONE, "handled_at": now, "handled_by": staff, "note": note, "updated_at": now}
        doc = self.col.update_one(scoped({"_id": str(callback_id), "status": OPEN}, scope), {"$set": handled})
        return Callback.from_doc(doc) if doc else None
