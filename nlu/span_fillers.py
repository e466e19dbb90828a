"""Words that stand in for annotated spans when the span tagger's data is augmented.

Each annotated `item` / `location` example is copied with its span replaced by other
items / places, so the tagger learns the context ("借个__用用", "__门口的路灯") rather
than a short list of words. Places are composed from estate names, buildings, roads and
position words, the way residents write them.
"""
from __future__ import annotations

import random

ITEMS = (
    "梯子 人字梯 折叠梯 电钻 冲击钻 螺丝刀 扳手 老虎钳 锤子 卷尺 水平仪 打气筒 充气泵 手推车 小推车 "
    "折叠桌 折叠椅 塑料凳 婴儿车 婴儿床 学步车 儿童座椅 安全座椅 儿童自行车 滑板车 轮椅 助行器 拐杖 "
    "帐篷 睡袋 烧烤架 野餐垫 投影仪 音箱 麦克风 缝纫机 熨斗 挂烫机 吸尘器 电风扇 取暖器 除湿机 "
    "电饭煲 高压锅 烤箱 榨汁机 豆浆机 面包机 蒸锅 大铁锅 电磁炉 火锅 保温箱 冰柜 "
    "雨伞 雨衣 充电宝 数据线 插线板 延长线 台灯 手电筒 应急灯 望远镜 "
    "课本 数学课本 英语词典 绘本 童书 小说 复习资料 钢琴 电子琴 吉他 二胡 "
    "跳绳 羽毛球拍 篮球 足球 哑铃 瑜伽垫 自行车 头盔 "
    "纸箱 搬家箱 花盆 绿植 多肉 种子 青菜 西红柿 旧衣服 棉被 毛毯 窗帘 "
    "电脑 旧手机 平板 打印机 血压计 体温计 制氧机 雾化器 放大镜 老花镜 拖车绳 千斤顶 打孔器 梯凳"
).split()

ESTATES = (
    "华强花园 景田小区 梅林一村 福民新村 园岭新村 翠竹苑 金地花园 碧海湾 桃园居 东海花园 益田村 "
    "皇岗村 岗厦村 新田村 田面村 华富村 莲花二村 黄木岗小区 荔枝苑 丽阳花园 彩虹新都 水榭春天 "
    "阳光棕榈园 锦绣江南 幸福里 和平小区 光明新村 向阳小区 工人新村 建设小区 东方明珠城 南苑小区"
).split()
ROADS = "华富路 彩田路 红荔路 新洲路 百花二路 笋岗路 深南大道 滨河大道 人民路 解放路 建设路 中山路 文化路 东风路 学府路 民乐街".split()
BUILDINGS = ("3栋", "5号楼", "12栋", "7幢", "2单元", "B座", "15号楼", "1栋2单元", "8栋", "21号")
POSITIONS = ("门口", "楼下", "后面", "旁边", "东门", "北门", "对面", "后面的巷子", "地下车库", "楼道里", "门口的空地")
LANDMARKS = ("菜市场", "社区公园", "幼儿园", "小学", "公交站", "地铁站B口", "社康中心", "篮球场", "健身广场", "垃圾站", "快递柜")


# Estate and road names are composed from name characters and suffixes, so the tagger learns
# the shape of a name ("xx苑", "xx花园二期", "xx大道辅道") rather than a list of names.
_NAME_CHARS = (
    "龙凤华金银碧翠绿青康福安宁祥和瑞嘉富丽美新兴盛泰丰锦绣春秋雅景海湖江河山峰岭林松竹梅兰桂荔榕桃柳枫"
    "星月阳光明晨曦东南西北中天云鹏鸿德信仁文怡乐平顺喜庆宏达城港湾源泉溪田桥"
)
_ESTATE_SUFFIXES = (
    "苑 园 花园 华庭 新村 村 小区 大厦 公寓 嘉园 里 楼 山庄 家园 城 府 湾 名苑 雅居 豪庭 大院 花城 广场 新城 社区"
).split()
_PHASES = ("", "", "", "二期", "三期", "A区", "北区", "东区", "1期")
_ROAD_SUFFIXES = ("路", "路", "街", "大道", "一路", "二路", "东路", "大道辅道", "巷", "南路")
_MORE_POSITIONS = (
    "楼下", "楼梯间", "电梯间", "电梯里", "走廊", "架空层", "地下室", "停车场入口", "后门", "西门外面",
    "旁边那块空地", "后面那条巷子", "楼顶", "天台", "过道", "垃圾房门口", "边上", "底下", "一楼大厅", "消防通道",
)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_NAME_CHARS) for _ in range(rng.choice((2, 2, 2, 3))))


def _estate(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(ESTATES)
    return _name(rng) + rng.choice(_ESTATE_SUFFIXES) + rng.choice(_PHASES)


def _road(rng: random.Random) -> str:
    return rng.choice(ROADS) if rng.random() < 0.3 else _name(rng) + rng.choice(_ROAD_SUFFIXES)


def _building(rng: random.Random) -> str:
    n = rng.randrange(1, 40)
    kind = rng.randrange(6)
    if kind == 0:
        return f"{n}栋{rng.randrange(1, 6)}单元"
    if kind == 1:
        return f"{n}栋{rng.randrange(1, 33)}{rng.randrange(1, 10):02d}"
    if kind == 2:
        return rng.choice("ABCDE") + "座"
    return rng.choice(BUILDINGS) if kind == 3 else f"{n}" + rng.choice(("栋", "号楼", "幢", "座", "号"))


def _position(rng: random.Random) -> str:
    return rng.choice(POSITIONS) if rng.random() < 0.5 else rng.choice(_MORE_POSITIONS)


def place(rng: random.Random) -> str:
    kind = rng.randrange(8)
    estate, road = _estate(rng), _road(rng)
    if kind == 0:
        return estate + _building(rng) + _position(rng)
    if kind == 1:
        return estate + _building(rng)
    if kind == 2:
        other = _road(rng)
        return f"{road}和{other}交叉口" if rng.random() < 0.5 else f"{road}与{other}路口"
    if kind == 3:
        return f"{road}{rng.randrange(1, 300)}号" + (_position(rng) if rng.random() < 0.5 else "")
    if kind == 4:
        return estate + rng.choice(LANDMARKS) + ("旁边" if rng.random() < 0.5 else "")
    if kind == 5:
        return road + rng.choice(LANDMARKS)
    if kind == 6:
        return estate + _position(rng)
    return _building(rng) + _position(rng)


def filler(entity: str, rng: random.Random) -> str | None:
    if entity == "item":
        return rng.choice(ITEMS)
    if entity == "location":
        return place(rng)
    return None


def augment(texts, spans, copies: int = 2, seed: int = 13):
    """Copies of the examples that carry spans, each span replaced by a filler."""
    rng = random.Random(seed)
    out_texts, out_spans = [], []
    for text, ss in zip(texts, spans):
        ss = sorted((s for s in ss if filler(s[0], rng) is not None), key=lambda s: s[1])
        if not ss:
            continue
        for _ in range(copies):
            pieces, new_spans, cursor, offset = [], [], 0, 0
            for entity, start, end in ss:
                if start < cursor:
                    continue
                word = filler(entity, rng)
                pieces.append(text[cursor:start])
                new_start = start + offset
                pieces.append(word)
                new_spans.append((entity, new_start, new_start + len(word)))
                offset += len(word) - (end - start)
                cursor = end
            pieces.append(text[cursor:])
            out_texts.append("".join(pieces))
            out_spans.append(new_spans)
    return out_texts, out_spans
