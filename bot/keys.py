"""Typed application state keys (aiohttp `web.AppKey`)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorDatabase
from redis.asyncio import Redis

from bot.chat import ChatService
from bot.config import Settings
from nlu.service import NLUService
from storage.dedup import Deduplicator

SETTINGS = web.AppKey("settings", Settings)
MONGO = web.AppKey("mongo", AsyncIOMotorDatabase)
REDIS = web.AppKey("redis", Redis)
NLU = web.AppKey("nlu", NLUService)
NLU_LOADING = web.AppKey("nlu_loading", asyncio.Task)
CHAT = web.AppKey("chat", ChatService)
DEDUP = web.AppKey("dedup", Deduplicator)
