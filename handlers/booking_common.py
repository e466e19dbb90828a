"""What the booking dialogues share: the resident behind the chat, the booking service, the
service a message names (the NLU's `service` code, or a catalogue service named in the
message's own words), and what a booking request names that the catalogue does not offer."""
from __future__ import annotations

import re
from typing import Any

from handlers.messages import Button
from handlers import words
from handlers.base import MENU_SELECT, Turn
from handlers.flow_choices import Choice, match_choices
from services.booking_times import Wanted, wanted_from_entities, wanted_from_text
from services.bookings import BookingService
from storage.booking_catalog import SERVICE_CODES
from storage.residents import Resident

FLOW, MINE = "booking", "my_bookings"
MAX_ITEMS = 8
PROXY = re.compile(
    r"(?:帮|给|替|为)(?:我|咱)?(?:家)?(妈妈|老妈|妈|母亲|爸爸|老爸|爸|父亲|奶奶|爷爷|外婆|姥姥|外公|姥爷|婆婆|公公|"
    r"岳母|岳父|丈母娘|老丈人|老伴|老人家|老人|阿姨|叔叔|伯伯|大爷|大妈|家人|长辈)"
)
MINE_WORDS = re.compile(r"我的预约|查.{0,4}预约|预约(?:记录|情况|了什么|了哪些)|约了什么|约了哪")
CANCEL_WORDS = re.compile(r"取消|退订|不约了|不去了|去不了|来不了")
# A booking request in few words ("约助餐", "我想预约理发"): the verb, then what is booked.
BOOK_VERB = re.compile(r"预约|预定|预订|约|订|报名|挂号|登记")
# Words around the thing asked for, removed to find what the request names.
_FRAME = re.compile(
    r"我想|我要|想要|想|要|帮我|给我|请|麻烦|可以|能不能|能|一下|一个|一次|个|去|做|参加|的|了|吗|呢|吧|服务|项目|"
    r"预约|预定|预订|约|订|报名|挂号|登记|今天|明天|后天|大后天|上午|下午|中午|晚上|早上|周[一二三四五六日天]|下周|这周|"
    r"[0-9一二三四五六七八九十两]+点(?:半|[0-9一二三四五六七八九十]+分?)?|我妈|我爸|妈妈|爸爸|老人"
)


def is_yes(turn: Turn) -> bool:
    return words.yes_no(turn.text) is True or (turn.intent == "affirm" and len(words.plain(turn.text)) <= 6)


def is_no(turn: Turn) -> bool:
    return words.yes_no(turn.text) is False or (turn.intent == "deny" and len(words.plain(turn.text)) <= 6)


def number(turn: Turn) -> int | None:
    """A numbered choice: "2", "二", "第二个", "选2"."""
    return words.number_of(turn.text)


def service_entity(turn: Turn) -> str | None:
    """The service code the NLU found in the message."""
    code = turn.entity("service")
    return str(code) if code in SERVICE_CODES else None


def requested_words(text: str) -> str:
    """What a booking request names, without the words around it ("我想预约理发" -> 理发)."""
    return _FRAME.sub("", words.plain(text))


def catalogue_choices(services: list[dict[str, Any]]) -> list[Choice]:
    return [Choice(s["code"], s["name"]) for s in services]


def named_service(text: str, services: list[dict[str, Any]]) -> str | None:
    """The catalogue service the request names in the catalogue's own words ("约助餐" -> 老年助餐)."""
    asked = requested_words(text)
    if len(asked) < 2:
        return None
    matched = match_choices(asked, catalogue_choices(services))
    return matched[0].value if len(matched) == 1 else None


def not_offered(text: str, services: list[dict[str, Any]]) -> str | None:
    """The thing a booking request names that is not in the catalogue ("理发"), or None."""
    asked = requested_words(text)
    if len(asked) < 2 or len(asked) > 10 or named_service(text, services) is not None:
        return None
    return asked


def service_of(turn: Turn) -> BookingService:
    return turn.services.bookings


async def me_of(turn: Turn) -> Resident:
    return await turn.services.residents.me(turn.message.user_key)


def numbered(options: list[str]) -> list[Button]:
    return [Button(f"{i} {title}", str(i)) for i, title in enumerate(options, 1)]


def wanted_of(turn: Turn, text: str | None = None) -> Wanted | None:
    """The time a message asks for: the NLU's time entity, or the text resolved here."""
    if turn.intent == MENU_SELECT or not turn.has_words:
        return None
    if text is None or text == turn.text:
        found = wanted_from_entities(turn.entities)
        if found is not None:
            return found
    return wanted_from_text(text or turn.text, service_of(turn).clock(), turn.services.resolve_times)
