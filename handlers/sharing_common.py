"""What the 共享社区 flows share: the service, the resident, dates, item words."""
from __future__ import annotations

import re
from datetime import date

from handlers.base import Turn, registry
from services.sharing import SharingService
from storage.residents import Resident

MAX_ITEMS = 8
# An item span runs on into the verb at times ("婴儿车想送人" -> "婴儿车想"): cut it there.
_ITEM_TAIL = re.compile(r"(?:想|要|准备|打算|平时|用不上|闲置|不用|可以|能|借|送|给).*$")


def sharing(turn: Turn) -> SharingService:
    return turn.services.sharing


async def resident_of(turn: Turn) -> Resident:
    return await turn.services.residents.me(turn.message.user_key)


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


def leaves(turn: Turn, own: set[str], threshold: float = 0.8) -> bool:
    """The message is confidently for another capability."""
    others = set(registry.titles) | {"report_status"}
    return turn.intent in others - own and turn.confidence >= threshold
