"""M1: duplicates stay within the community, and a follower sees only the status of the
ticket they follow (no description, location, photos or staff notes) and cannot reopen it."""
from __future__ import annotations

import pytest

from services.report_rules import NotFound
from tests.reports_helpers import HUAFU, NEAR, STAFF, streetlight, world  # noqa: F401  (fixture)


async def test_a_report_near_another_communitys_ticket_is_not_its_duplicate(world):
    tianmian = await world.reporter("rest:alice", "huafu-tianmian")
    xintian = await world.reporter("rest:bob", "huafu-xintian")
    first = await world.service.create(tianmian, streetlight(HUAFU, description="3栋501门口路灯坏了，电话13912345678"))
    second = await world.service.create(xintian, streetlight(NEAR, text="新田村口"))
    assert not second.duplicate and second.report.ticket != first.own_ticket
    original = await world.service.get(first.own_ticket)
    assert original.followers == []
    with pytest.raises(NotFound):
        await world.service.get_for_resident(first.own_ticket, xintian.resident_id)


async def test_a_follower_sees_only_the_status(world):
    reporter = await world.reporter("rest:alice")
    neighbour = await world.reporter("rest:carol")
    first = await world.service.create(reporter, streetlight(HUAFU, description="3栋501门口路灯坏了，电话13912345678"))
    await world.db.reports.update_one({"_id": first.own_ticket}, {"$set": {"photos": [{"source": "upload", "id": "p1"}]}})
    linked = await world.service.create(neighbour, streetlight(NEAR, text="3栋旁边"))
    assert linked.duplicate and linked.report.ticket == first.own_ticket
    await world.service.act(first.own_ticket, "start", STAFF, note="已联系张阿姨 13912345678")
    await world.service.act(first.own_ticket, "resolve", STAFF, note="换了灯泡，张阿姨说3栋501没问题了")
    seen = await world.service.get_for_resident(first.own_ticket, neighbour.resident_id)
    assert seen.status == "resolved" and seen.ticket == first.own_ticket
    assert seen.description == "" and seen.location_text is None and seen.location is None
    assert seen.photos == [] and seen.rating is None
    assert all(set(h) <= {"action", "status", "at"} for h in seen.history)
    assert "13912345678" not in repr(seen) and "501" not in repr(seen)
    # the reporter still sees everything
    own = await world.service.get_for_resident(first.own_ticket, reporter.resident_id)
    assert "13912345678" in own.description and own.photos
    # the follower's notices carry no staff note or location
    follower_notices = " ".join(await world.notices(neighbour.resident_id))
    assert first.own_ticket in follower_notices
    assert "张阿姨" not in follower_notices and "3栋" not in follower_notices
    assert "换了灯泡" in " ".join(await world.notices(reporter.resident_id))
    with pytest.raises(NotFound):
        await world.service.reopen(first.own_ticket, neighbour.resident_id)
    assert (await world.service.get(first.own_ticket)).status == "resolved"
