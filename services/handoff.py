"""Human handoff (找人工): a callback request for the resident's community staff, carrying
the conversation so far, so whoever calls back knows what the resident tried."""
from __future__ import annotations

import re
from typing import Any

from domain.phone import MOBILE
from storage.callbacks import Callback, CallbackRepository
from storage.conversations import ConversationRepository

TURNS_KEPT = 20
FALLBACK = "nlu_fallback"
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
