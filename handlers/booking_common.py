"""What the booking dialogues share: words that pick a service or an aid, yes / no,
numbered choices, the resident behind the chat and the booking service."""
from __future__ import annotations

import re

from bot.messages import Button
from handlers.base import MENU_SELECT, Turn
from handlers.elder import choice_number
from services.booking_times import Wanted, wanted_from_entities, wanted_from_text
from services.bookings import BookingService
from storage.residents import Resident

FLOW, MINE = "booking", "my_bookings"
MAX_ITEMS = 8
SERVICE_WORDS: list[tuple[str, str]] = [
    ("elderly_meal", r"助餐|饭堂|食堂|吃饭|午饭|午餐|晚饭|晚餐|老年餐|订餐"),
    ("health_check", r"体检|查身体|检查身体|量血压|测血糖"),
    ("rehab_rental", r"轮椅|辅具|拐杖|助行器|护理床|康复"),
    ("volunteer", r"志愿|义工|做公益"),
    ("rest_room", r"休息室|休息房|歇脚|骑手|小哥"),
    ("legal_aid", r"法律|律师|打官司"),
    ("venue", r"场地|活动室|会议室|多功能室"),
]
UNIT_WORDS = {"wheelchair": r"轮椅", "walker": r"助行器|助步器", "crutches": r"拐杖|拐棍", "care_bed": r"护理床|床"}
PROXY = re.compile(
    r"(?:帮|给|替|为)(?:我|咱)?(?:家)?(妈妈|老妈|妈|母亲|爸爸|老爸|爸|父亲|奶奶|爷爷|外婆|姥姥|外公|姥爷|婆婆|公公|"
    r"岳母|岳父|丈母娘|老丈人|老伴|老人家|老人|阿姨|叔叔|伯伯|大爷|大妈|家人|长辈)"
)
MINE_WORDS = re.compile(r"我的预约|查.{0,4}预约|预约(?:记录|情况|了什么|了哪些)|约了什么|约了哪")
CANCEL_WORDS = re.compile(r"取消|退订|不约了|不去了|去不了|来不了")
_PUNCT = re.compile(r"[\s\W_]+")
_PARTICLES = re.compile(r"[吧啊呀了的哦嘛呢噢哈]+$")
YES = {"好", "是", "对", "确认", "确定", "可以", "行", "嗯", "没问题", "要", "约", "预约", "就这个", "ok", "好滴", "对头"}
NO = {"不", "不要", "不用", "不是", "不对", "不约", "不行", "先不", "不去", "不需要", "否"}


def plain(text: str) -> str:
    return _PARTICLES.sub("", _PUNCT.sub("", text.lower()))


def is_yes(turn: Turn) -> bool:
    return turn.intent == "affirm" or plain(turn.text) in YES


def is_no(turn: Turn) -> bool:
    return turn.intent == "deny" or plain(turn.text) in NO


def number(turn: Turn) -> int | None:
    """A numbered choice: "2", "二", "第二个", "选2"."""
    return choice_number(turn.text)


def service_code(turn: Turn) -> str | None:
    code = turn.entity("service")
    if code:
        return str(code)
    for code, pattern in SERVICE_WORDS:
        if re.search(pattern, turn.text):
            return code
    return None


def service_of(turn: Turn) -> BookingService:
    return turn.services.bookings


async def me_of(turn: Turn) -> Resident:
    settings = turn.services.settings
    return await turn.services.residents.for_user_key(turn.message.user_key, settings.default_community)


def numbered(options: list[str]) -> list[Button]:
    return [Button(f"{i} {title}", str(i)) for i, title in enumerate(options, 1)]


def wanted_of(turn: Turn) -> Wanted | None:
    if turn.intent == MENU_SELECT or not turn.has_words:
        return None
    return wanted_from_entities(turn.entities) or wanted_from_text(turn.text, service_of(turn).clock())
