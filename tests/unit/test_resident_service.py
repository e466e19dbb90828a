"""ResidentService (services/residents.py), what the dialogue handlers know of the person
writing, on the in-memory fakes of tests/fakes/people.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.residents import ResidentService
from storage.elder_prefs import CHOSEN_TTL, PROFILE_TTL
from tests.fakes.people import (FakeCommunityRepository, FakeElderPreferences, FakeNoticeRepository,
                                FakeResidentRepository)

pytestmark = pytest.mark.unit

HOME = "huafu-tianmian"
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)


class World:
    def __init__(self, *, with_notices: bool = True) -> None:
        self.residents, self.communities = FakeResidentRepository(), FakeCommunityRepository()
        self.notices, self.prefs = FakeNoticeRepository(), FakeElderPreferences()
        self.service = ResidentService(self.residents, self.communities, self.prefs, default_community=HOME,
                                       notices=self.notices if with_notices else None)


@pytest.fixture
def world() -> World:
    return World()


async def test_me_is_made_once_in_the_default_community_find_never_makes_one(world):
    people = world.service
    assert await people.find("rest:u1") is None and world.residents.docs == {}
    me = await people.me("rest:u1")
    assert me.community == HOME and me.user_keys == ["rest:u1"]
    assert (await people.me("rest:u1")).id == me.id and len(world.residents.docs) == 1
    assert (await people.find("rest:u1")).id == me.id
    assert (await people.get(me.id)).user_keys == ["rest:u1"] and await people.get("nobody") is None


async def test_profile_changes_reach_the_record(world):
    people = world.service
    me = await people.me("rest:u1")
    changed = await people.update_profile(me.id, birth_year=1950)
    assert changed.birth_year == 1950 and (await people.get(me.id)).birth_year == 1950
    assert await people.update_profile("nobody", birth_year=1950) is None


async def test_the_community_of_a_resident_or_of_a_newcomer(world):
    people = world.service
    assert await people.community_of("rest:new") == HOME and await people.find("rest:new") is None
    moved = await world.residents.for_user_key("rest:u2", "lianhua")
    assert await people.community_of("rest:u2") == moved.community == "lianhua"


async def test_community_names_list_and_service_centre(world):
    world.communities.add({"_id": HOME, "name": "田面社区"})
    world.communities.add({"_id": "a-huafu", "name": "华富",
                           "service_centre": {"name": "华富党群服务中心", "address": "华富路5号"}})
    people = world.service
    assert await people.community_name(HOME) == "田面社区" and await people.community_name("nowhere") == "社区"
    assert await people.listed_communities() == [("a-huafu", "华富"), (HOME, "田面社区")]
    assert await people.listed_communities(1) == [("a-huafu", "华富")]
    assert (await people.service_centre(HOME)).name == "田面社区事务受理服务中心"
    centre = await people.service_centre("a-huafu")
    assert (centre.name, centre.address) == ("华富党群服务中心", "华富路5号") and centre.hours
    assert (await people.community(HOME))["name"] == "田面社区" and await people.community("nowhere") is None
    assert await people.community_exists("a-huafu") and not await people.community_exists("nowhere")


async def test_unread_notices_are_taken_newest_first_and_marked_read(world):
    people = world.service
    assert await people.take_unread_notices("rest:u1", 5) == [] and world.residents.docs == {}  # none made
    me = await people.me("rest:u1")
    for n in range(3):
        await world.notices.add(user_key="rest:u1", resident_id=me.id, text=f"第{n}条", ref=None,
                                now=T0 + timedelta(minutes=n))
    await world.notices.add(user_key="rest:u2", resident_id="someone-else", text="别人的", ref=None, now=T0)
    assert [n.text for n in await people.take_unread_notices("rest:u1", 2)] == ["第2条", "第1条"]
    assert [n.text for n in await people.take_unread_notices("rest:u1", 2)] == ["第0条"]
    assert await people.take_unread_notices("rest:u1", 2) == []
    assert [n.read for n in await world.notices.for_resident("someone-else")] == [False]


async def test_without_a_notice_store_no_notices_are_shown():
    world = World(with_notices=False)
    me = await world.service.me("rest:u1")
    await world.notices.add(user_key="rest:u1", resident_id=me.id, text="已办结", ref="R1", now=T0)
    assert await world.service.take_unread_notices("rest:u1", 5) == []
    assert [n.read for n in await world.notices.for_resident(me.id)] == [False]


async def test_elder_mode_chosen_for_a_year_from_the_profile_for_a_day(world):
    people = world.service
    assert await people.elder_preference("rest:u1") is None
    await people.elder_mode_from_profile("rest:u1", False)
    assert await people.elder_preference("rest:u1") == "no" and world.prefs.kept["rest:u1"][1] == PROFILE_TTL
    await people.choose_elder_mode("rest:u1", True)
    assert await people.elder_preference("rest:u1") == "on" and world.prefs.kept["rest:u1"][1] == CHOSEN_TTL
    await people.choose_elder_mode("rest:u1", False)
    await people.elder_mode_from_profile("rest:u2", True)
    assert await people.elder_preference("rest:u1") == "off" and await people.elder_preference("rest:u2") == "on"
