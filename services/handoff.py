"""Human handoff (找人工): a callback request for the resident's community staff, carrying
the conversation so far, so whoever calls back knows what the resident tried; staff read the
requests of their scope and mark them handled (the console, bot/console/callbacks.py)."""
from __future__ import annotations

import re
from typing import Any

from domain.errors import ConflictError, InvalidError, NotFoundError
from domain.phone import MOBILE
from storage.callbacks import DONE, OPEN, Callback, CallbackRepository
from storage.conversations import ConversationRepository

TURNS_KEPT = 20
FALLBACK = "nlu_fallback"
ALL = "all"  # the console's list of every request, open or done
MAX_NOTE = 500  # how long staff's note and their reply to the resident may each be
_CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺两", "0012345678912")


def phone_from_text(text: str) -> str | None:
    """A mainland mobile number in typed or spoken form ("138 1234 5678", "一三八…")."""
    digits = re.sub(r"[\s\-－—_.,，、]", "", (text or "").translate(_CN_DIGITS))
    match = MOBILE.search(digits)
    return match.group(0) if match else None


def spaced_phone(phone: str) -> str:
    """138 1234 5678: easier to check when read back."""
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}" if len(phone) == 11 else phone


def compact_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "at": t.get("received_at"), "kind": t.get("kind"), "text": t.get("text", ""),
            "intent": t.get("intent"), "replies": [r.get("text", "") for r in t.get("replies") or []],
        }
        for t in turns
    ]


class HandoffService:
    def __init__(self, callbacks: CallbackRepository, conversations: ConversationRepository) -> None:
        self.callbacks = callbacks
        self.conversations = conversations

    async def misunderstood_before(self, user_key: str) -> bool:
        """Whether the last two turns were not understood (the handoff was offered)."""
        recent = await self.conversations.recent(user_key, 2)
        return len(recent) == 2 and all(t.get("intent") == FALLBACK for t in recent)

    async def request(
        self, *, resident: Any, user_key: str, channel: str, phone: str | None, reason: str, elder: bool,
    ) -> tuple[Callback, bool]:
        """Open (or refresh) the resident's callback request with the latest turns."""
        turns = compact_turns(await self.conversations.recent(user_key, TURNS_KEPT))
        return await self.callbacks.open_request(
            resident_id=resident.id, user_key=user_key, channel=channel, community=resident.community,
            phone=phone, reason=reason, turns=turns, elder=elder,
        )

    # -- staff: the requests of their scope (the repository stays behind the service) ----------

    async def callbacks_in_scope(self, scope: dict[str, Any], status: str = OPEN) -> list[Callback]:
        """The requests of `status` (OPEN, DONE or ALL), newest first; InvalidError for another."""
        if status not in (OPEN, DONE, ALL):
            raise InvalidError("invalid_status")
        return await self.callbacks.list(scope, None if status == ALL else status)

    async def callback(self, callback_id: str, scope: dict[str, Any]) -> Callback:
        """One request with its conversation; NotFoundError when missing or outside the scope
        (the same answer for both)."""
        item = await self.callbacks.get(callback_id, scope)
        if item is None:
            raise NotFoundError()
        return item

    async def mark_done(self, callback_id: str, scope: dict[str, Any], handled_by: dict[str, Any],
                        note: str, reply: str = "") -> tuple[Callback, Callback]:
        """Close an open request with staff's note (or, without one, the reply they send the
        resident): (before, after). InvalidError without either or when one is too long,
        NotFoundError outside the scope, ConflictError when it was already handled."""
        note, reply = note.strip(), reply.strip()
        if not note and not reply:
            raise InvalidError("missing_note", zh="请写一下处理情况")
        if len(note) > MAX_NOTE or len(reply) > MAX_NOTE:
            raise InvalidError("note_too_long", zh=f"处理情况和回复各不超过{MAX_NOTE}字")
        before = await self.callback(callback_id, scope)
        after = await self.callbacks.close(before.id, scope, handled_by, note or f"已回复：{reply}")
        if after is None:
            raise ConflictError("already_done", zh="这条请求已经处理过了")
        return before, after
