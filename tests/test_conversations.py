"""Conversation tests (like Rasa's end-to-end test stories) from tests/conversations/*.yml.

Each conversation drives the real app through the REST webhook with the real NLU model and,
after every turn, checks what the turn did, never the reply wording:

- `intent`: the NLU intent recorded for the turn in `conversations` (a name or a list of names);
- `flow` / `step` / `paused`: the dialogue state in Redis after the turn (`null` = none;
  a list = any of these);
- `slots`: a subset of the flow's slots (`"~text"` = contains text, `null` = absent or None);
  `slots_not`: values a slot must not have.

At the end `records` names collections and the documents that must be in them (same matching;
`count:` for an exact number). Before the first turn `resident` sets profile fields, `elder: true`
turns elder mode on, `notices` stores unread notices for the resident (oldest first), `points`
credits the resident, and `catalog` / `full` / `shop` / `stations` seed data (see `seed`).
`seed` inserts documents before the first turn (collection -> documents, with the defaults of
`SEED_DEFAULTS`; "$me" is the conversation's resident id, "$today" / "$in2days" dates), e.g. a
neighbour's post to find or a borrow request to accept; `records` may use "$me" too.
A turn may pin the NLU answer (`nlu: {intent, confidence, ranking}`) to reach a branch whatever
the current model says; such turns say so in the conversation's `pinned` note.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import keys
from bot.text import normalize
from storage.residents import ResidentRepository

URL = "/webhooks/rest/webhook"
HERE = Path(__file__).parent / "conversations"
_ids = itertools.count(1)


def _load() -> list[Any]:
    params = []
    for path in sorted(HERE.glob("*.yml")):
        for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            marks = [pytest.mark.xfail(reason=conv["xfail"], strict=True)] if conv.get("xfail") else []
            params.append(pytest.param(conv, id=f"{path.stem}:{conv['name']}", marks=marks))
    return params


CONVERSATIONS = _load()


class PinnedNLU:
    """The real model, except for messages a conversation pins (to cover one branch)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.pinned: dict[str, dict[str, Any]] = {}

    @property
    def ready(self) -> bool:
        return self.real.ready

    async def parse(self, text: str) -> dict[str, Any]:
        pin = self.pinned.get(text)
        if pin is None:
            return await self.real.parse(text)
        return {"text": text, "intent": {"name": pin["intent"], "confidence": pin.get("confidence", 1.0)},
                "entities": pin.get("entities", []),
                "intent_ranking": [{"name": n, "confidence": c} for n, c in pin.get("ranking", [])]}


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and expected.startswith("~"):
        return isinstance(actual, str) and expected[1:] in actual
    if isinstance(expected, list) and not isinstance(actual, list):
        return any(matches(e, actual) for e in expected)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(matches(v, actual.get(k)) for k, v in expected.items())
    return expected == actual


def check(label: str, expected: Any, actual: Any) -> None:
    assert matches(expected, actual), f"{label}: expected {expected!r}, got {actual!r}"


async def _set_up(client, db, redis, conv: dict[str, Any], user_key: str) -> None:
    if conv.get("resident") or conv.get("notices") or conv.get("points"):
        repo = ResidentRepository(db)
        resident = await repo.for_user_key(user_key, client.app[keys.SETTINGS].default_community)
        if conv.get("resident"):
            await repo.update_profile(resident.id, **conv["resident"])
        if conv.get("points"):
            points = client.app[keys.POINTS]
            await points.award(staff_id="conv-test", resident_id=resident.id, points=int(conv["points"]),
                               reason="对话测试", key=f"conv:{user_key}")
        start = datetime.now(timezone.utc) - timedelta(hours=len(conv.get("notices") or []))
        for n, text in enumerate(conv.get("notices") or []):
            await db.notices.insert_one({"user_key": user_key, "resident_id": resident.id, "text": text,
                                         "ref": None, "created_at": start + timedelta(minutes=n), "read": False})
    if "elder" in conv:
        await redis.set(f"linli:elder:{user_key}", "on" if conv["elder"] else "off")


@pytest.mark.parametrize("conv", CONVERSATIONS)
async def test_conversation(conv, client, db, redis):
    chat = client.app[keys.CHAT]
    nlu = PinnedNLU(chat.nlu)
    chat.nlu = nlu
    sender = f"conv-{next(_ids)}"
    user_key = f"rest:{sender}"
    await seed(conv, db)
    await _set_up(client, db, redis, conv, user_key)
    me = (await ResidentRepository(db).for_user_key(user_key, client.app[keys.SETTINGS].default_community)).id
    await seed_documents(conv, db, me, client.app[keys.SETTINGS].default_community)
    for n, turn in enumerate(conv["turns"], start=1):
        if turn.get("resolve_report"):  # staff start and resolve the resident's latest report
            await _resolve_latest(client, db, user_key)
        if "nlu" in turn:
            nlu.pinned[normalize(turn["user"])] = turn["nlu"]
        resp = await client.post(URL, json={"sender": sender, "message": turn["user"]})
        assert resp.status == 200, await resp.text()
        assert await resp.json(), f"turn {n}: no reply to {turn['user']!r}"
        label = f"turn {n} ({turn['user']!r})"
        state = await chat.states.load(user_key)
        if "intent" in turn:
            logged = await db.conversations.find({"user_key": user_key}).sort("_id", -1).limit(1).to_list(1)
            check(f"{label} intent", turn["intent"], logged[0].get("intent") if logged else None)
        if "flow" in turn:
            check(f"{label} flow", turn["flow"], state.flow)
        if "step" in turn:
            check(f"{label} step", turn["step"], state.step)
        if "paused" in turn:
            check(f"{label} paused", turn["paused"], (state.paused or {}).get("flow"))
        for name, value in (turn.get("slots") or {}).items():
            check(f"{label} slot {name}", value, state.slots.get(name))
        for name, value in (turn.get("slots_not") or {}).items():
            assert state.slots.get(name) != value, f"{label} slot {name} must not be {value!r}"
    for collection, expected in _fill(conv.get("records") or {}, me).items():
        docs = await db[collection].find({}).to_list(None)
        if isinstance(expected, dict) and "count" in expected:
            query = expected.get("where") or {}
            found = [d for d in docs if matches(query, d)]
            assert len(found) == expected["count"], f"{collection}: {len(found)} matching {query!r}, docs: {docs!r}"
            continue
        for doc in expected:
            assert any(matches(doc, d) for d in docs), f"{collection}: no record like {doc!r} in {docs!r}"


async def _resolve_latest(client, db, user_key: str) -> None:
    from storage.reports import Actor

    resident = await db.residents.find_one({"user_keys": user_key})
    report = await db.reports.find({"resident_id": resident["_id"]}).sort("created_at", -1).limit(1).to_list(1)
    staff = Actor("staff", "conv-staff", "对话测试网格员")
    await client.app[keys.REPORTS].act(report[0]["_id"], "start", staff)
    await client.app[keys.REPORTS].act(report[0]["_id"], "resolve", staff, note="已处理")


async def seed(conv: dict[str, Any], db) -> None:
    """`catalog`: the demo booking catalogue and its slots; `full`: [{service, days, start}]
    slots made full (days from today, "HH:MM"); `shop`: the demo 积分超市; `stations`: the
    demo communities and stations."""
    if conv.get("catalog"):
        from storage.bookings import seed_catalog

        await seed_catalog(db)
    for full in conv.get("full") or []:
        from datetime import date, time as clock_time

        from storage.booking_catalog import TZ

        day = datetime.now(TZ).date() + timedelta(days=int(full["days"]))
        hour, minute = (int(p) for p in full["start"].split(":"))
        start = datetime.combine(date(day.year, day.month, day.day), clock_time(hour, minute), tzinfo=TZ)
        slot = await db.booking_slots.find_one({"service": full["service"], "start": start})
        assert slot is not None, f"no {full['service']} slot at {start}"
        await db.booking_slots.update_one({"_id": slot["_id"]}, {"$set": {"booked": slot["capacity"]}})
    if conv.get("shop") or conv.get("stations"):
        from bot.seed import seed_demo
        from storage.seed import COMMUNITIES

        await seed_demo(db)
        if conv.get("shop"):
            from services.points import seed_points

            await seed_points(db, [community for community, *_ in COMMUNITIES])
        if conv.get("stations"):
            from services.station_import import seed_demo_stations

            await seed_demo_stations(db)


SEED_DEFAULTS: dict[str, dict[str, Any]] = {
    "share_posts": {"kind": "item", "mode": "lend", "state": "available", "hidden": False, "reports": [],
                    "condition": "", "availability": "", "description": ""},
    "share_loans": {"kind": "item", "mode": "lend", "state": "requested", "start": "$today", "end": "$in2days",
                    "note": ""},
    "help_requests": {"state": "open", "hidden": False, "reports": [], "place": ""},
    "residents": {},
}


def _fill(value: Any, me: str) -> Any:
    """"$me" and the date placeholders in seeds and expected records."""
    if isinstance(value, dict):
        return {k: _fill(v, me) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, me) for v in value]
    if value == "$me":
        return me
    if value in ("$today", "$in2days"):
        from services.sharing import today

        return (today() + timedelta(days=2 if value == "$in2days" else 0)).isoformat()
    return value


async def seed_documents(conv: dict[str, Any], db, me: str, community: str) -> None:
    for collection, docs in (conv.get("seed") or {}).items():
        for n, doc in enumerate(docs):
            full = {**SEED_DEFAULTS.get(collection, {}), "community": community,
                    "created_at": datetime.now(timezone.utc) - timedelta(minutes=len(docs) - n), **doc}
            if collection == "residents":
                full.pop("created_at", None)
            await db[collection].insert_one(_fill(full, me))
