"""What the ReportService tests share: a service on the real MongoDB-compatible server with a
controlled clock and a WeChat stand-in (the `world` fixture), the places and the staff actor
they use, a streetlight report, and the auto-close steps.

Use in a test module with
    from tests.reports_helpers import STAFF, streetlight, world  # noqa: F401  (fixture)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest_asyncio

from services.events import EventBus
from services.notify import Notifier
from services.report_rules import NewReport, Reporter, ReportRules
from services.reports import ReportService
from storage import mongo
from storage.notices import NoticeRepository
from storage.reports import Actor, ReportRepository
from storage.residents import ResidentRepository
from storage.routing import RoutingRepository
from tests.fakes.services import Clock

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shenzhen
STAFF = Actor("staff", "s1", "王网格")
HUAFU = (22.5500, 114.0500)  # latitude, longitude
NEAR = (22.5502, 114.0503)  # ~35 m away
FAR = (22.5600, 114.0500)  # ~1.1 km away


@dataclass
class SentText:
    openid: str
    text: str


class FakeWeChat:
    """Stands in for bot.wechat_api.WeChatClient.send_text."""

    def __init__(self, deliver: bool = True) -> None:
        self.sent: list[SentText] = []
        self.deliver = deliver

    async def send_text(self, openid: str, text: str):
        from bot.wechat_api import SendResult

        self.sent.append(SentText(openid, text))
        return SendResult(True) if self.deliver else SendResult(False, 45015, "response out of time limit")


@dataclass
class World:
    service: ReportService
    clock: Clock
    residents: ResidentRepository
    bus: EventBus
    wechat: FakeWeChat
    db: object

    async def reporter(self, user_key: str, community: str = "huafu-tianmian") -> Reporter:
        resident = await self.residents.for_user_key(user_key, community)
        return Reporter(resident.id, user_key, resident.community)

    async def notices(self, resident_id: str) -> list[str]:
        return [n.text for n in await self.service.notifier.for_resident(resident_id)]


def make_service(db, clock: Clock, wechat: FakeWeChat | None = None, bus: EventBus | None = None,
                 **rules) -> ReportService:
    notifier = Notifier(NoticeRepository(db), ResidentRepository(db), wechat=lambda: wechat, clock=clock)
    return ReportService(ReportRepository(db), RoutingRepository(db), notifier, ReportRules(**rules),
                         clock=clock, bus=bus or EventBus())


async def make_world(db, wechat: FakeWeChat | None = None, **rules) -> World:
    """A service on `db` (indexes made) under `rules`, its clock at T0, its own event bus and
    WeChat stand-in (one that delivers unless given another)."""
    await mongo.ensure_indexes(db, conversation_retention_days=30)
    clock, wechat, bus = Clock(T0), wechat or FakeWeChat(), EventBus()
    service = make_service(db, clock, wechat, bus, **rules)
    return World(service, clock, ResidentRepository(db), bus, wechat, db)


@pytest_asyncio.fixture
async def world(db) -> World:
    return await make_world(db)


def streetlight(where=HUAFU, text="3栋门口", description="路灯不亮了") -> NewReport:
    lat, lng = where if where else (None, None)
    return NewReport(category="streetlight", description=description, location_text=text, latitude=lat, longitude=lng)


async def resolve_until_autoclosed(world, ticket: str):
    """Staff resolve `ticket` and the resident never confirms: with 7 days to confirm (the
    rules' default), the timers leave it open an hour before and close it an hour after.
    The closed report.

    `world` is any test world with a `service` and a `clock` (the real stack's or the fakes')."""
    await world.service.act(ticket, "resolve", STAFF, note="修好了")
    world.clock.advance(days=6, hours=23)
    assert (await world.service.run_timers())["closed"] == []
    world.clock.advance(hours=2)
    assert (await world.service.run_timers())["closed"] == [ticket]
    return await world.service.get(ticket)
