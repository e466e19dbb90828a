"""Synonym groups for 共享社区 search: words residents use for the same kind of thing.

A search word that is, contains or is contained in a word of a group (two characters or more)
also searches every other word of that group, so "梯子" finds 人字梯 and 折叠梯 and "婴儿推车"
finds 婴儿车. Data only; `services.share_search.search_terms` uses it.
"""
from __future__ import annotations

GROUPS: list[tuple[str, ...]] = [
    ("梯子", "人字梯", "折叠梯", "伸缩梯", "铝合金梯", "爬梯", "登高梯", "工程梯", "家用梯"),
    ("电钻", "冲击钻", "手电钻", "电锤", "打孔机", "钻孔机"),
    ("婴儿车", "婴儿推车", "童车", "宝宝车", "手推车", "推车"),
    ("轮椅", "助行器", "拐杖", "助步器"),
    ("折叠桌", "桌子", "餐桌", "折叠桌椅", "小桌子"),
    ("椅子", "凳子", "折叠椅", "板凳", "小马扎", "马扎"),
    ("帐篷", "天幕", "露营装备"),
    ("打气筒", "充气泵", "气筒", "打气机"),
    ("工具箱", "螺丝刀", "扳手", "锤子", "钳子", "五金工具"),
    ("吸尘器", "除螨仪", "扫地机"),
    ("雨伞", "伞具", "遮阳伞"),
    ("行李箱", "拉杆箱", "旅行箱", "箱子"),
    ("图书", "绘本", "课本", "童书", "小说", "书籍"),
    ("玩具", "积木", "拼图", "乐高"),
    ("血压计", "电子血压计", "量血压"),
    ("体温计", "温度计", "额温枪"),
    ("插线板", "插排", "排插", "接线板", "拖线板"),
    ("充电宝", "移动电源"),
    ("缝纫机", "针线"),
    ("烤箱", "空气炸锅", "电烤箱"),
]

_INDEX: list[tuple[str, tuple[str, ...]]] = [(word, group) for group in GROUPS for word in group]


def related(word: str) -> list[str]:
    """The word and the other words of every group it belongs to (first the word itself)."""
    found = [word]
    if len(word) < 2:
        return found
    for term, group in _INDEX:
        if len(term) >= 2 and (term == word or term in word or word in term):
            found.extend(w for w in group if w not in found)
    return found
