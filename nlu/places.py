"""Places the span tagger misses or over-reaches on, by how residents name them.

The CRF learns places from annotated examples, which mostly name estates, buildings and
roads ("田面村5栋", "华富路口"). Residents as often name a shared part of the building or
street ("楼道里", "单元门口", "地库门口", "河边", "天桥上"), and formal letters put the
district and street in front ("福田区华富街道莲花三村12栋门口"). Two small rules:

- `trim_admin`: the district / street prefix is where the community is, not the place;
  "福田区华富街道莲花三村12栋门口" -> "莲花三村12栋门口".
- `common_place`: when the tagger found no place, a shared place named in the message,
  with the modifier before it and the position after it ("小区门口", "楼下的垃圾分类点",
  "公共过道上"); a bare "门口" or "楼下" is not a place and is never returned.
"""
from __future__ import annotations

import re

from nlu.spans import GENERIC_PLACES

_ADMIN = re.compile(r"^(?:[\u4e00-\u9fa5]{2,4}区)?[\u4e00-\u9fa5]{1,4}街道(?:办事处)?")

_NOUNS = (
    "楼道 过道 走廊 楼梯间 楼梯口 楼梯 电梯间 电梯口 大厅 天台 楼顶 屋顶 车库 地库 停车场 车棚 "
    "单元门口 小区门口 小区大门 后门 侧门 消防通道 绿化带 草坪 草丛 花坛 院子 广场 公园 健身区 "
    "游乐区 游乐场 篮球场 球场 河边 河道 湖边 桥下 天桥 人行道 马路边 路边摊 巷子 "
    "垃圾分类点 垃圾站 垃圾房 垃圾桶旁 菜市场 市场 工地 学校门口 幼儿园 小学 医院 商场 超市 "
    "菜鸟驿站 快递柜 快递点 公交站 地铁站 地铁口 KTV 饭店 餐馆 烧烤店 大排档"
).split()
_MODIFIERS = (
    "小区的? 单元 楼下的? 楼上的? 对面的? 隔壁的? 一楼的? 地下 公共 儿童 后面的? 前面的? 门口的? "
    "我家楼下的? 我们楼的? 我们小区的? 咱们小区的?"
).split()
_POSITIONS = "门口 旁边 边上 里面 里 上面 上(?![午班学周个次来去]) 下面 前面 后面 附近 对面 墙上 那边 这边 口".split()
_JUNCTION = re.compile(
    r"[\u4e00-\u9fa5]{1,6}(?:路|街|道)[与和跟同][\u4e00-\u9fa5]{1,6}(?:路|街|道)(?:交汇处|交叉口|交界处|路口|口)"
)


def _alternation(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_PLACE = re.compile(
    rf"(?:{_alternation(_MODIFIERS)})?(?:{_alternation(_NOUNS)})(?:{_alternation(_POSITIONS)})?"
)


_ESTATE_BEFORE = re.compile(
    r"[\u4e00-\u9fa5A-Za-z0-9]{1,6}?(?:花园|华庭|新村|小区|大厦|公寓|嘉园|山庄|家园|名苑|苑|园|村|庭|里|楼|城|府|湾)"
    r"(?:[一二三四五六七八九1-9]期|[A-Z东南西北]区)?$"
)
_POSITION_AFTER = re.compile(
    r"^(?:门口|楼下|楼梯间|楼梯|电梯间|电梯厅|走廊|旁边|后面|前面|对面|外面|里面|底下|边上|入口处|入口|出口|"
    r"东侧|西侧|南侧|北侧|之间|中间|地下室|架空层|楼顶|天台|平台)"
)
_BUILDING_END = re.compile(r"[0-9A-Za-z][\u4e00-\u9fa5]$")
_BUILDING_UNITS = set("栋楼号室层座幢期区门口单元巷弄街路排")


def refine(text: str, start: int, end: int) -> tuple[int, int]:
    """A tagged place's bounds, repaired where the tagger stops short or runs over.

    Left: an estate name just before a building ("龙珠苑" + "3栋门口"). Right: a position word
    just after ("篮球场" + "边上"). Over: a verb the tagger took after a number ("1902天天").
    """
    value = text[start:end]
    if _BUILDING_END.search(value) and value[-1] not in _BUILDING_UNITS:
        end -= 1
    if start > 0 and re.match(r"[0-9A-Za-z]|[一二三四五六七八九十]+[栋号期]", text[start:end]):
        m = _ESTATE_BEFORE.search(text[max(0, start - 8):start])
        if m:
            start -= len(m.group(0))
    m = _POSITION_AFTER.match(text[end:])
    if m:
        end += m.end()
    return start, end


def trim_admin(value: str) -> tuple[str, int]:
    """`value` without a leading district/street prefix, and how many characters were cut."""
    m = _ADMIN.match(value)
    if m and len(value) - m.end() >= 2:
        return value[m.end():], m.end()
    return value, 0


def common_place(text: str, taken: list[tuple[int, int]] = ()) -> tuple[str, int, int] | None:
    """The first shared place named in `text` outside the `taken` spans, as (value, start, end)."""
    for pattern in (_JUNCTION, _PLACE):
        for m in pattern.finditer(text):
            value = m.group(0)
            if value in GENERIC_PLACES or len(value) < 2:
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            value, cut = trim_admin(value)
            return value, m.start() + cut, m.end()
    return None
