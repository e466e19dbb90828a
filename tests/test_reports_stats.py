"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock (tests/reports_helpers.py): the statistics
by category (count, resolved, median hours to resolve)."""
from __future__ import annotations

from datetime import timedelta

from services.report_rules import NewReport
from tests.reports_helpers import STAFF, T0, streetlight, world  # noqa: F401  (fixture)


async def test_stats_count_by_category_and_median_hours(world):
    alice = await world.reporter("rest:alice")
    tickets = []
    for i in range(3):
        tickets.append((await world.service.create(alice, NewReport(
            category="garbage", description="垃圾", location_text=f"{i}栋"))).own_ticket)
    await world.service.create(alice, streetlight())
    for hours, ticket in zip((2, 4, 9), tickets):
        world.clock.now = T0 + timedelta(hours=hours)
        await world.service.act(ticket, "resolve", STAFF, note="清运了")
    stats = await world.service.repo.stats({})
    by = {s.category: s for s in stats}
    assert by["garbage"].count == 3 and by["garbage"].resolved == 3 and by["garbage"].median_hours == 4.0
    assert by["streetlight"].count == 1 and by["streetlight"].median_hours is None
    assert await world.service.repo.stats({"community": "huafu-xintian"}) == []
