"""Contract of ResidentRepository, NoticeRepository, CommunityRepository's chat reads and
ElderPreferences: the real ones and the fakes agree."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import DuplicateKeyError

from storage.communities import CommunityRepository
from storage.elder_prefs import ElderPreferences
from storage.notices import NoticeRepository
from storage.residents import ResidentRepository
from tests.contract import repository
from tests.fakes.people import (FakeCommunityRepository, FakeElderPreferences, FakeNoticeRepository,
                                FakeResidentRepository)

pytestmark = pytest.mark.contract

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)


residents = repository(ResidentRepository, FakeResidentRepository)
notices = repository(NoticeRepository, FakeNoticeRepository)


async def test_one_resident_per_channel_identity(residents):
    first = await residents.for_user_key("wechat:o1", "c1")
    again = await residents.for_user_key("wechat:o1", "c2")
    assert again.id == first.id and again.community == "c1" and again.user_keys == ["wechat:o1"]
    assert (await residents.find_by_user_key("wechat:o1")).id == first.id
    assert await residents.find_by_user_key("wechat:nobody") is None
    assert (await residents.get(first.id)).created_at is not None
    assert await residents.get("no-such-resident") is None


async def test_concurrent_first_messages_make_one_resident(residents):
    made = await asyncio.gather(*(residents.for_user_key("rest:u1", "c1") for _ in range(8)))
    assert len({r.id for r in made}) == 1


async def test_linked_identities_stay_unique(residents):
    alice = await residents.for_user_key("rest:alice", "c1")
    bob = await residents.for_user_key("rest:bob", "c1")
    await residents.link_user_key(alice.id, "mp:alice")
    await residents.link_user_key(alice.id, "mp:alice")
    assert (await residents.get(alice.id)).user_keys == ["rest:alice", "mp:alice"]
    assert (await residents.find_by_user_key("mp:alice")).id == alice.id
    with pytest.raises(DuplicateKeyError):
        await residents.link_user_key(bob.id, "mp:alice")


async def test_profile_changes_and_removals(residents):
    rid = (await residents.for_user_key("rest:u1", "c1")).id
    changed = await residents.update_profile(rid, name="王阿姨", birth_year=1950, disability=True, user_keys=["x"])
    assert (changed.name, changed.birth_year, changed.disability, changed.user_keys) == (
        "王阿姨", 1950, True, ["rest:u1"])
    removed = await residents.update_profile(rid, name=None, community=None)
    assert removed.name is None and removed.community == "c1"
    assert "name" not in await residents.document(rid)
    assert (await residents.update_profile(rid)).birth_year == 1950
    assert await residents.update_profile("no-such-resident", name="x") is None


async def test_verified_facts_go_stale_when_changed(residents):
    rid = (await residents.for_user_key("rest:u1", "c1")).id
    await residents.update_profile(rid, birth_year=1950)
    verified = await residents.verify_facts(rid, "staff-1", T0)
    assert verified.facts_verified and verified.eligibility_verified["by"] == "staff-1"
    assert not (await residents.update_profile(rid, birth_year=1949)).facts_verified
    assert await residents.verify_facts("no-such-resident", "staff-1", T0) is None


async def test_erasure_leaves_a_tombstone_and_frees_the_identity(residents):
    old = await residents.for_user_key("wechat:o1", "c1")
    await residents.update_profile(old.id, name="王阿姨", phone="13800138000")
    tomb = await residents.anonymise(old.id)
    assert tomb.id == old.id and tomb.deleted_at is not None and tomb.user_keys == [f"deleted:{old.id}"]
    doc = await residents.document(old.id)
    assert set(doc) == {"_id", "user_keys", "community", "created_at", "deleted_at"}
    fresh = await residents.for_user_key("wechat:o1", "c1")
    assert fresh.id != old.id
    assert await residents.anonymise("no-such-resident") is None


async def test_notices_newest_first_and_marked_read(notices):
    ids = [await notices.add(user_key="rest:u1", resident_id="r1", text=f"第{n}条", ref=None,
                             now=T0 + timedelta(minutes=n)) for n in range(3)]
    await notices.add(user_key="rest:u2", resident_id="r2", text="别人的", ref="R1", now=T0)
    listed = await notices.for_resident("r1")
    assert [n.id for n in listed] == ids[::-1] and [n.text for n in listed][0] == "第2条"
    assert listed[0].as_json()["read"] is False and listed[0].created_at == T0 + timedelta(minutes=2)
    assert len(await notices.for_resident("r1", limit=2)) == 2
    assert await notices.mark_read("r1", [ids[0], "not-an-id", ids[0]]) == 1
    assert [n.id for n in await notices.for_resident("r1", unread_only=True)] == ids[:0:-1]
    assert await notices.mark_read("r2", [ids[1]]) == 0  # someone else's notice
    assert await notices.mark_read("r1") == 2
    assert await notices.for_resident("r1", unread_only=True) == []


COMMUNITY_DOCS = [
    {"_id": "b-lianhua", "name": "莲花社区", "street": "huafu"},
    {"_id": "a-huafu", "name": "华富", "street": "huafu",
     "service_centre": {"name": "华富街道党群服务中心", "address": "华富路5号", "hours": "每天 9:00-17:00"}},
    {"_id": "c-unnamed", "street": "huafu"},
]


@pytest.fixture
async def communities(make):
    """Seeded through the database (the repository writes no communities) or the fake's `add`."""
    repo, db = make(lambda db: (CommunityRepository(db), db), lambda: (FakeCommunityRepository(), None))
    if db is not None:
        await db.communities.insert_many([dict(doc) for doc in COMMUNITY_DOCS])
    else:
        for doc in COMMUNITY_DOCS:
            repo.add(doc)
    return repo


@pytest.fixture
def elder_prefs(impl, request):
    return ElderPreferences(request.getfixturevalue("redis")) if impl == "mongo" else FakeElderPreferences()


async def test_community_names_list_and_service_centres(communities):
    assert await communities.name("b-lianhua") == "莲花社区"
    assert await communities.name("c-unnamed") == "社区" and await communities.name("nowhere") == "社区"
    everyone = [("a-huafu", "华富"), ("b-lianhua", "莲花社区"), ("c-unnamed", "c-unnamed")]
    assert await communities.listed() == everyone
    assert await communities.listed(2) == [("a-huafu", "华富"), ("b-lianhua", "莲花社区")]
    named = await communities.service_centre("a-huafu")
    assert (named.name, named.address, named.hours) == ("华富街道党群服务中心", "华富路5号", "每天 9:00-17:00")
    own = await communities.service_centre("b-lianhua")
    assert own.name == "莲花社区事务受理服务中心" and own.address is None and own.hours.startswith("周一至周五")
    assert (await communities.service_centre("nowhere")).name == "社区事务受理服务中心"


async def test_one_community_record_and_whether_it_exists(communities):
    assert (await communities.get("b-lianhua"))["name"] == "莲花社区"
    assert await communities.get("nowhere") is None
    assert await communities.exists("c-unnamed") and not await communities.exists("nowhere")


async def test_elder_preference_chosen_or_from_the_profile(elder_prefs):
    assert await elder_prefs.get("rest:u1") is None
    await elder_prefs.from_profile("rest:u1", False)
    assert await elder_prefs.get("rest:u1") == "no"
    await elder_prefs.chosen("rest:u1", True)
    await elder_prefs.from_profile("rest:u2", True)
    assert (await elder_prefs.get("rest:u1"), await elder_prefs.get("rest:u2")) == ("on", "on")
    await elder_prefs.chosen("rest:u1", False)
    assert await elder_prefs.get("rest:u1") == "off"
