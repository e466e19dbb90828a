"""Numbered choices of a flow's question: the `Choice` type, the screens they are shown on
(paged, at most 8 a screen) and which choices a resident's words pick."""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from handlers import words

# A screen of numbered choices: 9 and 0 stay 找人工 / 主菜单, so 8 options, or 7 and "8 下一页".
SCREEN, PAGED_SCREEN, MORE_KEY = 8, 7, 8


@dataclass(frozen=True)
class Choice:
    value: Any
    title: str
    words: tuple[str, ...] = ()


def screen_of(choices: list[Choice], page: int) -> tuple[list[tuple[int, Choice]], str | None]:
    """The choices shown on `page` with their numbers, and the title of key 8 when paged."""
    if len(choices) <= SCREEN:
        return list(enumerate(choices, start=1)), None
    pages = (len(choices) + PAGED_SCREEN - 1) // PAGED_SCREEN
    page %= pages
    shown = choices[page * PAGED_SCREEN:(page + 1) * PAGED_SCREEN]
    return list(enumerate(shown, start=1)), ("回到第一页" if page == pages - 1 else "下一页")


def _similarity(text: str, choice: Choice) -> float:
    best = 0.0
    for candidate in (choice.title, *choice.words):
        cand = words.plain(candidate)
        if not cand:
            continue
        if text == cand:
            return 1.0
        if len(cand) >= 2 and cand in text or len(text) >= 2 and text in cand:
            best = max(best, 0.9)
        else:
            best = max(best, SequenceMatcher(None, text, cand).ratio())
    return best


def match_choices(text: str, choices: list[Choice]) -> list[Choice]:
    """The choices the words pick: one, several equally good (ask which), or none."""
    said = words.plain(text)
    if not said:
        return []
    scored = [(_similarity(said, c), i) for i, c in enumerate(choices)]
    top = max((s for s, _ in scored), default=0.0)
    if top < 0.6:
        return []
    return [choices[i] for s, i in scored if s == top]
