"""A person's PIPL rights, one door for every channel: the mini-program's `/api/v1/me`
(export, delete) and the data-rights requests said in chat (bot/privacy_chat.py).

What is kept where is storage/personal_data.py's (led by storage/pii_registry.py); this
service adds what must happen around it: the person's bookings give their places back
first, and their mini-program sessions end with them."""
from __future__ import annotations

from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from redis.asyncio import Redis

from services.bookings import BookingService
from storage.personal_data import erase_resident, export_resident, resident_for_identity
from storage.residents import Resident
from storage.sessions import SessionStore


class PersonalData:
    def __init__(self, db: AsyncIOMotorDatabase, redis: Redis, bookings: BookingService,
                 api_sessions: SessionStore) -> None:
        """`db` and `redis` themselves: export and erasure reach every collection and key
        that holds a person."""
        self._db, self._redis = db, redis
        self._bookings = bookings
        self._api_sessions = api_sessions

    async def of_identity(self, user_key: str) -> Resident:
        """The resident behind a chat identity (a stand-in without an id for someone who
        only ever chatted)."""
        return await resident_for_identity(self._db, user_key)

    async def export(self, resident: Resident) -> dict[str, Any]:
        """Everything kept about `resident`, without other people's ids or staff names."""
        return await export_resident(self._db, resident)

    async def erase(self, resident: Resident) -> dict[str, int]:
        """Delete or anonymise everything about `resident`: bookings released first, their
        mini-program sessions ended last. Counts of what changed."""
        release = self._bookings.release_for_erasure
        summary = await erase_resident(self._db, self._redis, resident,
                                       before_erase=lambda person: release(person.id))
        if resident.id:
            await self._api_sessions.revoke_owner(resident.id)
        return summary
