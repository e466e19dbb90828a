"""Conversation log: one document per turn (what came in, what we understood, what we said)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo.errors import DuplicateKeyError


class ConversationRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["conversations"]

    async def record_turn(
        self,
        *,
        user_key: str,
        channel: str,
        user: str,
        kind: str,
        text: str,
        message_id: str | None,
        intent: str | None,
        confidence: float | None,
        entities: list[dict[str, Any]],
        replies: list[dict[str, Any]],
        flow: str | None,
        received_at: datetime,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Store one turn; False when this user's message id was already stored."""
        doc: dict[str, Any] = {
            "user_key": user_key,
            "channel": channel,
            "user": user,
            "kind": kind,
            "text": text,
            "intent": intent,
            "confidence": confidence,
            "entities": entities,
            "replies": replies,
            "flow": flow,
            "received_at": received_at,
            "replied_at": datetime.now(timezone.utc),
        }
        if message_id is not None:
            doc["message_id"] = message_id
        if extra:
            doc.update(extra)
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def recent(self, user_key: str, limit: int = 20) -> list[dict[str, Any]]:
        """The user's latest turns, oldest first."""
        cursor = self._col.find({"user_key": str(user_key)}, {"_id": 0}).sort("received_at", -1).limit(limit)
        turns = await cursor.to_list(limit)
        turns.reverse()
        return turns

    async def count(self, user_key: str) -> int:
        return await self._col.count_documents({"user_key": str(user_key)})
