"""WeChat photos: an image message's MediaId is fetched with the media API when it arrives
and kept in GridFS (WeChat keeps media for 3 days); the console's ticket page shows the
photo. The fake WeChat server serves media as documented (image bytes, image/jpeg; JSON
40007 for an unknown media_id)."""
from __future__ import annotations

import asyncio
import re

import pytest

from bot import keys
from bot.wechat_api import WeChatApiError, WeChatClient
from storage.photos import PhotoStore
from tests.api_helpers import console_login, fast_argon2, make_staff, seed_places  # noqa: F401
from tests.wechat_helpers import APP_ID, APP_SECRET, OPENID, fake_api, make_wechat  # noqa: F401

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
TICKET = re.compile(r"R\d{8}-\d{4}")
BOUND = 120.0  # seconds a background fetch may take on a busy machine


async def until(check, what: str, bound: float = BOUND):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def test_media_api_client_gets_bytes_and_error_codes(fake_api, redis):
    fake_api.add_media("m-ok", JPEG)
    client = WeChatClient(redis, APP_ID, APP_SECRET, fake_api.url)
    try:
        data, content_type = await client.get_media("m-ok")
        assert data == JPEG and content_type == "image/jpeg"
        with pytest.raises(WeChatApiError) as err:
            await client.get_media("m-unknown")
        assert err.value.errcode == 40007
        fake_api.invalidate_token()  # refreshed once, then served
        assert (await client.get_media("m-ok"))[0] == JPEG
        with pytest.raises(WeChatApiError):
            await client.get_media("m-ok", max_bytes=10)
    finally:
        await client.close()


async def report_with_photo(wechat, media_id: str) -> str:
    assert "照片" in (await wechat.send("text", Content="3栋门口路灯坏了")).text
    assert "核对" in (await wechat.send("image", PicUrl="http://mmbiz.example/p.jpg", MediaId=media_id)).text
    return TICKET.search((await wechat.send("text", Content="确认")).text).group(0)


async def test_a_wechat_photo_is_kept_in_gridfs_and_shown_on_the_ticket(make_wechat, fake_api, db):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", "huafu-tianmian")
    fake_api.add_media("media-photo-1", JPEG)
    client, wechat = await make_wechat(wechat_reply_budget=60.0)
    ticket = await report_with_photo(wechat, "media-photo-1")
    store: PhotoStore = client.app[keys.PHOTOS]
    photo_id = await until(lambda: store.find_media("media-photo-1"), "the photo in GridFS")
    files = await db["report_photos.files"].find({}).to_list(10)
    assert len(files) == 1 and files[0]["metadata"]["uploaded_by"] == f"wechat:{OPENID}"
    assert str(files[0]["_id"]) == photo_id
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["photos"][0]["source"] == "wechat" and doc["photos"][0]["media_id"] == "media-photo-1"

    # WeChat's copy expires: the console still shows ours.
    del fake_api.media["media-photo-1"]
    staff = await make_wechat_console(make_wechat)
    page = await (await staff.get(f"/console/reports/{ticket}")).text()
    assert f'<img src="/console/reports/{ticket}/photos/0"' in page and "media_id" not in page
    resp = await staff.get(f"/console/reports/{ticket}/photos/0")
    assert resp.status == 200 and resp.content_type == "image/jpeg" and await resp.read() == JPEG
    assert len(fake_api.media_requests) == 1  # fetched once, when it arrived


async def make_wechat_console(make_wechat):
    client, _ = await make_wechat()
    await console_login(client, "admin-a")
    return client


async def test_a_photo_wechat_no_longer_has_is_shown_as_missing(make_wechat, fake_api, db, caplog):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", "huafu-tianmian")
    client, wechat = await make_wechat(wechat_reply_budget=60.0)
    ticket = await report_with_photo(wechat, "media-gone")  # the fake does not know it: 40007
    media = client.app[keys.WECHAT_MEDIA]
    await until(lambda: asyncio.sleep(0, result=not media.background), "the fetch attempt")
    assert await db["report_photos.files"].count_documents({}) == 0
    assert "media-gone not stored" in caplog.text
    # Without the WeChat client (no AppSecret) the console says the photo is missing.
    plain = await make_wechat_console_without_api(make_wechat)
    page = await (await plain.get(f"/console/reports/{ticket}")).text()
    assert "微信照片未能取回" in page and f'/console/reports/{ticket}/photos/0"' not in page
    assert (await plain.get(f"/console/reports/{ticket}/photos/0")).status == 404
    # With it, a photo still within WeChat's 3 days is fetched when staff open it.
    fake_api.add_media("media-gone", JPEG)
    staff = await make_wechat_console(make_wechat)
    resp = await staff.get(f"/console/reports/{ticket}/photos/0")
    assert resp.status == 200 and await resp.read() == JPEG
    files = await db["report_photos.files"].find({}).to_list(10)
    assert len(files) == 1 and files[0]["metadata"]["media_id"] == "media-gone"


async def make_wechat_console_without_api(make_wechat):
    client, _ = await make_wechat(wechat_app_secret=None)
    await console_login(client, "admin-a")
    return client
