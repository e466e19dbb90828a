"""Staff see and change only the records of their community (street admins: their
street; sysadmins: all), decided in one place: storage.scope.

HOOK for capability engineers: append a `ScopedPage` to `SCOPED_CONSOLE_PAGES` for every
console page that shows one record (e.g. the reports engineer:
    ScopedPage("reports", "/console/reports/{id}", make_report_doc)
where `make_report_doc(record_id, community) -> dict` builds a minimal stored record).
Every page is then checked for every role: out of scope -> 403/404, in scope -> 200.
Likewise append to `SCOPED_API_PAGES` for mini-program routes that show one record: a
resident must get 404 for another resident's record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from storage.scope import OutOfScope, Scoped, in_scope, scoped, staff_scope
from storage.staff import Staff
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, console_login, fake_mp, fast_argon2, login, make_staff, seed_places,
)

A, B, OTHER = "huafu-tianmian", "huafu-xintian", "xiangmihu-zhuyuan"
HUAFU = ["huafu-huafu", "huafu-huaxin", "huafu-lianhua1", "huafu-lianhua2", "huafu-tianbei", "huafu-tianmian",
         "huafu-xintian", "huafu-yinhe"]


def _rec_id(community: str) -> str:
    return f"rec-{community}"


@dataclass(frozen=True)
class ScopedPage:
    collection: str
    url: str  # "{id}" is replaced by the record id
    make_doc: Callable[[str, str], dict[str, Any]]  # (record id, community) -> stored document
    record_id: Callable[[str], str] = _rec_id  # community -> id of the test record stored there


def _resident_doc(record_id: str, community: str) -> dict[str, Any]:
    return {"_id": record_id, "user_keys": [f"test:{record_id}"], "community": community, "phone": "13812341234"}


_TICKETS = {A: "R20260101-0001", B: "R20260101-0002", OTHER: "R20260101-0003"}


def _report_doc(ticket: str, community: str, resident_id: str = "res-somebody") -> dict[str, Any]:
    """A stored ticket as services/reports.py writes it."""
    now = datetime.now(timezone.utc)
    return {
        "_id": ticket, "resident_id": resident_id, "channel": "rest", "community": community,
        "category": "streetlight", "department": "社区网格站", "level": "community",
        "location_text": "3栋门口", "location_key": "3栋门口", "description": "路灯不亮",
        "photos": [], "status": "submitted",
        "history": [{"action": "submit", "status": "submitted", "at": now,
                     "actor": {"kind": "resident", "id": resident_id, "name": None}}],
        "created_at": now, "updated_at": now, "sla_hours": 72, "due_at": now + timedelta(hours=72),
        "overdue": False, "followers": [], "rating": None, "source": "chat",
    }


SCOPED_CONSOLE_PAGES: list[ScopedPage] = [
    ScopedPage("residents", "/console/residents/{id}", _resident_doc),
    ScopedPage("reports", "/console/reports/{id}", _report_doc, _TICKETS.__getitem__),
]
# (collection, url with {id}, make_doc(record_id, resident_id, community)) for /api/v1 routes.
SCOPED_API_PAGES: list[tuple[str, str, Callable[[str, str, str], dict[str, Any]]]] = [
    ("reports", "/api/v1/reports/{id}", lambda ticket, resident_id, community:
        _report_doc(ticket, community, resident_id)),
]

STAFF = {
    "grid-a": ("grid_worker", A, None),
    "admin-a": ("community_admin", A, None),
    "street": ("street_admin", None, "huafu"),
    "root": ("sysadmin", None, None),
}
# who may open a record of which community
VISIBLE = {
    "grid-a": {A},
    "admin-a": {A},
    "street": {A, B},
    "root": {A, B, OTHER},
}


def staff(role: str, community: str | None = None, street: str | None = None) -> Staff:
    return Staff("s", "u", "n", role, community, street)


async def test_staff_scope_per_role(db):
    await seed_places(db)
    assert await staff_scope(db, staff("grid_worker", A)) == {"community": A}
    assert await staff_scope(db, staff("community_admin", B)) == {"community": B}
    assert await staff_scope(db, staff("street_admin", street="huafu")) == {"community": {"$in": HUAFU}}
    assert await staff_scope(db, staff("sysadmin")) == {}
    # a broken binding sees nothing rather than everything
    assert await staff_scope(db, staff("grid_worker")) == {"community": {"$in": []}}
    assert await staff_scope(db, staff("street_admin")) == {"community": {"$in": []}}
    assert await staff_scope(db, staff("unknown_role", A)) == {"community": {"$in": []}}


def test_in_scope_and_scoped():
    assert in_scope({}, A) and in_scope({}, None)
    assert in_scope({"community": A}, A) and not in_scope({"community": A}, B)
    assert in_scope({"community": {"$in": [A, B]}}, B) and not in_scope({"community": {"$in": [A]}}, OTHER)
    assert not in_scope({"community": A}, None) and not in_scope({"other": A}, A)
    assert scoped({}, {"community": A}) == {"community": A}
    assert scoped({"status": "open"}, {}) == {"status": "open"}
    # the scope is never overridden by a query on the same field
    assert scoped({"community": B}, {"community": A}) == {"$and": [{"community": B}, {"community": A}]}


async def test_scoped_collection_reads_and_writes_only_its_scope(db):
    await seed_places(db)
    await db.things.insert_many([{"_id": "a", "community": A}, {"_id": "b", "community": B},
                                 {"_id": "o", "community": OTHER}, {"_id": "n"}])
    grid = await Scoped.for_staff(db, staff("grid_worker", A), "things")
    assert [d["_id"] async for d in grid.find({})] == ["a"]
    assert await grid.find_one({"_id": "b"}) is None
    assert await grid.find_one({"community": B}) is None
    assert await grid.count_documents({}) == 1
    assert (await grid.update_one({"_id": "b"}, {"$set": {"x": 1}})).matched_count == 0
    assert (await grid.delete_one({"_id": "b"})).deleted_count == 0
    with pytest.raises(OutOfScope):
        await grid.insert_one({"_id": "new", "community": B})
    with pytest.raises(OutOfScope):
        await grid.update_one({"_id": "a"}, {"$set": {"community": B}})
    street = await Scoped.for_staff(db, staff("street_admin", street="huafu"), "things")
    assert sorted([d["_id"] async for d in street.find({})]) == ["a", "b"]
    root = await Scoped.for_staff(db, staff("sysadmin"), "things")
    assert await root.count_documents({}) == 4


@pytest.mark.parametrize("page", SCOPED_CONSOLE_PAGES, ids=lambda p: p.collection)
@pytest.mark.parametrize("username", list(STAFF))
async def test_console_pages_show_only_records_in_scope(make_client, db, page, username):
    await seed_places(db)
    role, community, street = STAFF[username]
    await make_staff(db, username, role, community, street)
    for record_community in (A, B, OTHER):
        await db[page.collection].insert_one(page.make_doc(page.record_id(record_community), record_community))
    client = await make_client()
    await console_login(client, username)
    for record_community in (A, B, OTHER):
        resp = await client.get(page.url.format(id=page.record_id(record_community)))
        if record_community in VISIBLE[username]:
            assert resp.status == 200, (username, record_community)
        else:
            assert resp.status in (403, 404), (username, record_community)


async def test_changes_outside_the_scope_are_refused(make_client, db):
    """A community admin of A cannot change a resident of B through the console."""
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    await db.residents.insert_many([_resident_doc("ra", A), _resident_doc("rb", B)])
    client = await make_client()
    csrf = await console_login(client, "admin-a")
    refused = await client.post("/console/residents/rb", data={"phone": "13900000000", "_csrf": csrf})
    assert refused.status == 404
    assert (await db.residents.find_one({"_id": "rb"}))["phone"] == "13812341234"
    assert await db.audit.count_documents({"action": "resident.update"}) == 0
    ok = await client.post("/console/residents/ra", data={"phone": "13900000000", "_csrf": csrf}, allow_redirects=False)
    assert ok.status == 302 and (await db.residents.find_one({"_id": "ra"}))["phone"] == "13900000000"


@pytest.mark.parametrize("collection,url,make_doc", SCOPED_API_PAGES)
async def test_api_records_of_others_are_not_found(api, fake_mp, db, collection, url, make_doc):
    mine, theirs = await login(api, fake_mp, "me"), await login(api, fake_mp, "neighbour")
    neighbour = await db.residents.find_one({"user_keys": "mp:neighbour"})
    record_id = _TICKETS[B] if collection == "reports" else "rec-theirs"
    await db[collection].insert_one(make_doc(record_id, neighbour["_id"], B))
    resp = await api.get(url.format(id=record_id), headers=bearer(mine))
    assert resp.status in (403, 404)
    assert (await api.get(url.format(id=record_id), headers=bearer(theirs))).status == 200
