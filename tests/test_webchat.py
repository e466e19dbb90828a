"""The web chat at /chat: the signed-cookie identity, the token, the rate limit, and a whole
report chatted in real headless Chromium."""
from __future__ import annotations

import re

from tests.browser import Browser

TICKET = re.compile(r"R\d{8}-\d{4}")


async def test_identity_is_a_signed_cookie_the_page_cannot_choose(client, db):
    resp = await client.get("/chat")
    assert resp.status == 200
    text = await resp.text()
    token = re.search(r'data-token="([0-9a-f]{32})"', text).group(1)
    cookie = resp.cookies["linli_chat"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    ident = cookie.value.split(".")[0]
    resp = await client.post("/chat/send", json={"message": "你好"}, headers={"X-Chat-Token": token})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())[0]["text"]
    assert await db.conversations.count_documents({"user_key": f"web:{ident}"}) >= 1
    # Without the token, or with a forged cookie, nothing reaches the dialogue.
    assert (await client.post("/chat/send", json={"message": "你好"})).status == 403
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"linli_chat": "wabcdef012345.0000"})
    resp = await client.post("/chat/send", json={"message": "你好"}, headers={"X-Chat-Token": token})
    assert resp.status == 401
    # A sender field in the body is ignored: there is none to choose.


async def test_rate_limited_like_the_rest_channel(make_client):
    client = await make_client(rate_chat_per_minute=2)
    text = await (await client.get("/chat")).text()
    token = re.search(r'data-token="([0-9a-f]{32})"', text).group(1)
    codes = [(await client.post("/chat/send", json={"message": "你好"}, headers={"X-Chat-Token": token})).status
             for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_a_whole_report_chatted_in_chromium(client, db):
    url = str(client.make_url("/chat"))
    async with Browser(width=420, height=860) as browser:
        await browser.goto(url)
        await browser.wait("document.querySelectorAll('.msg.bot').length >= 1", "the greeting")
        assert await browser.unlabeled_fields() == []

        async def say(text: str) -> str:
            before = await browser.js("document.querySelectorAll('.msg.bot').length")
            await browser.fill("#message", text)
            await browser.click("#send")
            await browser.wait(f"document.querySelectorAll('.msg.bot').length > {before}"
                               " && document.querySelector('.phone').dataset.busy === '0'", f"reply to {text}")
            return await browser.js("Array.from(document.querySelectorAll('.msg.bot')).slice(-3)"
                                    ".map(e => e.textContent).join('\\n')")

        # The menu's buttons carry payloads: 报事报修 is one tap.
        before = await browser.js("document.querySelectorAll('.msg.bot').length")
        assert await browser.js("document.querySelectorAll('.buttons button').length") > 0
        await browser.click(".buttons button[data-payload='1']")
        await browser.wait(f"document.querySelectorAll('.msg.bot').length > {before}"
                           " && document.querySelector('.phone').dataset.busy === '0'", "category question")
        assert "哪一类问题" in await browser.js("document.querySelector('.msg.bot:last-child').textContent")
        assert "下水道" in await say("3")
        assert "什么情况" in await say("华富路口")
        reply = await say("井盖往外冒污水，很臭")
        assert "请核对" in reply and "华富路口" in reply
        await browser.screenshot("chat-readback")
        reply = await say("确认")
        ticket = TICKET.search(reply).group(0)
        await browser.screenshot("chat-ticket")
        assert browser.errors == []
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["category"] == "drainage" and doc["location_text"] == "华富路口" and doc["channel"] == "web"
