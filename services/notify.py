"""Telling residents about changes, through the channel they used.

A notice goes to a resident (by id, with the channel they used) or to a channel identity
(`user_key`). WeChat identities (`wechat:<openid>`) get a customer-service message when
the app has a WeChat API client; everyone else (REST, mini-program), and WeChat users the
message could not reach, get a stored notice (storage/notices.py), read through
GET /api/v1/notices. Residents who deleted their account are not contacted.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from storage.notices import Notice, NoticeRepository
from storage.residents import ResidentRepository

log = logging.getLogger(__name__)

WECHAT_PREFIX = "wechat:"
WECHAT, STORED, SKIPPED = "wechat", "notice", "skipped"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def pick_user_key(user_keys: list[str], channel: str | None) -> str | None:
    """The resident's identity on `channel` (else their first one)."""
    for key in user_keys:
        if channel and key.startswith(f"{channel}:"):
            return key
    usable = [k for k in user_keys if not k.startswith("deleted:")]
    return usable[0] if usable else None


class Notifier:
    def __init__(
        self,
        notices: NoticeRepository,
        residents: ResidentRepository,
        wechat: Any = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`wechat`: the WeChat API client (bot/wechat_api.py; None: no customer-service
        messages), or a function returning it when a message is sent."""
        self.notices = notices
        self.residents = residents
        self._wechat: Callable[[], Any] = wechat if callable(wechat) else (lambda: wechat)
        self.clock = clock

    async def notify(
        self,
        *,
        text: str,
        resident_id: str | None = None,
        channel: str | None = None,
        user_key: str | None = None,
        ref: str | None = None,
    ) -> str:
        """Send or store one message; returns "wechat", "notice" or "skipped"."""
        if resident_id is not None:
            resident = await self.residents.get(resident_id)
            if resident is None or resident.deleted_at is not None:
                return SKIPPED
            if user_key is not None and user_key not in resident.user_keys:
                return SKIPPED  # an identity the resident no longer has (erased, relinked)
            user_key = user_key or pick_user_key(resident.user_keys, channel)
            if user_key is None:
                return SKIPPED
        elif user_key is not None and await self.residents.find_by_user_key(user_key) is None:
            return SKIPPED  # nobody has this identity any more (erased)
        if user_key and user_key.startswith(WECHAT_PREFIX):
            client = self._wechat()
            if client is not None:
                try:
                    result = await client.send_text(user_key[len(WECHAT_PREFIX):], text)
                    if result.delivered:
                        return WECHAT
                except Exception:
                    log.exception("WeChat notice to %s failed; storing it instead", user_key)
        await self.notices.add(user_key=user_key, resident_id=resident_id, text=text, ref=ref, now=self.clock())
        return STORED

    async def for_resident(self, resident_id: str, *, unread_only: bool = False, limit: int = 50) -> list[Notice]:
        return await self.notices.for_resident(resident_id, unread_only=unread_only, limit=limit)

    async def mark_read(self, resident_id: str, ids: list[str] | None = None) -> int:
        return await self.notices.mark_read(resident_id, ids)
