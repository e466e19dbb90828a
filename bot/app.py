"""The aiohttp application factory."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from pathlib import Path

from bot import health, keys, privacy_chat, webchat
from bot.booking_jobs import bookings_context
from bot.api import setup_api
from bot.channels.rest import RestChannel
from bot.channels.wechat import WeChatChannel
from bot.chat import ChatService
from bot.config import Settings
from bot.console import setup_console
from bot.errors import error_middleware
from bot.periodic import PeriodicTask
from bot.remote import trusted_proxy_middleware
from handlers import registry
from handlers.base import Services
from handlers.router import Router
from nlu.service import NLUService
from services.faq import FaqService
from services.locations import RecentLocations
from services.notify import Notifier
from services.points import points_context
from services.stations import stations_context
from services.reports import ReportRules, ReportService
from storage import mongo, redis_client
from storage.conversations import ConversationRepository
from storage.dedup import Deduplicator
from storage.dialogue_state import DialogueStateStore
from storage.locks import redis_serializer
from storage.rate_limit import LINK_CODE_PREFIX, LoginGuard, RateLimiter
from storage.communities import CommunityRepository
from storage.faq import FaqRepository
from storage.notices import NoticeRepository
from storage.photos import PhotoStore
from storage.reports import ReportRepository
from storage.residents import ResidentRepository
from storage.routing import RoutingRepository

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, *, nlu: NLUService | None = None) -> web.Application:
    """Build the app. Pass a loaded `nlu` to share one model between apps (tests)."""
    settings = settings or Settings.from_env()
    middlewares = [error_middleware]
    if settings.trusted_proxies:  # next: everything after sees the real client address
        middlewares.append(trusted_proxy_middleware(settings.trusted_proxies))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app.on_response_prepare.append(_plain_server_header)
    app[keys.SETTINGS] = settings
    app[keys.NLU] = nlu or NLUService(settings.models_dir / "linli-nlu.tar.gz", settings.nlu_cache_size)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_reports)  # after _storage: uses Mongo and Redis
    app.cleanup_ctx.append(bookings_context)  # after _reports: uses the notifier
    app.cleanup_ctx.append(points_context)  # after _reports: points, sharing, their periodic job
    app.cleanup_ctx.append(stations_context)  # after _storage: stations, couriers, handoff
    app.cleanup_ctx.append(_nlu_model)
    app.on_startup.append(_chat)
    app.add_routes(health.routes)
    app.add_routes(RestChannel().routes())
    app.add_routes(privacy_chat.routes)  # one-time export links given in chat
    setup_api(app)  # /api/v1 sub-app: after _storage (uses Redis)
    setup_console(app)  # /console sub-app (also sets up the templates /chat renders)
    webchat.setup_webchat(app)  # /chat: the web chat, same pipeline as the REST channel
    app.router.add_static("/static", STATIC, append_version=False)
    if settings.wechat_token:
        wechat = WeChatChannel(settings)
        app.add_routes(wechat.routes())
        app.cleanup_ctx.append(wechat.client_context)  # after _storage: uses Redis, drained before it closes
    return app


async def _plain_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Do not tell the world which aiohttp (and Python) version answers."""
    response.headers["Server"] = "linli"


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    redis = redis_client.connect(settings.redis_url)
    app[keys.MONGO] = db
    app[keys.REDIS] = redis
    app[keys.RATE_LIMITER] = RateLimiter(redis)
    # 6-digit link codes: 5 wrong tries lock the resident out of confirming for an hour.
    app[keys.LINK_CODE_GUARD] = LoginGuard(redis, 5, 3600, 3600, prefix=LINK_CODE_PREFIX)
    app[keys.DEDUP] = Deduplicator(redis)
    app[keys.FAQ] = FaqService(FaqRepository(db))  # chat answers and the console's try-out
    await mongo.ensure_indexes(db, conversation_retention_days=settings.conversation_retention_days)
    yield
    await redis.close()
    client.close()


async def _nlu_model(app: web.Application) -> AsyncIterator[None]:
    """Load the model in the background: /healthz answers at once, /readyz when loaded."""
    nlu = app[keys.NLU]
    task = None
    if not nlu.ready:
        task = asyncio.create_task(nlu.load())
        task.add_done_callback(_log_load_failure)
    app[keys.NLU_LOADING] = task
    yield
    if task is not None and not task.done():
        task.cancel()


async def _reports(app: web.Application) -> AsyncIterator[None]:
    """Report services, and the periodic SLA escalation / auto-close (one worker per tick)."""
    settings, db = app[keys.SETTINGS], app[keys.MONGO]
    notifier = Notifier(NoticeRepository(db), ResidentRepository(db), wechat=lambda: app.get(keys.WECHAT))
    app[keys.NOTIFIER] = notifier
    app[keys.PHOTOS] = PhotoStore(db, settings.upload_max_bytes)
    app[keys.REPORTS] = ReportService(
        ReportRepository(db), RoutingRepository(db), notifier, ReportRules.from_settings(settings),
        serialize=redis_serializer(app[keys.REDIS]),
    )
    timers = None
    if settings.report_timer_interval > 0:
        timers = PeriodicTask(
            "reports", settings.report_timer_interval, lambda: app[keys.REPORTS].run_timers(), app[keys.REDIS]
        )
        timers.start()
    yield
    if timers is not None:
        await timers.stop()


def _log_load_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("NLU model failed to load: %r", task.exception())


async def _chat(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    db = app[keys.MONGO]
    conversations = ConversationRepository(db)
    services = Services(
        settings=settings,
        db=db,
        redis=app[keys.REDIS],
        conversations=conversations,
        residents=ResidentRepository(db),
        reports=app[keys.REPORTS],
        bookings=app[keys.BOOKINGS],
        sharing=app[keys.SHARING],
        points=app[keys.POINTS],
        stations=app[keys.STATIONS],
        handoff=app[keys.HANDOFF],
        communities=CommunityRepository(db),
        notices=NoticeRepository(db),
        locations=RecentLocations(app[keys.REDIS]),
        faq=app[keys.FAQ],
    )
    app[keys.CHAT] = ChatService(
        nlu=app[keys.NLU],
        states=DialogueStateStore(app[keys.REDIS], settings.dialogue_ttl_seconds),
        conversations=conversations,
        router=Router(registry),
        services=services,
    )
