"""Stored notices in chat: at a resident's next message, the unread ones come first (one line
each, newest first), then the answer; they are then marked read."""
from __future__ import annotations

from handlers.messages import Reply
from handlers.base import Turn, registry

SHOWN = 5
_KEY = "unread_notices"


@registry.before_turn
async def take_unread(turn: Turn) -> None:
    residents = turn.services.residents
    if residents is None:
        return
    unread = await residents.take_unread_notices(turn.message.user_key, SHOWN)
    if unread:
        turn.message.metadata[_KEY] = [n.text for n in unread]  # newest first


@registry.after_turn
async def show_unread(turn: Turn, replies: list[Reply]) -> list[Reply]:
    texts = turn.message.metadata.get(_KEY)
    if not texts:
        return replies
    return [Reply(turn.say("notices_unread", texts=texts).text), *replies]
