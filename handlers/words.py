"""The product-wide vocabulary every flow reads answers with (one place, one meaning).

- `plain(text)`: the text without spaces and punctuation, lower-case (what the word lists match).
- `number_of(text)`: a numbered pick typed or spoken: "2", "二", "贰", "第二个", "选2", "十二", "2号".
- `kind_of(text)`: one of YES, NO, BACK, SKIP, CANCEL, REPEAT, HUMAN, HOME for a short answer
  that is only that word ("好滴" -> YES, "算了" -> CANCEL, "再说一遍" -> REPEAT), else None.
- `correction(text)`: a correction in free words ("不对不对，我说错了，是华富路21号",
  "地址错了，应该是田面村15栋", "时间改成下午四点半", "换成后天"): the slot word the resident
  named (地址, 时间 ...) if any, and the new value's words after the last marker.
- `follow_up(text)`: "那洗衣皂呢" / "后天的呢" as a correction of the last answer (no marker).

Flows map the slot words to their own slots (`handlers.flow_spec.Slot.words`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

YES, NO, BACK, SKIP, CANCEL, REPEAT, HUMAN, HOME = "yes", "no", "back", "skip", "cancel", "repeat", "human", "home"

_PUNCT = re.compile(r"[\s\W_]+")

_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "幺": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4,
           "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_TENS = {"十", "拾"}
_NUMERAL = "零〇一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖十拾"
_PICK = re.compile(
    rf"^(?:我选|选择|选|我要|要|就|是|第|按|就选|那就|那个|那|看看|看下)*第?(\d{{1,2}}|[{_NUMERAL}]{{1,3}})"
    r"(?:个|号|项|条|种|吧|啊|呀|哈|的|呢|怎么样|行吗|可以吗|个吧|号吧)*$"
)

# Whole answers (after `plain`) per kind. Longer phrases are matched as prefixes below.
_WORDS: dict[str, set[str]] = {
    YES: {"对", "是", "是的", "对的", "对啊", "对呀", "是啊", "是呀", "确认", "确定", "好", "好的", "好啊", "好滴",
          "好嘞", "好吧", "嗯", "嗯嗯", "恩", "ok", "okay", "没错", "对了", "正确", "提交", "确认提交", "可以",
          "行", "行的", "没问题", "要", "要的", "需要", "继续", "接着", "接着来", "继续吧", "对的提交", "yes", "y",
          "中", "成", "妥", "就这样", "就这样吧", "同意"},
    NO: {"不", "不是", "不对", "不对的", "不是的", "不正确", "不行", "有错", "错了", "否", "no", "n", "不要",
         "不用", "不需要", "不继续", "没有", "不好", "不同意"},
    BACK: {"上一步", "返回上一步", "返回", "后退", "回去", "退回", "返回修改", "修改", "改一下", "重填", "重新填",
           "退一步"},
    SKIP: {"跳过", "略过", "不知道", "不清楚", "不确定", "没有", "无", "没", "不用填", "没有照片", "跳", "下一步",
           "说不清", "说不清楚", "不晓得", "不记得"},
    CANCEL: {"取消", "算了", "不报了", "不用报了", "不要了", "退出", "结束", "不弄了", "不办了", "不约了", "不借了",
             "不用了", "算了吧", "不搞了", "放弃", "不想弄了", "先不弄了", "先不用了", "取消吧"},
    REPEAT: {"再说一遍", "再说一次", "重复", "重复一遍", "没听清", "没听清楚", "没看清", "再讲一遍", "再讲一次",
             "什么", "啥", "你说什么", "刚才说什么", "请再说一遍", "再来一遍", "重说"},
    HUMAN: {"人工", "找人工", "转人工", "人工客服", "真人", "客服", "找客服", "工作人员", "人工服务"},
    HOME: {"主菜单", "返回主菜单", "菜单", "首页", "回到主菜单"},
}
# Phrases that start an answer of that kind ("算了不报了吧", "取消这个").
_PREFIXES: list[tuple[str, str]] = [
    (CANCEL, "算了"), (CANCEL, "不报了"), (CANCEL, "取消"), (CANCEL, "不用报"), (REPEAT, "再说一"),
    (REPEAT, "再讲一"), (HUMAN, "找人工"), (HUMAN, "转人工"),
]

_CORRECTION = re.compile(
    r"不对不对|不对|说错了|写错了|搞错了|弄错了|错了|有误|改成|改为|改到|应该是|应该在|换成|换到|不是这个|其实是|重新说"
)
_FILLERS = re.compile(r"^(?:是|在|就是|其实是|应该是|那个|嗯|呃|啊|哦|等下|等一下|我说|了)+")
_SLOT_WORD = re.compile(
    r"(地点|位置|地址|地方|类别|类型|分类|种类|描述|情况|内容|时间|日期|几点|照片|图片|电话|手机号|号码|服务|项目|天数|数量)"
)


def plain(text: str | None) -> str:
    return _PUNCT.sub("", text or "").lower()


def _numeral(raw: str) -> int | None:
    if raw.isdigit():
        return int(raw)
    if any(ch not in _DIGITS and ch not in _TENS for ch in raw):
        return None
    if not any(ch in _TENS for ch in raw):
        return _DIGITS[raw] if len(raw) == 1 else None
    head, _, tail = raw.partition(next(ch for ch in raw if ch in _TENS))
    tens = _DIGITS.get(head, -1) if head else 1
    ones = _DIGITS.get(tail, -1) if tail else 0
    return None if tens < 0 or ones < 0 or len(head) > 1 or len(tail) > 1 else tens * 10 + ones


def number_of(text: str | None) -> int | None:
    """The number picked in a short answer, or None when the answer is not a pick."""
    match = _PICK.match(plain(text))
    return _numeral(match.group(1)) if match else None


def kind_of(text: str | None) -> str | None:
    """What a short answer means in the product vocabulary, or None."""
    words = plain(text)
    if not words:
        return None
    trimmed = re.sub(r"(?:吧|啊|呀|哈|啦|了|哦|嘛)+$", "", words) or words
    for candidate in (words, trimmed):
        for kind, vocabulary in _WORDS.items():
            if candidate in vocabulary:
                return kind
    if len(words) <= 8:
        for kind, prefix in _PREFIXES:
            if words.startswith(prefix):
                return kind
    return None


def is_(kind: str, text: str | None) -> bool:
    return kind_of(text) == kind


@dataclass(frozen=True)
class Correction:
    """A correction in free words: the slot word named (if any) and the new value's words."""

    slot_word: str | None
    value_text: str

    @property
    def bare(self) -> bool:
        """Only "不对" / "说错了": nothing says what or to what."""
        return self.slot_word is None and not self.value_text


def correction(text: str | None) -> Correction | None:
    """A correction marker in `text`, or None. The value is what follows the last marker."""
    raw = text or ""
    markers = list(_CORRECTION.finditer(raw))
    if not markers:
        return None
    last = markers[-1]
    before, after = raw[: last.start()], raw[last.end():]
    named = _SLOT_WORD.findall(before) or _SLOT_WORD.findall(after[:4])
    value = re.sub(r"^[\s\W_]+|[\s\W_]+$", "", after)
    value = _SLOT_WORD.sub("", value, count=1) if value[:4] and _SLOT_WORD.match(value) else value
    value = _FILLERS.sub("", re.sub(r"^[\s\W_]+", "", value))
    return Correction(named[-1] if named else None, value.strip())


_FOLLOW_UP = re.compile(r"^(?:那|那么|那个|还有|换成|换)?(.{1,12}?)(?:的)?(?:呢|怎么样|行吗|可以吗|有吗|有没有)$")


def follow_up(text: str | None) -> Correction | None:
    """A follow-up on the last question or list ("那洗衣皂呢", "后天的呢", "第二个呢"),
    as a correction without a marker: the new value's words, no slot named."""
    said = plain(text)
    match = _FOLLOW_UP.match(said)
    if not match or not (said.startswith("那") or said.endswith("呢")):
        return None
    value = match.group(1)
    named = _SLOT_WORD.findall(value)
    value = _SLOT_WORD.sub("", value, count=1) if named and value.startswith(named[0]) else value
    return Correction(named[0] if named else None, value) if value else None


def yes_no(text: str | None, yes_key: int | None = 1, no_key: int | None = 2) -> bool | None:
    """True for a yes (1, 对, 好滴), False for a no (2, 不对, 不要), else None."""
    number = number_of(text)
    if number is not None:
        return True if number == yes_key else False if number == no_key else None
    kind = kind_of(text)
    return True if kind == YES else False if kind in (NO, BACK) else None
