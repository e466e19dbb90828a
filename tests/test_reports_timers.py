"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock (tests/reports_helpers.py): SLA escalation and
auto-close as the clock moves, and the periodic lock that runs each timer job once per tick
across workers."""
from __future__ import annotations

import asyncio

import pytest

from bot.periodic import PeriodicTask
from services.report_rules import IllegalTransition, NewReport
from tests.reports_helpers import STAFF, resolve_until_autoclosed, streetlight, world  # noqa: F401  (fixture)


# -- escalation and auto-close --------------------------------------------------------------


async def test_sla_escalation_with_a_controlled_clock(world):
    alice = await world.reporter("rest:alice")
    light = (await world.service.create(alice, streetlight())).own_ticket  # 48 h
    elevator = (await world.service.create(alice, NewReport(category="elevator", description="电梯困人",
                                                            location_text="5栋"))).own_ticket  # 12 h
    done = (await world.service.create(alice, NewReport(category="fire", description="灭火器过期",
                                                        location_text="7栋"))).own_ticket  # 12 h
    await world.service.act(done, "resolve", STAFF, note="已更换")
    world.clock.advance(hours=11, minutes=59)
    assert await world.service.escalate_overdue() == []
    world.clock.advance(minutes=2)
    assert await world.service.escalate_overdue() == [elevator]
    report = await world.service.get(elevator)
    assert report.overdue and report.level == "street"
    assert report.history[-1]["action"] == "escalate" and report.history[-1]["actor"]["kind"] == "system"
    assert report.status == "dispatched"  # escalation is not a status change
    assert await world.service.escalate_overdue() == []  # one level only, once
    world.clock.advance(hours=48)
    assert await world.service.escalate_overdue() == [light]
    assert not (await world.service.get(done)).overdue
    board, total = await world.service.repo.board({}, overdue=True)
    assert total == 2 and {r.ticket for r in board} == {light, elevator}


async def test_unconfirmed_resolution_is_closed_automatically(world):
    alice = await world.reporter("rest:alice")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    report = await resolve_until_autoclosed(world, ticket)
    assert report.status == "closed" and report.closed_at == world.clock.now
    assert "自动结案" in report.history[-1]["note"]
    assert "已办结" in (await world.notices(alice.resident_id))[0]
    # The reporter can still rate an auto-closed ticket, once.
    rated = await world.service.rate(ticket, alice.resident_id, 4)
    assert rated.rating["stars"] == 4 and rated.status == "closed"
    with pytest.raises(IllegalTransition):
        await world.service.rate(ticket, alice.resident_id, 5)


# -- the periodic lock ---------------------------------------------------------------------


async def test_periodic_job_runs_once_per_tick_across_workers(redis):
    runs: list[str] = []

    def job(worker: str):
        async def run() -> None:
            runs.append(worker)
        return run

    workers = [PeriodicTask("test-job", 300, job(f"w{i}"), redis) for i in range(4)]
    ran = await asyncio.gather(*(w.tick() for w in workers))
    assert sum(ran) == 1 and len(runs) == 1
    assert 0 < await redis.pttl("linli:periodic:test-job") <= 270_000
    assert not any(await asyncio.gather(*(w.tick() for w in workers)))  # same tick: nobody again
    await redis.delete("linli:periodic:test-job")  # the tick's claim expired
    ran = await asyncio.gather(*(w.tick() for w in workers))
    assert sum(ran) == 1 and len(runs) == 2


async def test_a_failed_tick_does_not_block_the_next(redis):
    calls = []

    async def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first tick fails")

    task = PeriodicTask("flaky", 300, job, lambda: redis)
    with pytest.raises(RuntimeError):
        await task.tick()  # the loop logs this and carries on
    await redis.delete(task.key)  # the next tick
    assert await task.tick() is True
    assert len(calls) == 2
