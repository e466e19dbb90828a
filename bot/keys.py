"""Typed application state keys (aiohttp `web.AppKey`)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorDatabase
from redis.asyncio import Redis

from bot.chat import ChatService
from bot.config import Settings
from bot.mp_api import MiniProgramClient
from bot.privacy_chat import PrivacyRequests
from bot.wechat_api import WeChatClient
from nlu.service import NLUService
from services.bookings import BookingService
from services.events import EventBus
from services.faq import FaqService
from services.points import PointsService
from services.notify import Notifier
from services.personal_data import PersonalData
from services.reports import ReportService
from services.residents import ResidentService
from services.resident_desk import ResidentDesk
from services.sharing import SharingService
from services.staff_accounts import StaffAccounts
from services.handoff import HandoffService
from services.wechat_media import WeChatMedia
from services.station_import import StationImporter
from services.stations import StationService
from storage.audit import AuditLog
from storage.communities import CommunityRepository
from storage.dashboards import Dashboards
from storage.dedup import Deduplicator
from storage.login_lock import StaffLoginLock
from storage.photos import PhotoStore
from storage.rate_limit import LoginGuard, RateLimiter
from storage.sessions import SessionStore

SETTINGS = web.AppKey("settings", Settings)
MONGO = web.AppKey("mongo", AsyncIOMotorDatabase)
REDIS = web.AppKey("redis", Redis)
NLU = web.AppKey("nlu", NLUService)
NLU_LOADING = web.AppKey("nlu_loading", asyncio.Task)
CHAT = web.AppKey("chat", ChatService)
PRIVACY = web.AppKey("privacy", PrivacyRequests)  # data export / erasure said in chat, export links
PERSONAL_DATA = web.AppKey("personal_data", PersonalData)  # PIPL export and erasure (/api/v1/me, chat)
DEDUP = web.AppKey("dedup", Deduplicator)
WECHAT = web.AppKey("wechat", WeChatClient)  # only when WeChat AppID/AppSecret are configured
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
API_SESSIONS = web.AppKey("api_sessions", SessionStore)  # mini-program session tokens
LOGIN_GUARD = web.AppKey("login_guard", StaffLoginLock)  # staff login lockout per (username, client)
LINK_CODE_GUARD = web.AppKey("link_code_guard", LoginGuard)  # residents guessing proxy-link codes
MP_CLIENT = web.AppKey("mp_client", MiniProgramClient)  # only when MP_APP_ID/MP_APP_SECRET are set
REPORTS = web.AppKey("reports", ReportService)  # report problems (报事)
BOOKINGS = web.AppKey("bookings", BookingService)  # community service bookings (预约)
POINTS = web.AppKey("points", PointsService)  # points ledger, 积分超市, 荣誉榜
SHARING = web.AppKey("sharing", SharingService)  # 共享社区: items, skills, help requests
NOTIFIER = web.AppKey("notifier", Notifier)  # status changes to residents
PHOTOS = web.AppKey("photos", PhotoStore)  # report photos (GridFS)
WECHAT_MEDIA = web.AppKey("wechat_media", WeChatMedia)  # WeChat photos -> GridFS (with the WeChat client)
STATIONS = web.AppKey("stations", StationService)  # 驿站 / 能量栈 search, couriers
HANDOFF = web.AppKey("handoff", HandoffService)  # 找人工: callback requests
BUS = web.AppKey("bus", EventBus)  # the app's event bus (bot/bootstrap.py subscribes on it)
FAQ = web.AppKey("faq", FaqService)  # the community FAQ: chat answers, console try-out
RESIDENTS = web.AppKey("residents", ResidentService)  # a resident's own record and community
RESIDENT_DESK = web.AppKey("resident_desk", ResidentDesk)  # the console's residents pages
ACCOUNTS = web.AppKey("accounts", StaffAccounts)  # console sign-in and the staff accounts pages
STATION_IMPORT = web.AppKey("station_import", StationImporter)  # the console's CSV import
# What the HTTP layer reads itself, built once by bot/bootstrap.py like everything else: the
# audit trail (every staff action is recorded by its page), the places, and the read side of
# the console's to-do, charts, map and screen.
AUDIT = web.AppKey("audit", AuditLog)  # every staff action
COMMUNITIES = web.AppKey("communities", CommunityRepository)  # communities and streets
DASHBOARDS = web.AppKey("dashboards", Dashboards)  # the to-do, charts, map and screen (read only)
