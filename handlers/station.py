"""附近驿站 (find_station): the nearest open 爱心驿站 / 能量栈 with what the person needs.

"附近哪有能充电的驿站" with a location (a WeChat location message, or the location
WeChat reported in the last minutes) answers at once: the 3 nearest stations open now
with that amenity, distance and a walking hint. Without one, flow "station" asks where:

    where -> results (-> details of one, or -> courier registration -> confirm)

- where: a location message, a place name matched against station names and addresses
  ("华富路", "莲花一村"), or a community's number from the list (digits only);
- results: 1-3 show a station's address, phone and hours; a new location, place or
  need searches again; 5 registers a courier (快递外卖小哥) for service points, after
  reading it back (1 对 / 2 不对).
"""
from __future__ import annotations

import re

from handlers.messages import Reply
from handlers.base import MENU_SELECT, Turn, registry
from handlers.elder import choice_number, reprompt, understood, yes_no
from services.opening_hours import format_hours
from services.stations import DEFAULT_RADIUS_M, Nearby, StationService, clean_place
from storage.stations import AMENITIES

registry.add_menu_item("7", "附近驿站", "find_station", "快递外卖小哥找爱心驿站、能量栈", wechat_key="MENU_STATION")
FLOW = "station"
COURIER_KEY = 5
AMENITY_PHRASE = {
    "charging": "能充电的", "water": "能喝水的", "rest": "能歇脚的", "toilet": "有厕所的",
    "microwave": "能热饭的", "medicine": "有应急药品的", "raincoat": "有雨衣的",
}
_PLACE_SUFFIX = re.compile(r"(?:路|街|道|巷|村|社区|小区|花园|苑|大厦|广场|公园|站|口|门|栋|号|楼|园|城|中心|医院|学校|市场)$")


def _stations(turn: Turn) -> StationService:
    return turn.services.stations


def _amenities(turn: Turn) -> list[str]:
    """Every amenity the message asks for (the NLU gives one `amenity` entity per code):
    "有没有能充电又有厕所的" -> charging and toilet."""
    if turn.intent == MENU_SELECT:
        return []
    found: list[str] = []
    for ent in turn.entities:
        if ent.get("entity") == "amenity" and ent.get("value") in AMENITIES and ent["value"] not in found:
            found.append(ent["value"])
    return found


def _set_amenities(turn: Turn, amenities: list[str]) -> None:
    turn.state.slots.update(amenity=amenities[0] if amenities else None, amenities=amenities)


def _number(turn: Turn) -> int | None:
    if turn.intent == MENU_SELECT:
        return int(turn.text)
    return choice_number(turn.text)


def _looks_like_place(text: str) -> bool:
    place = clean_place(text)
    return 2 <= len(place) <= 15 and bool(_PLACE_SUFFIX.search(place))


def _leaves_flow(turn: Turn) -> bool:
    """Confidently meant for another capability (and not a place name)."""
    others = set(registry.titles) - {"find_station"}
    return turn.intent in others and turn.confidence >= 0.8 and not _looks_like_place(turn.text)


async def _recent_wechat_location(turn: Turn) -> tuple[float, float, str | None] | None:
    """The location WeChat reported for this user in the last minutes (location events)."""
    locations = turn.services.locations
    if turn.message.channel != "wechat" or locations is None:
        return None
    recent = await locations.recent(turn.message.sender)
    return (recent.latitude, recent.longitude, recent.label) if recent else None


async def _communities(turn: Turn) -> list[dict[str, str]]:
    """The numbered community list of the where-question (9 and 0 stay global keys)."""
    residents = turn.services.residents
    listed = await residents.listed_communities(16) if residents is not None else []
    numbers = [n for n in range(1, 20) if n != 9]
    return [{"key": str(n), "id": cid, "name": name} for n, (cid, name) in zip(numbers, listed)]


async def _ask_where(turn: Turn) -> list[Reply]:
    communities = await _communities(turn)
    turn.state.step = "where"
    turn.state.slots["choices"] = {c["key"]: c["id"] for c in communities}
    return [turn.say("station_where", communities=communities, phrase=_phrase(turn))]


def _wanted(turn: Turn) -> list[str]:
    slots = turn.state.slots
    return list(slots.get("amenities") or ([slots["amenity"]] if slots.get("amenity") else []))


def _phrase(turn: Turn) -> str:
    """能充电、有厕所的: every amenity asked for."""
    phrases = [AMENITY_PHRASE[a][:-1] for a in _wanted(turn) if a in AMENITY_PHRASE]
    return f"{'、'.join(phrases)}的" if phrases else ""


async def _offer_courier(turn: Turn) -> bool:
    if turn.state.elder_mode or turn.services.residents is None:
        return False
    resident = await turn.services.residents.find(turn.message.user_key)
    stations = _stations(turn)
    return stations.takes_couriers and not (resident and await stations.is_courier(resident.id))


async def _search(turn: Turn, latitude: float, longitude: float, label: str | None) -> list[Reply]:
    slots = turn.state.slots
    found: Nearby = await _stations(turn).nearby(latitude, longitude, amenities=_wanted(turn))
    turn.state.step = "results"
    slots.update(lat=latitude, lng=longitude, label=label, results=[h.station.id for h in found.hits])
    understood(turn)
    radius = f"{DEFAULT_RADIUS_M // 1000}公里" if DEFAULT_RADIUS_M >= 1000 else f"{DEFAULT_RADIUS_M}米"
    if not found.hits:
        return [turn.say("station_none", reason=found.reason, closed=found.closed_nearest, phrase=_phrase(turn),
                         radius=radius, where=label, amenity=slots.get("amenity"))]
    offer = await _offer_courier(turn)
    slots["courier_offer"] = offer
    return [turn.say("station_results", hits=found.hits, phrase=_phrase(turn), where=label, offer_courier=offer,
                     courier_key=COURIER_KEY)]


async def _search_place(turn: Turn, text: str) -> list[Reply] | None:
    station = await _stations(turn).place(text)
    if station is None:
        return None
    return await _search(turn, station.latitude, station.longitude, clean_place(text))


# "附近哪有能充电的驿站", "能量栈在哪": unambiguous, so answered whatever the model says.
_STATION_QUESTION = re.compile(r"(?:哪|附近|最近|找|去).{0,12}(?:驿站|能量栈)|(?:驿站|能量栈).{0,4}(?:在哪|哪里|怎么走)")


@registry.before_turn
async def station_question(turn: Turn) -> None:
    if (turn.intent not in (MENU_SELECT, "find_station") and turn.state.flow is None
            and len(turn.text) <= 30 and _STATION_QUESTION.search(turn.text)):
        turn.intent, turn.confidence = "find_station", 1.0


@registry.on_intent("find_station")
async def find_station(turn: Turn) -> list[Reply]:
    turn.state.start(FLOW, "where")
    _set_amenities(turn, _amenities(turn))
    location = turn.message.location
    if location is not None:
        return await _search(turn, location.latitude, location.longitude, location.label)
    recent = await _recent_wechat_location(turn)
    if recent is not None:
        return await _search(turn, *recent)
    place = turn.entity("location")
    if place:
        replies = await _search_place(turn, str(place))
        if replies is not None:
            return replies
    return await _ask_where(turn)


@registry.on_flow(FLOW)
async def station_flow(turn: Turn) -> list[Reply] | None:
    state = turn.state
    location = turn.message.location
    if turn.message.kind == "location" and location is not None:
        return await _search(turn, location.latitude, location.longitude, location.label)
    if state.step == "where":
        return await _where(turn)
    if state.step == "results":
        return await _results(turn)
    if state.step == "courier":
        return await _courier(turn)
    state.end()
    return None


async def _where(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    number = _number(turn)
    if number is not None:
        community = slots.get("choices", {}).get(str(number))
        anchor = await _stations(turn).community_anchor(community) if community else None
        if anchor is None:
            return reprompt(turn, "station_where_again", choice=str(number))
        names = {c["id"]: c["name"] for c in await _communities(turn)}
        return await _search(turn, anchor.latitude, anchor.longitude, names.get(community))
    amenities = _amenities(turn)
    if amenities:
        _set_amenities(turn, amenities)
    place = turn.entity("location") or turn.text
    replies = await _search_place(turn, str(place))
    if replies is not None:
        return replies
    if amenities or turn.intent == "find_station":
        understood(turn)
        return await _ask_where(turn)
    if _leaves_flow(turn):
        return None
    if _looks_like_place(turn.text):
        return reprompt(turn, "station_where_again", place=clean_place(turn.text))
    return reprompt(turn, "station_where_again")


async def _results(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    number = _number(turn)
    results: list[str] = slots.get("results") or []
    if number is not None:
        if 1 <= number <= len(results):
            return await _detail(turn, results[number - 1])
        if number == COURIER_KEY and slots.get("courier_offer"):
            turn.state.step = "courier"
            return [turn.say("station_courier_confirm")]
        return reprompt(turn, "station_results_again", count=len(results))
    amenities = _amenities(turn)
    if amenities and slots.get("lat") is not None:
        _set_amenities(turn, amenities)
        return await _search(turn, slots["lat"], slots["lng"], slots.get("label"))
    replies = await _search_place(turn, str(turn.entity("location") or turn.text))
    if replies is not None:
        return replies
    if turn.intent == "find_station":
        return await _ask_where(turn)
    return None


async def _detail(turn: Turn, station_id: str) -> list[Reply]:
    service = _stations(turn)
    station = await service.station(station_id)
    if station is None or not station.active:
        return [turn.say("station_gone")]
    understood(turn)
    slots = turn.state.slots
    hit = service.hit(station, slots["lat"], slots["lng"], service.now())
    return [turn.say("station_detail", hit=hit, s=station, hours=format_hours(station.hours),
                     amenities="、".join(station.amenity_names), count=len(slots.get("results") or []))]


async def _courier(turn: Turn) -> list[Reply]:
    answer = yes_no(turn)
    if answer is None:
        return reprompt(turn, "station_courier_again")
    understood(turn)
    slots = turn.state.slots
    if answer is False:  # back one step: the results
        return await _search(turn, slots["lat"], slots["lng"], slots.get("label"))
    resident = await turn.services.residents.me(turn.message.user_key)
    await _stations(turn).register_courier(resident.id, resident.community)
    turn.state.end()
    report_key = next((item.key for item in registry.menu if item.intent == "report_problem"), "1")
    return [turn.say("station_courier_done", report_key=report_key)]

