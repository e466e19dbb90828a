"""The composition root: every repository, service, periodic job and event subscription
of the app is built here, from Settings + MongoDB + Redis, in one readable place.

    house = House(settings, nlu)
    app.cleanup_ctx.append(house.context)   # connects, builds, starts; stops in reverse

`build()` is the wiring (no I/O besides creating clients); `context` connects, builds,
publishes what the HTTP layer reads into the app's typed keys (bot/keys.py), starts the
periodic jobs and subscriptions, loads the NLU model in the background, and on shutdown
stops everything in the reverse order before the connections close. Services receive
what they use: nothing below this module reads the aiohttp app.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from redis.asyncio import Redis

from bot import keys
from bot.chat import ChatService
from bot.config import Settings
from bot.mp_api import MiniProgramClient
from bot.periodic import PeriodicTask
from bot.privacy_chat import PrivacyRequests
from bot.wechat_api import WeChatApiError, WeChatClient
from domain.time import utcnow
from handlers import registry
from handlers.base import Services
from handlers.messages import InboundMessage, Reply
from handlers.router import Router
from nlu.service import NLUService
from nlu.time_extractor import resolve_times
from services import events
from services.bookings import BookingService
from services.content_check import ContentChecker
from services.events import EventBus
from services.faq import FaqService
from services.handoff import HandoffService
from services.locations import RecentLocations
from services.notify import Notifier
from services.personal_data import PersonalData
from services.points import EARNING_EVENTS, PERIODIC_SECONDS, PointsService
from services.report_rules import ReportRules
from services.reports import ReportService
from services.resident_desk import ResidentDesk
from services.residents import ResidentService
from services.sharing import SharingService
from services.staff_accounts import StaffAccounts
from services.station_import import StationImporter
from services.stations import StationService
from services.wechat_media import WeChatMedia
from storage import mongo, redis_client
from storage.audit import AuditLog
from storage.callbacks import CallbackRepository
from storage.communities import CommunityRepository
from storage.dashboards import Dashboards
from storage.conversations import ConversationRepository
from storage.elder_prefs import ElderPreferences
from storage.dedup import Deduplicator
from storage.dialogue_state import DialogueStateStore
from storage.faq import FaqRepository
from storage.login_lock import StaffLoginLock
from storage.locks import redis_serializer
from storage.notices import NoticeRepository
from storage.bookings import BookingRepository, CatalogRepository, LinkRepository, SlotRepository, WaitlistRepository
from storage.ledger import LedgerRepository, RuleRepository
from storage.photos import PhotoStore
from storage.points_limits import PointsLimits
from storage.rate_limit import LINK_CODE_PREFIX, LoginGuard, RateLimiter
from storage.reports import ReportRepository
from storage.residents import ResidentRepository
from storage.routing import RoutingRepository
from storage.sessions import SessionStore
from storage.sharing import SharingRepository, ShareMessageRepository
from storage.shop import ShopRepository
from storage.staff import StaffRepository
from storage.stations import CourierRegistry, StationRepository

log = logging.getLogger(__name__)

BOOKING_SLOTS_SECONDS = 6 * 3600  # the working plans keep opening slots 14 days ahead
LINK_CODE_TRIES, LINK_CODE_WINDOW, LINK_CODE_LOCK = 5, 3600, 3600  # 6-digit proxy-link codes


def booking_service(db: AsyncIOMotorDatabase, residents: ResidentRepository, notifier: Notifier | None,
                    bus: EventBus, *, clock: Callable[[], datetime] = utcnow) -> BookingService:
    """The booking service on its repositories (used by `build`, and by tests and benchmarks
    that want the real wiring)."""
    return BookingService(CatalogRepository(db), SlotRepository(db), BookingRepository(db), WaitlistRepository(db),
                          LinkRepository(db), residents, notifier=notifier, bus=bus, clock=clock)


def points_service(db: AsyncIOMotorDatabase, residents: ResidentRepository,
                   notifier: Notifier | None = None) -> PointsService:
    """The points service on the ledger, earning rules, shop and anti-farming limits."""
    return PointsService(LedgerRepository(db), RuleRepository(db), ShopRepository(db), PointsLimits(db),
                         residents, notifier)


def sharing_service(db: AsyncIOMotorDatabase, residents: ResidentRepository, notifier: Notifier | None,
                    bus: EventBus) -> SharingService:
    """The 共享社区 service on its records, the neighbours' messages and the content check."""
    return SharingService(SharingRepository(db), ShareMessageRepository(db), residents, ContentChecker(db),
                          notifier, bus=bus)


async def run_booking_jobs(service: BookingService) -> None:
    """Waitlist offers that ran out are passed on; tomorrow's bookings are reminded."""
    await service.expire_offers()
    await service.send_reminders()


@dataclass
class Components:
    """Everything the app is made of, once built (one instance per app)."""

    settings: Settings
    db: AsyncIOMotorDatabase
    redis: Redis
    bus: EventBus
    rate_limiter: RateLimiter
    link_code_guard: LoginGuard
    dedup: Deduplicator
    photos: PhotoStore
    faq: FaqService
    notifier: Notifier
    reports: ReportService
    bookings: BookingService
    points: PointsService
    sharing: SharingService
    stations: StationService
    handoff: HandoffService
    chat: ChatService
    people: ResidentService
    locations: RecentLocations
    privacy: PrivacyRequests
    personal_data: PersonalData
    resident_desk: ResidentDesk  # the console's residents pages
    accounts: StaffAccounts  # the console's staff accounts pages
    audit: AuditLog
    communities: CommunityRepository
    dashboards: Dashboards
    station_import: StationImporter
    api_sessions: SessionStore  # mini-program session tokens
    login_guard: StaffLoginLock  # staff login lockout per (username, client)
    mp_client: MiniProgramClient | None = None  # only with MP_APP_ID / MP_APP_SECRET
    wechat: WeChatClient | None = None
    wechat_media: WeChatMedia | None = None
    tasks: list[PeriodicTask] = field(default_factory=list)
    subscriptions: list[tuple[type[events.Event], events.Subscriber]] = field(default_factory=list)


def build(settings: Settings, nlu: NLUService, db: AsyncIOMotorDatabase, redis: Redis,
          *, bus: EventBus | None = None) -> Components:
    """Wire the whole app (no I/O): nothing runs until `House.context` starts it. The app's
    event bus is its own (`bus`, or a new one): services publish on it, the subscriptions
    below are made on it."""
    bus = bus if bus is not None else EventBus()
    residents = ResidentRepository(db)
    conversations = ConversationRepository(db)
    communities, routing = CommunityRepository(db), RoutingRepository(db)
    callbacks, faq_entries = CallbackRepository(db), FaqRepository(db)
    photos = PhotoStore(db, settings.upload_max_bytes)

    wechat = wechat_media = None
    if settings.wechat_token and settings.wechat_app_id and settings.wechat_app_secret:
        wechat = WeChatClient(redis, settings.wechat_app_id, settings.wechat_app_secret, settings.wechat_api_base)
        wechat_media = WeChatMedia(wechat, photos, api_errors=(WeChatApiError,))
    mp_client = None
    if settings.mp_app_id and settings.mp_app_secret:  # mini-program login (jscode2session)
        mp_client = MiniProgramClient(settings.mp_app_id, settings.mp_app_secret, settings.wechat_api_base)
    notices = NoticeRepository(db)
    notifier = Notifier(notices, residents, wechat=wechat)

    reports = ReportService(
        ReportRepository(db), routing, notifier, ReportRules.from_settings(settings),
        bus=bus, serialize=redis_serializer(redis),
    )
    bookings = booking_service(db, residents, notifier, bus)
    points = points_service(db, residents, notifier)
    sharing = sharing_service(db, residents, notifier, bus)
    station_repo = StationRepository(db)
    stations = StationService(station_repo, CourierRegistry(db), bus=bus)
    handoff = HandoffService(callbacks, conversations)
    faq = FaqService(faq_entries)  # chat answers and the console's try-out

    api_sessions = SessionStore(redis, "api", settings.api_session_ttl)
    states = DialogueStateStore(redis, settings.dialogue_ttl_seconds)
    locations = RecentLocations(redis)  # the WeChat channel writes, the station dialogue reads
    people = ResidentService(residents, communities, ElderPreferences(redis),  # chat and mini-program
                             default_community=settings.default_community, notices=notices)
    personal_data = PersonalData(db, redis, bookings, api_sessions)  # PIPL export and erasure
    privacy = PrivacyRequests(personal_data, redis, states, conversations, settings.base_url)
    chat = ChatService(
        nlu=nlu,
        states=states,
        conversations=conversations,
        router=Router(registry),
        services=Services(
            settings=settings,
            residents=people,
            reports=reports, bookings=bookings, sharing=sharing, points=points, stations=stations,
            handoff=handoff, locations=locations, faq=faq, resolve_times=resolve_times,
        ),
        privacy=privacy,
    )

    # The console: its sessions, the staff login lock, and what staff do with residents and accounts.
    audit, staff_accounts = AuditLog(db), StaffRepository(db)
    console_sessions = SessionStore(redis, "console", settings.console_session_ttl, sliding=True)
    login_guard = StaffLoginLock(redis, settings.login_max_failures, settings.login_lock_seconds)
    resident_desk = ResidentDesk(residents, bookings, audit)
    accounts = StaffAccounts(staff_accounts, communities, login_guard, console_sessions, audit)

    # Periodic jobs: every worker runs the loop, one claims each tick (bot/periodic.py).
    tasks = []
    if settings.report_timer_interval > 0:  # SLA escalation and auto-close
        tasks.append(PeriodicTask("reports", settings.report_timer_interval, lambda: reports.run_timers(), redis))
    if settings.booking_timer_interval > 0:  # waitlist offers run out, tomorrow's reminders
        tasks.append(PeriodicTask("bookings", settings.booking_timer_interval,
                                  lambda: run_booking_jobs(bookings), redis))
        tasks.append(PeriodicTask("booking-slots", BOOKING_SLOTS_SECONDS, bookings.open_slots_ahead, redis))

    async def points_and_sharing() -> None:  # ledger reconcile, expiries, due reminders
        await points.run_periodic()
        await sharing.remind_due()

    tasks.append(PeriodicTask("points-sharing", PERIODIC_SECONDS, points_and_sharing, redis))

    # Event subscriptions: points for earning events (their rules match on the events'
    # fields), courier points for valid reports.
    subscriptions: list[tuple[type[events.Event], events.Subscriber]] = [
        (event_type, points.on_event) for event_type in EARNING_EVENTS]
    subscriptions.append((events.ReportValid, stations.on_report_valid))

    return Components(
        settings=settings, db=db, redis=redis, bus=bus,
        rate_limiter=RateLimiter(redis),
        link_code_guard=LoginGuard(redis, LINK_CODE_TRIES, LINK_CODE_WINDOW, LINK_CODE_LOCK, prefix=LINK_CODE_PREFIX),
        dedup=Deduplicator(redis), photos=photos,
        faq=faq, notifier=notifier, reports=reports, bookings=bookings, points=points, sharing=sharing,
        stations=stations, handoff=handoff, chat=chat, people=people, locations=locations,
        privacy=privacy, personal_data=personal_data, resident_desk=resident_desk, accounts=accounts,
        audit=audit,
        communities=communities,
        dashboards=Dashboards(db), station_import=StationImporter(station_repo),
        api_sessions=api_sessions, login_guard=login_guard,
        mp_client=mp_client, wechat=wechat, wechat_media=wechat_media,
        tasks=tasks, subscriptions=subscriptions,
    )


# What the HTTP layer (API, console, channels, tests) reads: app key -> part of Components.
PUBLISHED: tuple[tuple[web.AppKey, str], ...] = (
    (keys.MONGO, "db"), (keys.REDIS, "redis"), (keys.BUS, "bus"),
    (keys.RATE_LIMITER, "rate_limiter"), (keys.LINK_CODE_GUARD, "link_code_guard"), (keys.DEDUP, "dedup"),
    (keys.FAQ, "faq"), (keys.NOTIFIER, "notifier"), (keys.PHOTOS, "photos"),
    (keys.REPORTS, "reports"), (keys.BOOKINGS, "bookings"), (keys.POINTS, "points"), (keys.SHARING, "sharing"),
    (keys.STATIONS, "stations"), (keys.HANDOFF, "handoff"),
    (keys.CHAT, "chat"), (keys.PRIVACY, "privacy"), (keys.PERSONAL_DATA, "personal_data"),
    (keys.RESIDENT_DESK, "resident_desk"), (keys.ACCOUNTS, "accounts"),
    (keys.AUDIT, "audit"), (keys.RESIDENTS, "people"),
    (keys.COMMUNITIES, "communities"), (keys.STATION_IMPORT, "station_import"), (keys.DASHBOARDS, "dashboards"),
    (keys.API_SESSIONS, "api_sessions"),
    (keys.LOGIN_GUARD, "login_guard"),
    # only when configured (MP_APP_ID/MP_APP_SECRET; WECHAT_TOKEN with AppID/AppSecret)
    (keys.MP_CLIENT, "mp_client"), (keys.WECHAT, "wechat"), (keys.WECHAT_MEDIA, "wechat_media"),
)


def publish(app: web.Application, parts: Components) -> None:
    """Put what the HTTP layer reads into the app's typed keys (what is not configured stays unset)."""
    for key, name in PUBLISHED:
        value = getattr(parts, name)
        if value is not None:
            app[key] = value


class House:
    """Owns the app's parts for one app's lifetime. `drains` are awaited first on shutdown
    (e.g. the WeChat channel's replies still being sent, which use Redis)."""

    def __init__(self, settings: Settings, nlu: NLUService) -> None:
        self.settings = settings
        self.nlu = nlu
        self.parts: Components | None = None
        self.drains: list[Callable[[], Awaitable[None]]] = []

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup_ctx: connect, build, start; on shutdown stop in reverse and close."""
        settings = self.settings
        client: AsyncIOMotorClient
        client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
        redis = redis_client.connect(settings.redis_url)
        parts = self.parts = build(settings, self.nlu, db, redis)
        publish(app, parts)
        await mongo.ensure_indexes(db, conversation_retention_days=settings.conversation_retention_days)
        for event_type, subscriber in parts.subscriptions:
            parts.bus.subscribe(event_type, subscriber)
        for task in parts.tasks:
            task.start()
        app[keys.NLU_LOADING] = loading = self._load_nlu()
        try:
            yield
        finally:
            if loading is not None and not loading.done():
                loading.cancel()
            for drain in self.drains:
                await drain()
            if parts.wechat_media is not None:
                await parts.wechat_media.drain()
            for task in reversed(parts.tasks):
                await task.stop()
            for event_type, subscriber in reversed(parts.subscriptions):
                parts.bus.unsubscribe(event_type, subscriber)
            if parts.wechat is not None:
                await parts.wechat.close()
            if parts.mp_client is not None:
                await parts.mp_client.close()
            await redis.close()
            client.close()

    # -- what the channels are given (the parts exist once the app has started) ----------

    def started(self) -> Components:
        if self.parts is None:
            raise RuntimeError("the app has not started")
        return self.parts

    async def on_message(self, message: InboundMessage) -> list[Reply]:
        """The channels' message handler: the chat pipeline (bot/chat.py)."""
        return await self.started().chat.handle(message)

    def dedup(self) -> Deduplicator:
        return self.started().dedup

    def rate_limiter(self) -> RateLimiter:
        return self.started().rate_limiter

    def chat(self) -> ChatService:
        return self.started().chat

    def redis(self) -> Redis:
        return self.started().redis

    def locations(self) -> RecentLocations:
        return self.started().locations

    def wechat(self) -> WeChatClient | None:
        return self.started().wechat

    def wechat_media(self) -> WeChatMedia | None:
        return self.started().wechat_media

    def _load_nlu(self) -> asyncio.Task | None:
        """Load the model in the background: /healthz answers at once, /readyz when loaded."""
        if self.nlu.ready:
            return None
        task = asyncio.create_task(self.nlu.load())
        task.add_done_callback(_log_load_failure)
        return task


def _log_load_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("NLU model failed to load: %r", task.exception())
