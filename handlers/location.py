"""A shared location or photo that no ongoing flow took.

Channels set the intent directly (`share_location`, `share_photo`) for location and
image messages; flows that want them (stations, reports) see them first.
"""
from __future__ import annotations

from handlers.messages import Reply
from handlers.base import Turn, registry


def _key(intent: str, default: str) -> str:
    """The main-menu number of a capability, as the menu currently shows it."""
    for item in registry.menu:
        if item.intent == intent:
            return item.key
    return default


def _where(turn: Turn) -> str:
    location = turn.message.location
    if location is None:
        return ""
    return f"（{location.label}）" if location.label else ""


@registry.on_intent("share_location")
async def share_location(turn: Turn) -> list[Reply]:
    stations, report = _key("find_station", "7"), _key("report_problem", "1")
    if turn.state.elder_mode:
        return [Reply(f"收到您的位置{_where(turn)}。找驿站回复 {stations}，报事报修回复 {report}。")]
    return [Reply(
        f"收到您发来的位置{_where(turn)}。\n"
        f"找附近的爱心驿站、能量栈，请回复 {stations} 附近驿站；\n"
        f"要反映这里的问题，请回复 {report} 报事报修。\n"
        "回复 0 看主菜单。"
    )]


@registry.on_intent("share_photo")
async def share_photo(turn: Turn) -> list[Reply]:
    report = _key("report_problem", "1")
    if turn.state.elder_mode:
        return [Reply(f"收到您的照片。要报事报修请回复 {report}。")]
    return [Reply(
        "收到您的照片。\n"
        f"如果是要反映问题，请回复 {report} 报事报修，再说说是什么问题、在哪里。\n"
        "回复 0 看主菜单。"
    )]
