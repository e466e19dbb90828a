"""What the 共享社区 flows share: the resident, dates, item words, and (for handlers/points.py,
which still runs its own steps) the old small helpers, now reading handlers/words.py."""
from __future__ import annotations

import re
from datetime import date

from bot.messages import Button, Reply
from handlers import words
from handlers.base import MENU_SELECT, Turn, registry
from services.sharing import SharingService
from storage.residents import Resident

MAX_ITEMS = 8
OWN_INTENTS = {"share_item", "borrow_item", "request_help"}
# An item span runs on into the verb at times ("婴儿车想送人" -> "婴儿车想"): cut it there.
_ITEM_TAIL = re.compile(r"(?:想|要|准备|打算|平时|用不上|闲置|不用|可以|能|借|送|给).*$")


def sharing(turn: Turn) -> SharingService:
    return turn.services.sharing


async def resident_of(turn: Turn) -> Resident:
    settings = turn.services.settings
    return await turn.services.residents.for_user_key(turn.message.user_key, settings.default_community)


def day_label(iso: str) -> str:
    day = date.fromisoformat(iso[:10])
    return f"{day.month}月{day.day}日"


def item_entity(turn: Turn) -> str | None:
    """The NLU's item span, without a verb it ran on into."""
    value = turn.entity("item")
    if not value:
        return None
    cleaned = _ITEM_TAIL.sub("", str(value)).strip() or str(value)
    return cleaned[:40] if len(cleaned) >= 1 else None


# -- small helpers for handlers/points.py (its own step machine) --------------------------


def plain(text: str) -> str:
    return words.plain(text)


def is_yes(turn: Turn) -> bool:
    return words.yes_no(turn.text) is True or (turn.intent == "affirm" and len(plain(turn.text)) <= 6)


def is_no(turn: Turn) -> bool:
    return (words.yes_no(turn.text) is False or words.kind_of(turn.text) == words.CANCEL
            or (turn.intent == "deny" and len(plain(turn.text)) <= 6))


def digit(turn: Turn, count: int) -> int | None:
    """The 1-based number picked from a list of `count`, or None."""
    if turn.intent == MENU_SELECT and turn.text.isdigit() and 1 <= int(turn.text) <= count:
        return int(turn.text)
    return None


def not_picked(turn: Turn, count: int) -> list[Reply] | None:
    """No number from the list: a wrong number is explained; anything else is left to the router."""
    return [turn.say("share_invalid", choice=turn.text, count=count)] if turn.intent == MENU_SELECT else None


def leaves(turn: Turn, own: set[str], threshold: float = 0.8) -> bool:
    """The message is confidently for another capability."""
    others = set(registry.titles) | {"report_status"}
    return turn.intent in others - own and turn.confidence >= threshold


def number_buttons(options: list[tuple[str, str]]) -> list[Button]:
    return [Button(f"{key} {label}", key) for key, label in options]
