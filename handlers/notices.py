"""Stored notices in chat: at a resident's next message, the unread ones come first (one line
each, newest first), then the answer; they are then marked read."""
from __future__ import annotations

from handlers.messages import Reply
from handlers.base import Turn, registry

SHOWN = 5
_KEY = "unread_notices"


@registry.before_turn
async def take_unread(turn: Turn) -> None:
    services = turn.services
    if services.notices is None or services.residents is None:
        return
    resident = await services.residents.find_by_user_key(turn.message.user_key)
    if resident is None:
        return
    unread = await services.notices.for_resident(resident.id, unread_only=True, limit=SHOWN)
    if unread:
        await services.notices.mark_read(resident.id, [n.id for n in unread])
        turn.message.metadata[_KEY] = [n.text for n in unread]  # newest first


@registry.after_turn
async def show_unread(turn: Turn, replies: list[Reply]) -> list[Reply]:
    texts = turn.message.metadata.get(_KEY)
    if not texts:
        return replies
    return [Reply(turn.say("notices_unread", texts=texts).text), *replies]
