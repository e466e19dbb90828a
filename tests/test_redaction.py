"""H2: phone numbers (any spacing), ID-card numbers and exact addresses are masked in every
free text shown to staff without the right to see contact details."""
from __future__ import annotations

import pytest

from storage.redaction import redact_text


@pytest.mark.parametrize("text,expected", [
    ("我的手机是13912345678", "我的手机是139****5678"),
    ("好的，139 1234 5678 对吗", "好的，139****5678 对吗"),
    ("电话139-1234-5678。", "电话139****5678。"),
    ("+86 139 1234 5678", "139****5678"),
    ("1 3 9 1 2 3 4 5 6 7 8", "139****5678"),
    ("１３９１２３４５６７８", "139****5678"),
    ("一三九一二三四五六七八", "139****5678"),
    ("139.1234.5678", "139****5678"),
    ("座机0755-83221234", "座机075****1234"),
    ("身份证440304199001011234", "身份证44**************34"),
    ("身份证 44030419900101123X 号", "身份证 44**************3X 号"),
    ("住3栋501", "住3栋***"),
    ("华富路12号3栋2单元501室漏水", "华富路12号3栋***漏水"),
    ("2单元501", "2单元***"),
    ("12-3-501", "***"),
    ("501室", "***室"),
])
def test_redact_text(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "工单 R20261122-0001 已受理", "2026-11-25 14:00", "3栋门口路灯坏了", "华富路12号", "65a1b2c3d4e5f60718293a4b",
    "（22.54170, 114.07930）", "积分 120 分", "",
])
def test_redact_text_leaves_other_text(text):
    assert redact_text(text) == text


# -- the console: what grid workers (no right to contact details) and admins see -------------

import pytest_asyncio  # noqa: E402

from bot import keys  # noqa: E402
from services.report_rules import NewReport, Reporter  # noqa: E402
from storage.callbacks import CallbackRepository  # noqa: E402
from storage.reports import Actor  # noqa: E402
from storage.residents import ResidentRepository  # noqa: E402
from tests.api_helpers import console_login, fast_argon2, seed_places_and_staff  # noqa: E402,F401

A = "huafu-tianmian"
PHONE, SPACED, ID_CARD = "13912345678", "139 1234 5678", "440304199001011234"


@pytest_asyncio.fixture
async def records(make_client, db):
    await seed_places_and_staff(db, A)
    client = await make_client()
    resident = await ResidentRepository(db).for_user_key("rest:alice", A)
    callback, _ = await CallbackRepository(db).open_request(
        resident_id=resident.id, user_key="rest:alice", channel="rest", community=A, phone=PHONE, reason="asked",
        turns=[{"text": f"我的手机是{PHONE}", "replies": [f"您的电话是 {SPACED}，对吗？"], "kind": "text"},
               {"text": f"身份证{ID_CARD}，住3栋2单元501室", "replies": ["好的"], "kind": "text"}],
        elder=False,
    )
    service = client.app[keys.REPORTS]
    created = await service.create(Reporter(resident.id, "rest:alice", A), NewReport(
        category="drainage", description=f"3栋501下水道堵了，电话{SPACED}", location_text="3栋501门口"))
    await service.act(created.own_ticket, "start", Actor("staff", "s1", "王网格"), note=f"已电话联系 {PHONE}")
    return {"client": client, "callback": callback.id, "ticket": created.own_ticket}


async def test_grid_workers_see_free_text_masked(records):
    client = records["client"]
    await console_login(client, "grid-a")
    pages = [await (await client.get(f"/console/callbacks/{records['callback']}")).text(),
             await (await client.get(f"/console/reports/{records['ticket']}")).text()]
    text = "\n".join(pages)
    for secret in (PHONE, SPACED, ID_CARD, "3栋2单元501", "3栋501"):
        assert secret not in text
    assert "139****5678" in pages[0] and "139****5678" in pages[1] and "3栋***" in pages[1]
    assert "44**************34" in pages[0]


async def test_admins_see_free_text_in_full(records):
    client = records["client"]
    await console_login(client, "admin-a")
    page = await (await client.get(f"/console/callbacks/{records['callback']}")).text()
    assert f"我的手机是{PHONE}" in page and SPACED in page and ID_CARD in page
    ticket = await (await client.get(f"/console/reports/{records['ticket']}")).text()
    assert f"电话{SPACED}" in ticket and f"已电话联系 {PHONE}" in ticket


async def test_grid_workers_cannot_confirm_a_phone_number_by_searching(make_client, db):
    """L3: the points lookup by phone number is for staff who may see phone numbers."""
    await seed_places_and_staff(db, A)
    resident = await ResidentRepository(db).for_user_key("rest:alice", A)
    await ResidentRepository(db).update_profile(resident.id, phone=PHONE)
    client = await make_client()
    await console_login(client, "grid-a")
    known = await client.get("/console/points/residents", params={"q": PHONE}, allow_redirects=False)
    unknown = await client.get("/console/points/residents", params={"q": "13900000000"}, allow_redirects=False)
    assert known.status == unknown.status == 400  # the same answer: nothing learnt
    assert PHONE not in await known.text()
    by_id = await client.get("/console/points/residents", params={"q": resident.id}, allow_redirects=False)
    assert by_id.status == 302
    await client.post("/console/logout", data={})
    admin = await make_client()
    await console_login(admin, "admin-a")
    found = await admin.get("/console/points/residents", params={"q": PHONE}, allow_redirects=False)
    assert found.status == 302 and found.headers["Location"].endswith(resident.id)
