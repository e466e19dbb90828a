"""Report a problem (报事) in chat, on the flow engine (handlers/flow.py).

Flow "report": category -> location -> description -> photo (WeChat only) -> read-back -> saved.
What any message says is taken (the first one too: "3栋门口路灯坏了" goes straight to the
read-back). Category: the NLU code or a pick from the paged numbered list (23 categories, 7 a
screen + "8 下一页"). Location: the place as written, a WeChat location, 1 用登记的地址 or
2 跳过. Description: the resident's words or one of the category's numbered common
descriptions (so elder mode finishes a report with digits alone). The repair cases
(correction, cancel, skip, digression, repeat, 找人工) are the engine's.
"""
from __future__ import annotations

import re
from typing import Any

from handlers.messages import Reply
from handlers.text import is_menu_key
from handlers.base import Turn, registry
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import CannotHandle, Flow, Slot
from handlers.report_status import looks_like_status, show_status
from services.report_rules import Created, NewReport, ReportError, Reporter
from storage.reports import find_ticket
from storage.routing import CATEGORIES

REPORT_FLOW = "report"
registry.add_menu_item("1", "报事报修", "report_problem", "路灯坏了、下水道堵了、占道经营，直接说就行",
                       wechat_key="MENU_REPORT")
# 查报事进度 (handlers/report_status.py) is part of the report capability's menu.
# A ticket number makes 查进度 sure ("帮我查查R20261202-0001"), whatever the model's confidence.
registry.sure_when("report_status", lambda turn: bool(find_ticket(turn.text)))
registry.add_menu_item("2", "查报事进度", "report_status", "看看您反映的问题办到哪一步了", wechat_key="MENU_STATUS")
PHOTO_CHANNELS = {"wechat"}
MAX_CHAT_PHOTOS = 3
WECHAT_PLACE = "已发送的微信位置"

# Menu order: the most frequent problems on the first screen.
MENU_ORDER = ["streetlight", "road", "drainage", "garbage", "water", "power", "noise",
              "parking", "vending", "parcel", "elevator", "facility", "fire", "greening",
              "throwing", "gas", "pollution", "illegal_building", "property", "animal", "security",
              "dispute", "other"]
# Other words residents use for a category, so a typed name picks it from the list.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "streetlight": ("路灯",), "drainage": ("下水道",), "garbage": ("垃圾",), "water": ("漏水", "停水"),
    "power": ("停电",), "noise": ("噪音",), "elevator": ("电梯",), "gas": ("燃气", "煤气"),
    "pollution": ("油烟", "废气"), "illegal_building": ("违建",), "property": ("物业",),
    "animal": ("流浪猫", "流浪狗", "狗"), "other": ("其他", "别的"),
}
# Common descriptions per category: numbered choices at the description step.
COMMON_DESCRIPTIONS: dict[str, list[str]] = {
    "streetlight": ["路灯不亮", "路灯一闪一闪的", "路灯白天也亮着"],
    "road": ["路面有坑", "人行道砖松动", "井盖破损或丢失"],
    "drainage": ["下水道堵了", "污水冒出来了", "有很大的臭味"],
    "garbage": ["垃圾没人清运", "垃圾桶满了", "有人乱倒垃圾"],
    "vending": ["有人占道摆摊", "店铺东西摆到路上", "流动摊贩堵路"],
    "parking": ["车辆乱停堵路", "电动车乱停", "占用消防通道"],
    "parcel": ["快递堆在路上", "快递柜旁堆满包裹", "外卖车堵路"],
    "noise": ["晚上装修太吵", "店铺音响太吵", "楼上噪音大"],
    "throwing": ["有人往楼下扔东西", "阳台东西可能掉下来", "楼下发现坠落物"],
    "facility": ["健身器材坏了", "座椅或栏杆坏了", "路牌坏了"],
    "elevator": ["电梯坏了停运", "电梯有异响", "有人困在电梯里"],
    "fire": ["消防通道被堵", "灭火器过期或没有", "楼道堆放杂物"],
    "greening": ["树枝快断了", "草坪花坛被破坏", "树木挡住路"],
    "water": ["水管漏水", "停水了", "水压太低"],
    "dispute": ["和邻居有矛盾", "漏水或噪音纠纷", "需要调解"],
    "security": ["有可疑人员", "门禁坏了", "发生盗窃"],
    "power": ["停电了", "经常停电", "电线老化裸露"],
    "gas": ["闻到燃气味", "燃气管道老化", "燃气表有问题"],
    "pollution": ["饭店油烟大", "有刺鼻气味", "工地粉尘大"],
    "illegal_building": ["有人违章搭建", "楼顶加盖", "占用公共空间搭棚"],
    "property": ["物业不管事", "物业收费有问题", "公共区域没人打扫"],
    "animal": ["流浪猫狗多", "遛狗不拴绳", "狗叫扰民"],
    "other": [],
}
# A location span that names no place ("小区", "楼下"): ask instead of reading it back.
GENERIC_PLACES = {"小区", "我们小区", "楼下", "楼上", "家里", "我家", "这里", "那里", "这边", "那边", "门口",
                  "路上", "附近", "外面", "楼道", "社区", "我们这", "我们这里", "家门口"}
_GENERIC = re.compile(r"我要|我想|想要|要|报事|报修|反映|投诉|问题|一下|一个|个|帮我|有|事情|事|情况|我|请|你好|您好")
_PUNCT = re.compile(r"[\s\W_]+")
# Words a place as written usually has ("5栋后门", "华富路口", "菜市场旁边").
_PLACE = re.compile(r"\d|路|街|道|巷|号|栋|幢|座|楼|村|苑|园|院|门|口|旁|边|前|后|里|场|站|店|区|广场|学校|医院|桥|对面|附近")


def _plain(text: str) -> str:
    return _PUNCT.sub("", text or "")


def substantive(text: str) -> bool:
    """True when the text says more than "我要报事" (so it can serve as the description)."""
    return len(_GENERIC.sub("", _plain(text))) >= 2 and not is_menu_key(text)


def clean_place(value: Any) -> str | None:
    place = str(value or "").strip()[:100]
    if not place or _plain(place) in GENERIC_PLACES or _plain(place).isdigit():
        return None
    return place


# -- slots ---------------------------------------------------------------------------


def category_choices(turn: Turn) -> list[Choice]:
    return [Choice(code, CATEGORIES[code], CATEGORY_WORDS.get(code, ())) for code in MENU_ORDER]


def category_entity(turn: Turn) -> str | None:
    value = turn.entity("category")
    return value if value in CATEGORIES else None


def place_entity(turn: Turn) -> str | None:
    return clean_place(turn.entity("location"))


async def registered_address(turn: Turn) -> str:
    residents = turn.services.residents
    resident = await residents.me(turn.message.user_key)
    if resident.building:
        return resident.building
    return await residents.community_name(resident.community)


async def location_choices(turn: Turn) -> list[Choice]:
    address = await registered_address(turn)
    return [Choice(address, f"用登记的地址（{address}）", ("登记的地址", "我家", "家里", "我家这里")),
            Choice(None, "跳过", ("不知道", "不清楚"))]


def looks_like_place(text: str) -> bool:
    return bool(_PLACE.search(text)) and len(_plain(text)) <= 20 and clean_place(text) is not None


def parse_place(turn: Turn, text: str) -> str | None:
    """A place as written: a short answer that reads like a place, or the NLU's span in it."""
    entity = place_entity(turn)
    if len(_plain(text)) <= 14 and (entity or looks_like_place(text)):
        return clean_place(text) or entity
    return entity


def description_choices(turn: Turn) -> list[Choice]:
    category = turn.state.slots.get("category")
    return [Choice(text, text) for text in COMMON_DESCRIPTIONS.get(category or "", [])]


def parse_description(turn: Turn, text: str) -> str | None:
    return text[:500] if len(_plain(text)) >= 2 and not _plain(text).isdigit() else None


def first_description(turn: Turn) -> str | None:
    """Only the first message of the flow doubles as the description ("3栋门口路灯坏了")."""
    if turn.state.step is None and turn.message.kind in ("text", "voice") and substantive(turn.text):
        return turn.text[:500]
    return None


def photos_enabled(turn: Turn) -> bool:
    return turn.message.channel in PHOTO_CHANNELS


SLOTS = [
    Slot("category", "类别", "report_ask_category", words=("类别", "类型", "分类", "种类"),
         choices=category_choices, extract=category_entity,
         show=lambda turn, value: CATEGORIES.get(value or "", "未选择")),
    Slot("location", "地点", "report_ask_location", words=("地点", "位置", "地址", "地方"),
         choices=location_choices, parse=parse_place, extract=place_entity, skippable=True,
         looks_like=looks_like_place,
         show=lambda turn, value: value or ("已发送的微信位置" if turn.state.slots.get("lat") is not None else "未提供")),
    Slot("description", "情况", "report_ask_description", words=("描述", "情况", "内容"),
         choices=description_choices, parse=parse_description, extract=first_description),
    Slot("photo", "照片", "report_ask_photo", words=("照片", "图片"), skippable=True, skip_value=0,
         needed=photos_enabled, show=lambda turn, value: f"{value or 0} 张"),
]


async def on_media(turn: Turn) -> list[Reply] | None:
    """A WeChat location or photo is taken at any step."""
    slots, step = turn.state.slots, turn.state.step
    if turn.message.kind == "location" and turn.message.location is not None:
        loc = turn.message.location
        slots.update(lat=loc.latitude, lng=loc.longitude)
        engine.set_value(turn, REPORT.slot("location"), (loc.label or WECHAT_PLACE)[:100])
        return [await engine.ask(turn, REPORT, await engine.next_step(turn, REPORT), note="收到您的位置。")]
    if turn.message.kind == "image" and turn.message.media:
        media = turn.message.media
        photos = slots.setdefault("photos", [])
        if len(photos) >= MAX_CHAT_PHOTOS:
            return [await engine.ask(turn, REPORT, step, note=f"最多{MAX_CHAT_PHOTOS}张照片，这张没有加上。")]
        photos.append({"source": turn.message.channel, "media_id": media.get("media_id"), "url": media.get("pic_url")})
        engine.set_value(turn, REPORT.slot("photo"), len(photos))
        note = f"收到照片（共{len(photos)}张）。"
        return [await engine.ask(turn, REPORT, await engine.next_step(turn, REPORT), note=note)]
    return None


async def submit(turn: Turn) -> list[Reply]:
    services, slots = turn.services, turn.state.slots
    resident = await services.residents.me(turn.message.user_key)
    reporter = Reporter(resident.id, turn.message.user_key, resident.community)
    location = slots.get("location")
    new = NewReport(
        category=slots["category"],
        description=slots.get("description") or CATEGORIES[slots["category"]],
        location_text=None if location == WECHAT_PLACE else location,
        latitude=slots.get("lat"),
        longitude=slots.get("lng"),
        photos=list(slots.get("photos") or []),
        source="chat",
    )
    try:
        created: Created = await services.reports.create(reporter, new)
    except ReportError as exc:
        raise CannotHandle(str(exc)) from exc
    turn.state.end()
    report = created.report
    template = "report_linked" if created.duplicate else "report_submitted"
    return [turn.say(template, report=report, own_ticket=created.own_ticket, again=created.again,
                     category=CATEGORIES.get(report.category, ""), wechat=turn.message.channel == "wechat")]


REPORT = engine.register(Flow(
    name=REPORT_FLOW, title="报事", slots=SLOTS, confirm_template="report_ask_confirm", submit=submit,
    intents={"report_problem"}, media=on_media,
))


@registry.on_intent("report_problem")
async def start_report(turn: Turn) -> list[Reply]:
    if looks_like_status(turn):
        return await show_status(turn)
    turn.state.slots = {}
    return await engine.start(turn, REPORT_FLOW)
