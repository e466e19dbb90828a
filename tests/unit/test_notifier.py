"""Notifier rules (services/notify.py) on in-memory residents and notices."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.wechat_api import SendResult
from services.notify import SKIPPED, STORED, WECHAT, Notifier, pick_user_key
from tests.fakes.people import FakeNoticeRepository, FakeResidentRepository
from tests.fakes.services import Clock

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)


class WeChatClient:
    def __init__(self, deliver: bool = True, broken: bool = False) -> None:
        self.deliver, self.broken, self.sent = deliver, broken, []

    async def send_text(self, openid: str, text: str) -> SendResult:
        if self.broken:
            raise ConnectionError("api down")
        self.sent.append((openid, text))
        return SendResult(True) if self.deliver else SendResult(False, 45015, "out of the 48h window")


@pytest.fixture
def parts():
    return FakeResidentRepository(), FakeNoticeRepository()


def notifier(parts, wechat=None) -> Notifier:
    residents, notices = parts
    return Notifier(notices, residents, wechat=lambda: wechat, clock=Clock(T0))


def test_the_identity_on_the_channel_used_comes_first():
    keys = ["rest:a", "wechat:o1", "deleted:x"]
    assert pick_user_key(keys, "wechat") == "wechat:o1"
    assert pick_user_key(keys, "mp") == "rest:a"
    assert pick_user_key(["deleted:x"], None) is None


async def test_wechat_users_get_a_message_others_a_stored_notice(parts):
    residents, notices = parts
    wechat = WeChatClient()
    person = await residents.for_user_key("wechat:o1", "c1")
    await residents.link_user_key(person.id, "rest:u1")
    send = notifier(parts, wechat)
    assert await send.notify(text="已派单", resident_id=person.id, channel="wechat", ref="R1") == WECHAT
    assert wechat.sent == [("o1", "已派单")] and notices.docs == []
    assert await send.notify(text="已办结", resident_id=person.id, channel="rest", ref="R1") == STORED
    stored = await send.for_resident(person.id)
    assert [(n.text, n.ref, n.created_at) for n in stored] == [("已办结", "R1", T0)]
    assert await send.mark_read(person.id) == 1


@pytest.mark.parametrize("client", [None, WeChatClient(deliver=False), WeChatClient(broken=True)])
async def test_an_undelivered_wechat_message_is_stored(parts, client):
    residents, notices = parts
    person = await residents.for_user_key("wechat:o1", "c1")
    assert await notifier(parts, client).notify(text="你好", resident_id=person.id, channel="wechat") == STORED
    assert [d["user_key"] for d in notices.docs] == ["wechat:o1"]


async def test_erased_or_unknown_people_are_never_contacted(parts):
    residents, notices = parts
    wechat = WeChatClient()
    send = notifier(parts, wechat)
    person = await residents.for_user_key("wechat:o1", "c1")
    assert await send.notify(text="x", resident_id=person.id, user_key="wechat:someone-else") == SKIPPED
    await residents.anonymise(person.id)
    assert await send.notify(text="x", resident_id=person.id, channel="wechat") == SKIPPED
    assert await send.notify(text="x", user_key="wechat:o1") == SKIPPED
    assert await send.notify(text="x", resident_id="no-such-resident") == SKIPPED
    assert wechat.sent == [] and notices.docs == []
