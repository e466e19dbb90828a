"""Free-text answers in the 共享社区 flows: when a message is an answer, and when it is not."""
from __future__ import annotations

from handlers import words
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry
from handlers.flow import CHITCHAT, DIGRESSION_CONFIDENCE

OWN_INTENTS = {"share_item", "borrow_item", "request_help", "affirm", "deny", "out_of_scope"}


def elsewhere(turn: Turn) -> bool:
    """A confident intent of another capability: not a free answer (the engine digresses)."""
    if turn.intent in (None, FALLBACK, MENU_SELECT) or turn.intent in OWN_INTENTS | CHITCHAT:
        return False
    return turn.intent in registry.intents and turn.confidence >= DIGRESSION_CONFIDENCE


def free_text(text: str) -> str | None:
    """The answer as written, when it has words (not only digits, emoji or punctuation)."""
    said = words.plain(text)
    if not said or said.isdigit() or not any(ch.isalnum() for ch in text):
        return None
    return text.strip()
