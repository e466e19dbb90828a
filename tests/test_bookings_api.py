"""Mini-program booking API and the staff console's booking pages, against real servers."""
from __future__ import annotations

from datetime import timedelta

import pytest_asyncio

from bot import keys
from storage.audit import COLLECTION as AUDIT
from storage.booking_catalog import TZ, service_id
from storage.bookings import seed_catalog
from storage.residents import ResidentRepository
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, cancellable, console_login, csrf_of, fake_mp, fast_argon2, login, make_staff,
)

COMMUNITY = "huafu-tianmian"


@pytest_asyncio.fixture
async def booking_api(api, db):
    await seed_catalog(db)
    return api


async def me(client, token: str) -> dict:
    return await (await client.get("/api/v1/me", headers=bearer(token))).json()


async def profile(client, token: str, **fields) -> None:
    resp = await client.patch("/api/v1/me", json=fields, headers=bearer(token))
    assert resp.status == 200, await resp.text()


async def volunteer_slot(client, token: str, capacity: int | None = None) -> dict:
    """The first volunteer slot that can still be cancelled (optionally resized in the database)."""
    resp = await client.get("/api/v1/services/volunteer/slots", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    slot = cancellable((await resp.json())["slots"])
    if capacity is not None:
        await client.app[keys.MONGO]["booking_slots"].update_one({"_id": slot["id"]}, {"$set": {"capacity": capacity}})
    return slot


async def test_services_say_who_may_book(booking_api, fake_mp):
    token = await login(booking_api, fake_mp, "openid-young")
    await profile(booking_api, token, birth_year=1996)
    resp = await booking_api.get("/api/v1/services", headers=bearer(token))
    assert resp.status == 200
    services = {s["code"]: s for s in (await resp.json())["services"]}
    assert list(services) == ["elderly_meal", "health_check", "rehab_rental", "volunteer", "rest_room", "legal_aid",
                              "venue"]
    meal = services["elderly_meal"]
    assert meal["eligible"] is False and "60岁及以上" in meal["ineligible_reason"]
    assert meal["for_whom"] == "60岁及以上的老人，或持残疾证的居民"
    assert services["volunteer"]["eligible"] is True and services["rehab_rental"]["kind"] == "rental"


async def test_slots_filter_by_date_and_reject_bad_input(booking_api, fake_mp):
    token = await login(booking_api, fake_mp)
    slots = (await (await booking_api.get("/api/v1/services/elderly_meal/slots", headers=bearer(token))).json())["slots"]
    assert slots and all(s["free"] == 30 or s["free"] == 20 for s in slots)
    day = slots[-1]["start"][:10]
    one_day = await (await booking_api.get(f"/api/v1/services/elderly_meal/slots?date={day}",
                                           headers=bearer(token))).json()
    assert {s["start"][:10] for s in one_day["slots"]} == {day}
    bad = await booking_api.get("/api/v1/services/elderly_meal/slots?date=tomorrow", headers=bearer(token))
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_date"
    assert (await booking_api.get("/api/v1/services/massage/slots", headers=bearer(token))).status == 404
    rental = await (await booking_api.get("/api/v1/services/rehab_rental/slots", headers=bearer(token))).json()
    assert {s["unit"] for s in rental["slots"]} == {"wheelchair", "walker", "crutches", "care_bed"}
    assert len(rental["pickup_dates"]) >= 10


async def test_book_list_cancel(booking_api, fake_mp, db):
    token = await login(booking_api, fake_mp)
    await profile(booking_api, token, birth_year=1990)
    slot = await volunteer_slot(booking_api, token)
    resp = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]}, headers=bearer(token))
    assert resp.status == 201, await resp.text()
    booking = (await resp.json())["booking"]
    assert booking["status"] == "booked" and len(booking["booking_no"]) == 8 and booking["for_me"] is True
    again = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]}, headers=bearer(token))
    assert again.status == 409 and (await again.json())["error"]["code"] == "duplicate"
    mine = await (await booking_api.get("/api/v1/bookings", headers=bearer(token))).json()
    assert [b["id"] for b in mine["bookings"]] == [booking["id"]]
    stored = await db["bookings"].find_one({"_id": booking["id"]})
    assert stored["channel"] == "mp" and stored["user_key"].startswith("mp:")
    resp = await booking_api.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "临时有事"},
                                  headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["booking"]["status"] == "cancelled"
    resp = await booking_api.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=bearer(token))
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "not_active"
    assert (await db["booking_slots"].find_one({"_id": slot["id"]}))["booked"] == 0


async def test_bad_bodies_are_refused_and_change_nothing(booking_api, fake_mp, db):
    token = await login(booking_api, fake_mp)
    slot = await volunteer_slot(booking_api, token)
    for body, status, code in [
        ({"slot_id": {"$ne": None}}, 400, "invalid_slot_id"),
        ({"slot_id": slot["id"], "admin": True}, 400, "invalid_body"),
        ({"slot_id": "not-an-id"}, 404, "not_found"),
        ({"slot_id": slot["id"], "waitlist": "yes"}, 400, "invalid_waitlist"),
        ({"slot_id": slot["id"], "for_resident_id": "5f" * 12}, 403, "not_linked"),
        ({}, 400, "invalid_slot_id"),
    ]:
        resp = await booking_api.post("/api/v1/bookings", json=body, headers=bearer(token))
        assert resp.status == status, (body, await resp.text())
        error = (await resp.json())["error"]
        assert error["code"] == code and error["message"] and error["detail"]
    ineligible = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]}, headers=bearer(token))
    assert ineligible.status == 403 and (await ineligible.json())["error"]["code"] == "age_unknown"
    assert await db["bookings"].count_documents({}) == 0
    assert (await db["booking_slots"].find_one({"_id": slot["id"]}))["booked"] == 0


async def test_full_slot_queues_and_the_offer_is_accepted(booking_api, fake_mp, db):
    first, second = await login(booking_api, fake_mp, "openid-a"), await login(booking_api, fake_mp, "openid-b")
    for token in (first, second):
        await profile(booking_api, token, birth_year=1988)
    slot = await volunteer_slot(booking_api, first, capacity=1)
    booked = await (await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]},
                                           headers=bearer(first))).json()
    full = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]}, headers=bearer(second))
    assert full.status == 409 and (await full.json())["error"]["message"] == "这个时段已经约满了。"
    queued = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"], "waitlist": True},
                                    headers=bearer(second))
    assert queued.status == 202 and (await queued.json())["waitlist"]["position"] == 1
    await booking_api.post(f"/api/v1/bookings/{booked['booking']['id']}/cancel", headers=bearer(first))
    mine = await (await booking_api.get("/api/v1/bookings", headers=bearer(second))).json()
    assert len(mine["offers"]) == 1 and mine["offers"][0]["offer_expires_at"]
    notices = await (await booking_api.get("/api/v1/notices", headers=bearer(second))).json()
    assert any("有名额了" in n["text"] for n in notices["notices"])
    resp = await booking_api.post(f"/api/v1/waitlist/{mine['offers'][0]['id']}/accept", headers=bearer(second))
    assert resp.status == 201, await resp.text()
    assert (await db["booking_slots"].find_one({"_id": slot["id"]}))["booked"] == 1


async def test_guessing_link_codes_locks_the_guesser_out(booking_api, fake_mp, redis):
    """A 6-digit code could be guessed at the API rate limit; five wrong codes lock the
    resident out of confirming for an hour, even with the right code."""
    son, stranger = await login(booking_api, fake_mp, "openid-son2"), await login(booking_api, fake_mp, "openid-x")
    mother = await login(booking_api, fake_mp, "openid-mum2")
    resp = await booking_api.post("/api/v1/resident-links", json={"relation": "family"}, headers=bearer(son))
    code = (await resp.json())["link"]["code"]
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 6)]
    for guess in wrong:
        resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": guess}, headers=bearer(stranger))
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_code"
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": code}, headers=bearer(stranger))
    assert resp.status == 429 and (await resp.json())["error"]["code"] == "too_many_tries"
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    # The lock is the guesser's alone; a wrong try followed by the right one is fine for others.
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": wrong[0]}, headers=bearer(mother))
    assert resp.status == 400
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": code}, headers=bearer(mother))
    assert resp.status == 200 and (await resp.json())["link"]["role"] == "elder"
    assert await redis.keys("linli:linkcode:fail:*") == []  # success clears the mother's count


async def test_family_link_by_code_then_proxy_booking(booking_api, fake_mp, db):
    son, mother = await login(booking_api, fake_mp, "openid-son"), await login(booking_api, fake_mp, "openid-mum")
    await profile(booking_api, mother, birth_year=1945, name="李秀英")
    resp = await booking_api.post("/api/v1/resident-links", json={"relation": "family", "label": "妈妈"},
                                  headers=bearer(son))
    assert resp.status == 201
    code = (await resp.json())["link"]["code"]
    bad = await booking_api.post("/api/v1/resident-links/confirm", json={"code": "12"}, headers=bearer(mother))
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_code"
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": code}, headers=bearer(mother))
    assert resp.status == 200 and (await resp.json())["link"]["role"] == "elder"
    links = (await (await booking_api.get("/api/v1/resident-links", headers=bearer(son))).json())["links"]
    mother_id = (await me(booking_api, mother))["id"]
    assert links[0]["other_resident_id"] == mother_id and links[0]["other_name"] == "李秀英"
    meal = await (await booking_api.get(f"/api/v1/services/elderly_meal/slots?for={mother_id}",
                                        headers=bearer(son))).json()
    assert meal["service"]["eligible"] is True
    resp = await booking_api.post("/api/v1/bookings", json={"slot_id": meal["slots"][-1]["id"],
                                                            "for_resident_id": mother_id}, headers=bearer(son))
    assert resp.status == 201, await resp.text()
    booking = (await resp.json())["booking"]
    assert booking["for_me"] is False and booking["for_resident_id"] == mother_id
    resp = await booking_api.delete(f"/api/v1/resident-links/{links[0]['id']}", headers=bearer(mother))
    assert resp.status == 204
    again = await booking_api.post("/api/v1/bookings", json={"slot_id": meal["slots"][-2]["id"],
                                                             "for_resident_id": mother_id}, headers=bearer(son))
    assert again.status == 403


async def test_openapi_documents_the_booking_routes(booking_api):
    doc = await (await booking_api.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/services", "/api/v1/services/{code}/slots", "/api/v1/bookings",
                 "/api/v1/bookings/{booking_id}/cancel", "/api/v1/waitlist/{entry_id}/accept",
                 "/api/v1/resident-links", "/api/v1/resident-links/confirm"):
        assert path in doc["paths"], path
    assert "Booking" in doc["components"]["schemas"]


# ---- console -----------------------------------------------------------------------------------

async def _booked_volunteer(client, db, phone: str) -> tuple[dict, dict]:
    """A resident with a phone booked on a volunteer slot (through the service)."""
    service = client.app[keys.BOOKINGS]
    repo = ResidentRepository(db)
    person = await repo.for_user_key(f"rest:{phone}", COMMUNITY)
    person = await repo.update_profile(person.id, name="张志愿", phone=phone, birth_year=1990)
    volunteer = await service.catalog.get(service_id(COMMUNITY, "volunteer"))
    start = service.clock() + timedelta(minutes=90)
    slot = await service.create_slot(volunteer, start, start + timedelta(hours=2), 10, "临时清洁")
    booking = (await service.book(slot["_id"], person)).booking
    return slot, booking


async def test_console_roster_attendance_and_scope(booking_api, db):
    slot, booking = await _booked_volunteer(booking_api, db, "13812345678")
    await make_staff(db, "grid", "grid_worker", community=COMMUNITY)
    await make_staff(db, "other", "community_admin", community="huafu-xintian")
    csrf = await console_login(booking_api, "grid")
    day = slot["start"].astimezone(TZ).date().isoformat()
    page = await (await booking_api.get(f"/console/bookings?date={day}")).text()
    assert "临时清洁" in page and "1 / 10" in page
    page = await (await booking_api.get(f"/console/bookings/slots/{slot['_id']}")).text()
    assert "张志愿" in page and booking["booking_no"] in page
    assert "13812345678" not in page and "138****5678" in page  # grid workers see phones masked
    # the activity has begun (moved into the past, as the day arrives)
    began = booking["start"] - timedelta(minutes=100)
    await db["bookings"].update_one({"_id": booking["_id"]}, {"$set": {"start": began}})
    await db["booking_slots"].update_one({"_id": slot["_id"]}, {"$set": {"start": began}})
    resp = await booking_api.post(f"/console/bookings/{booking['_id']}/attendance",
                                  data={"attendance": "attended", "_csrf": csrf}, allow_redirects=False)
    assert resp.status == 302
    assert (await db["bookings"].find_one({"_id": booking["_id"]}))["attendance"] == "attended"
    audit = await db[AUDIT].find_one({"action": "booking.attendance"})
    assert audit["record_id"] == booking["_id"] and audit["after"] == {"attendance": "attended"}
    # grid workers cannot edit slots
    resp = await booking_api.post(f"/console/bookings/slots/{slot['_id']}",
                                  data={"capacity": "20", "_csrf": csrf}, allow_redirects=False)
    assert resp.status == 403
    await booking_api.post("/console/logout", data={"_csrf": csrf})
    await console_login(booking_api, "other")
    assert (await booking_api.get(f"/console/bookings/slots/{slot['_id']}")).status == 404


async def test_console_slot_edit_and_create(booking_api, db):
    slot, _ = await _booked_volunteer(booking_api, db, "13900001111")
    await make_staff(db, "admin", "community_admin", community=COMMUNITY)
    csrf = await console_login(booking_api, "admin")
    resp = await booking_api.post(f"/console/bookings/slots/{slot['_id']}",
                                  data={"capacity": "0", "title": "x", "status": "open", "_csrf": csrf})
    assert resp.status == 400 and "名额要在1到1000之间" in await resp.text()
    await db["booking_slots"].update_one({"_id": slot["_id"]}, {"$set": {"booked": 3}})
    resp = await booking_api.post(f"/console/bookings/slots/{slot['_id']}",
                                  data={"capacity": "2", "title": "x", "status": "open", "_csrf": csrf})
    assert resp.status == 400 and "名额不能少于" in await resp.text()
    resp = await booking_api.post(f"/console/bookings/slots/{slot['_id']}", allow_redirects=False,
                                  data={"capacity": "12", "title": "周末清洁", "status": "closed", "_csrf": csrf})
    assert resp.status == 302
    stored = await db["booking_slots"].find_one({"_id": slot["_id"]})
    assert (stored["capacity"], stored["title"], stored["status"]) == (12, "周末清洁", "closed")
    form = await (await booking_api.get("/console/bookings/slots/new")).text()
    assert "新建时段" in form
    day = (slot["start"] + timedelta(days=3)).astimezone(TZ).date().isoformat()
    resp = await booking_api.post("/console/bookings/slots/new", allow_redirects=False, data={
        "service_id": service_id(COMMUNITY, "health_check"), "date": day, "start": "13:00", "end": "14:00",
        "capacity": "6", "title": "加开", "_csrf": csrf})
    assert resp.status == 302
    created = await db["booking_slots"].find_one({"title": "加开"})
    assert created["capacity"] == 6 and created["service"] == "health_check"
    resp = await booking_api.post("/console/bookings/slots/new", data={
        "service_id": service_id(COMMUNITY, "health_check"), "date": day, "start": "14:00", "end": "13:00",
        "capacity": "6", "_csrf": csrf})
    assert resp.status == 400 and "结束时间要晚于开始时间" in await resp.text()


async def test_console_links_by_phone(booking_api, db):
    repo = ResidentRepository(db)
    helper = await repo.for_user_key("rest:helper", COMMUNITY)
    await repo.update_profile(helper.id, phone="13700000001", name="小王")
    elder = await repo.for_user_key("rest:elder", COMMUNITY)
    await repo.update_profile(elder.id, phone="13700000002", name="王奶奶", birth_year=1940)
    await make_staff(db, "admin", "community_admin", community=COMMUNITY)
    csrf = await console_login(booking_api, "admin")
    resp = await booking_api.post("/console/bookings/links", data={
        "helper_phone": "13700000001", "elder_phone": "13799999999", "relation": "volunteer", "_csrf": csrf})
    assert resp.status == 400 and "没有找到这个手机号" in await resp.text()
    resp = await booking_api.post("/console/bookings/links", data={
        "helper_phone": "13700000001", "elder_phone": "13700000002", "relation": "volunteer", "label": "王奶奶",
        "_csrf": csrf})
    assert resp.status == 200 and "已绑定" in await resp.text()
    assert await booking_api.app[keys.BOOKINGS].links.is_linked(helper.id, elder.id)


# -- extreme dates are clear 400s (issue 13, M6) ------------------------------------------


async def test_extreme_dates_are_refused_not_overflowed(booking_api, fake_mp, db):
    token = await login(booking_api, fake_mp)
    for day in ("9999-12-31", "0001-01-01", "1899-01-01", "2101-01-01"):
        resp = await booking_api.get("/api/v1/services/health_check/slots", params={"date": day, "days": "31"},
                                     headers=bearer(token))
        assert resp.status == 400, (day, await resp.text())
        assert (await resp.json())["error"]["code"] == "invalid_date"
    rental = await (await booking_api.get("/api/v1/services/rehab_rental/slots", headers=bearer(token))).json()
    unit = rental["slots"][0]["id"]
    for day in ("9999-12-31", "0001-01-01"):
        resp = await booking_api.post("/api/v1/bookings", json={"slot_id": unit, "pickup_date": day},
                                      headers=bearer(token))
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_pickup_date"
    assert await db["bookings"].count_documents({}) == 0
    await make_staff(db, "admin-dates", "community_admin", community=COMMUNITY)
    csrf = await console_login(booking_api, "admin-dates")
    for day in ("9999-12-31", "0001-01-01"):
        resp = await booking_api.get("/console/bookings", params={"date": day})
        assert resp.status == 400 and resp.content_type == "text/html"
    before = await db["booking_slots"].count_documents({})
    resp = await booking_api.post("/console/bookings/slots/new", data={
        "service_id": service_id(COMMUNITY, "health_check"), "date": "0001-01-01", "start": "00:00", "end": "01:00",
        "capacity": "6", "_csrf": csrf})
    assert resp.status == 400 and "日期" in await resp.text()
    assert await db["booking_slots"].count_documents({}) == before


async def test_link_code_tries_count_per_code_not_per_login(booking_api, fake_mp, db):
    """Fresh accounts (or fresh logins) get no fresh tries at a code: each code survives a
    bounded number of wrong guesses in total (issue 13, M4)."""
    from storage.bookings import LINK_CODE_MAX_WRONG

    son = await login(booking_api, fake_mp, "openid-son3")
    resp = await booking_api.post("/api/v1/resident-links", json={"relation": "family"}, headers=bearer(son))
    code = (await resp.json())["link"]["code"]
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, LINK_CODE_MAX_WRONG + 1)]
    for i, guess in enumerate(wrong):
        if i % 4 == 0:  # a new account every four guesses stays under the per-resident lock
            attacker = await login(booking_api, fake_mp, f"openid-attacker-{i}")
        resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": guess}, headers=bearer(attacker))
        assert resp.status == 400
    attacker = await login(booking_api, fake_mp, "openid-attacker-last")
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": code}, headers=bearer(attacker))
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_code"
    assert await db["resident_links"].count_documents({"status": "confirmed"}) == 0


async def test_a_new_login_does_not_reset_the_residents_tries(booking_api, fake_mp):
    son = await login(booking_api, fake_mp, "openid-son4")
    resp = await booking_api.post("/api/v1/resident-links", json={"relation": "family"}, headers=bearer(son))
    code = (await resp.json())["link"]["code"]
    for n in range(1, 6):
        token = await login(booking_api, fake_mp, "openid-guesser")  # a new session before every try
        guess = f"{(int(code) + n) % 10**6:06d}"
        await booking_api.post("/api/v1/resident-links/confirm", json={"code": guess}, headers=bearer(token))
    token = await login(booking_api, fake_mp, "openid-guesser")
    resp = await booking_api.post("/api/v1/resident-links/confirm", json={"code": code}, headers=bearer(token))
    assert resp.status == 429


async def test_self_declared_eligibility_is_marked_until_staff_verify(booking_api, fake_mp, db):
    """Issue 13, L2: a resident's own birth year opens 老年助餐, but the booking shows
    待核实 to staff until they have seen the documents; a later change needs a new check."""
    token = await login(booking_api, fake_mp, "openid-grandpa")
    await profile(booking_api, token, birth_year=1950, name="张大爷")
    slots = (await (await booking_api.get("/api/v1/services/elderly_meal/slots", headers=bearer(token))).json())["slots"]
    slot = cancellable(slots)
    resp = await booking_api.post("/api/v1/bookings", json={"slot_id": slot["id"]}, headers=bearer(token))
    assert resp.status == 201, await resp.text()
    booking = await db["bookings"].find_one({"slot_id": slot["id"]})
    assert booking["eligibility_verified"] is False
    await make_staff(db, "grid-verify", "grid_worker", community=COMMUNITY)
    csrf = await console_login(booking_api, "grid-verify")
    page = await (await booking_api.get(f"/console/bookings/slots/{slot['id']}")).text()
    assert "张大爷" in page and "待核实" in page
    resident_id = booking["resident_id"]
    resp = await booking_api.post(f"/console/residents/{resident_id}/verify", data={"_csrf": csrf},
                                  allow_redirects=False)
    assert resp.status == 302
    assert (await db["bookings"].find_one({"_id": booking["_id"]}))["eligibility_verified"] is True
    page = await (await booking_api.get(f"/console/bookings/slots/{slot['id']}")).text()
    assert "待核实" not in page
    audit = await db["audit"].find_one({"action": "resident.verify"})
    assert audit["record_id"] == resident_id and audit["after"]["birth_year"] == 1950
    # the resident changes the verified fact: it is unverified again
    await profile(booking_api, token, birth_year=1940)
    detail = await (await booking_api.get(f"/console/residents/{resident_id}")).text()
    assert "待核实" in detail
