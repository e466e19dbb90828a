"""What a resident looks for in 共享社区: the thing named in a message ("谁家有梯子借我用一下吗"
-> 梯子), and the words to search for it by meaning (its jieba words and their synonyms,
services/share_synonyms.py)."""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from services.share_synonyms import related

# Words around what someone looks for: "谁家有梯子借我用一下吗" -> "梯子".
_QUERY_NOISE = re.compile(
    r"谁家有|谁家|谁有|有谁|有没有人|有没有|有人|哪家|哪位|邻居们?|请问|麻烦|帮忙|我想借|想借|借我|借给我|借用|"
    r"借一下|用一下|用用|一下|我想要|我想|想要|需要|我要|要|找|借|能不能|能|可以|的|吗|呢|啊|呀|吧|我|"
    r"[一两几]?(?:个|把|台|辆|张|套|件|只|部|副|本)"
)
_PUNCT = re.compile(r"[\s\W_]+")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


# What follows these is the purpose, not the thing: "想借来换个灯泡" -> "".
_PURPOSE = re.compile(r"(?:想借来|借来|拿来|用来|想用来|准备|打算|要去|去换|来换|换个|修一下|装一下).*$")
_STOP = {"有", "的", "啊", "吗", "呢", "想", "借", "个", "把", "台", "我", "家", "一下", "用", "平时", "谁家", "有没有"}


def search_words(text: str) -> list[str]:
    """What a resident is looking for, without the words around it (or the purpose after it)."""
    parts = [p for p in _PUNCT.split(_QUERY_NOISE.sub(" ", _PURPOSE.sub("", text or "") or text or "")) if p]
    return parts[:3]


def search_terms(text: str) -> list[str]:
    """Search by meaning: the jieba words of what is looked for, each with its synonyms
    (services.share_synonyms): "谁家有梯子" -> 梯子, 人字梯, 折叠梯 ..."""
    terms: list[str] = []
    for word in search_words(text):
        tokens = [t for t in _jieba().lcut(word) if t.strip() and t not in _STOP and not _PUNCT.fullmatch(t)]
        for candidate in [word, *tokens]:
            for term in related(candidate):
                if term not in terms and (len(term) >= 2 or term == word):
                    terms.append(term)
    return terms[:24]
