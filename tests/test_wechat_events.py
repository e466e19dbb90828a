"""WeChat events (see tests/wechat_helpers.py): subscribing and unsubscribing, menu clicks,
reported locations and opened pages."""
from __future__ import annotations

import json
import time

import pytest

from bot.channels.wechat import MENU_KEYS
from services.locations import LASTLOC_KEY
from tests.wechat_helpers import OPENID, fake_api, make_wechat, message_xml, wechat  # noqa: F401  (fixtures)


@pytest.mark.parametrize("key", ["", "qrscene_123"], ids=["search", "qr-code"])
async def test_subscribe_gets_welcome_and_menu(wechat, db, key):
    ct = int(time.time())
    answer = await wechat.post(message_xml("event", create_time=ct, Event="subscribe", EventKey=key))
    assert answer.text.startswith("您好！我是邻里小助手")
    assert "1 报事报修" in answer.text
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "event" and turn["intent"] == "greet"
    assert turn["message_id"] == f"{OPENID}:{ct}:subscribe"


async def test_unsubscribe_clears_the_dialogue(wechat, db, redis):
    await redis.set(f"linli:dialogue:wechat:{OPENID}", json.dumps({"flow": "report", "step": "where"}))
    await redis.set(LASTLOC_KEY.format(openid=OPENID), "{}")
    answer = await wechat.send("event", Event="unsubscribe")
    assert answer.body == "success" and answer.reply is None
    assert await redis.get(f"linli:dialogue:wechat:{OPENID}") is None
    assert await redis.get(LASTLOC_KEY.format(openid=OPENID)) is None
    assert await db.conversations.count_documents({}) == 0


@pytest.mark.parametrize("key,intent", [*MENU_KEYS.items(), ("NO_SUCH_KEY", "help")])
async def test_menu_clicks_open_capabilities(wechat, db, nlu_service, key, intent):
    before = nlu_service.parses
    answer = await wechat.send("event", Event="CLICK", EventKey=key)
    assert answer.text
    assert nlu_service.parses == before
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "event" and turn["intent"] == intent


async def test_help_click_shows_the_main_menu(wechat):
    answer = await wechat.send("event", Event="CLICK", EventKey="MENU_HELP")
    assert answer.text.startswith("主菜单") and "7 附近驿站" in answer.text


async def test_location_event_only_remembers_the_location(wechat, db, redis):
    answer = await wechat.send("event", Event="LOCATION", Latitude=22.54, Longitude=114.06, Precision=30.0)
    assert answer.body == "success"
    last = json.loads(await redis.get(LASTLOC_KEY.format(openid=OPENID)))
    assert (last["latitude"], last["longitude"], last["precision"]) == (22.54, 114.06, 30.0)
    assert await db.conversations.count_documents({}) == 0


async def test_view_event_is_acknowledged(wechat, db):
    answer = await wechat.send("event", Event="VIEW", EventKey="https://example.com/page")
    assert answer.body == "success"
    assert await db.conversations.count_documents({}) == 0
