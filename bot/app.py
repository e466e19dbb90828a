"""The aiohttp application factory."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from bot import health, keys
from bot.channels.rest import RestChannel
from bot.chat import ChatService
from bot.config import Settings
from bot.errors import error_middleware
from handlers import registry
from handlers.base import Services
from handlers.router import Router
from nlu.service import NLUService
from storage import mongo, redis_client
from storage.conversations import ConversationRepository
from storage.dedup import Deduplicator
from storage.dialogue_state import DialogueStateStore
from storage.residents import ResidentRepository

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, nlu: NLUService | None = None) -> web.Application:
    """Build the app. Pass a loaded `nlu` to share one model between apps (tests)."""
    settings = settings or Settings.from_env()
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[keys.SETTINGS] = settings
    app[keys.NLU] = nlu or NLUService(settings.models_dir / "linli-nlu.tar.gz", settings.nlu_cache_size)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_nlu_model)
    app.on_startup.append(_chat)
    app.add_routes(health.routes)
    app.add_routes(RestChannel().routes())
    return app


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    redis = redis_client.connect(settings.redis_url)
    app[keys.MONGO] = db
    app[keys.REDIS] = redis
    app[keys.DEDUP] = Deduplicator(redis)
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
    )
    app[keys.CHAT] = ChatService(
        nlu=app[keys.NLU],
        states=DialogueStateStore(app[keys.REDIS], settings.dialogue_ttl_seconds),
        conversations=conversations,
        router=Router(registry),
        services=services,
    )
