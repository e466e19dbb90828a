"""The aiohttp application factory: routes and middlewares. What the app is made of is
built in one place, bot/bootstrap.py (the composition root)."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot import health, keys, privacy_export, webchat
from bot.api.subapp import setup_api
from bot.bootstrap import House
from bot.channels.rest import RestChannel
from bot.channels.wechat import WeChatChannel
from bot.config import Settings
from bot.console import setup_console
from bot.errors import error_middleware
from bot.remote import trusted_proxy_middleware
from nlu.service import NLUService

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
    house = House(settings, app[keys.NLU])
    app.cleanup_ctx.append(house.context)  # first: everything after uses what it builds
    app.add_routes(health.routes)
    rest = RestChannel(house.on_message, settings, dedup=house.dedup, limiter=house.rate_limiter)
    app.add_routes(rest.routes())
    app.add_routes(privacy_export.routes)  # one-time export links given in chat
    setup_api(app)  # /api/v1 sub-app
    setup_console(app)  # /console sub-app (also sets up the templates /chat renders)
    webchat.setup_webchat(  # /chat: the web chat, same pipeline as the REST channel
        app, on_message=house.on_message, settings=settings, limiter=house.rate_limiter, redis=house.redis)
    app.router.add_static("/static", STATIC, append_version=False)
    if settings.wechat_token:
        wechat = WeChatChannel(settings, chat=house.chat, dedup=house.dedup, redis=house.redis,
                               locations=house.locations, client=house.wechat, media=house.wechat_media)
        app.add_routes(wechat.routes())
        house.drains.append(wechat.drain)  # replies still being sent finish before Redis closes
    return app


async def _plain_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Do not tell the world which aiohttp (and Python) version answers."""
    response.headers["Server"] = "linli"
