"""Reports through the mini-program API: multipart creation with a photo, bad uploads,
my tickets, rating, reopening and notices."""
from __future__ import annotations

import pytest
from aiohttp import FormData

from bot import keys
from storage.reports import Actor
from tests.api_helpers import api, bearer, fake_mp, fast_argon2, login, mp_settings, seed_places  # noqa: F401  (fixtures)

URL = "/api/v1/reports"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 3000 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500
GIF = b"GIF89a" + b"\x00" * 500
STAFF = Actor("staff", "s1", "李网格")


def form(photos: list[tuple[bytes, str, str]] = (), **fields: str) -> FormData:
    data = FormData()
    values = {"category": "road", "description": "人行道地砖翘起来了，老人容易绊倒", "location_text": "华富路12号门口",
              "lat": "22.5431", "lng": "114.0579", **fields}
    for name, value in values.items():
        if value is not None:
            data.add_field(name, value)
    for content, filename, content_type in photos:
        data.add_field("photo", content, filename=filename, content_type=content_type)
    return data


@pytest.fixture
async def alice(api, fake_mp):
    return bearer(await login(api, fake_mp, "openid-alice"))


@pytest.fixture
async def bob(api, fake_mp):
    return bearer(await login(api, fake_mp, "openid-bob"))


async def error_of(resp, status: int) -> dict:
    assert resp.status == status, await resp.text()
    error = (await resp.json())["error"]
    assert error["message"] and error["detail"]
    return error


async def test_create_with_photo_then_read_it_back(api, alice, bob, db):
    resp = await api.post(URL, headers=alice, data=form([(JPEG, "road.jpg", "image/jpeg")]))
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    report = created["report"]
    assert created["duplicate"] is False and created["own_ticket"] == report["ticket"]
    assert report["category"] == "road" and report["category_name"] == "道路破损"
    assert report["status"] == "dispatched" and report["mine"] is True
    assert report["latitude"] == 22.5431 and report["longitude"] == 114.0579
    assert report["history"][0]["action"] == "submit" and report["history"][0]["by"] == "resident"
    photo_url = report["photos"][0]["url"]
    photo = await api.get(photo_url, headers=alice)
    assert photo.status == 200 and photo.content_type == "image/jpeg" and await photo.read() == JPEG
    doc = await db.reports.find_one({"_id": report["ticket"]})
    assert doc["channel"] == "mp" and doc["source"] == "api"
    assert doc["photos"][0]["content_type"] == "image/jpeg" and doc["photos"][0]["size"] == len(JPEG)
    # Bob sees none of it.
    assert (await api.get(f"{URL}/{report['ticket']}", headers=bob)).status == 404
    assert (await api.get(photo_url, headers=bob)).status == 404
    assert (await (await api.get(URL, headers=bob)).json())["reports"] == []
    mine = (await (await api.get(URL, headers=alice)).json())["reports"]
    assert [r["ticket"] for r in mine] == [report["ticket"]]
    # Without a token nothing at all.
    assert (await api.get(URL)).status == 401
    assert (await api.get(photo_url)).status == 401


async def test_json_creation_and_png(api, alice):
    resp = await api.post(URL, headers=alice, json={"category": "noise", "description": "半夜KTV很吵"})
    assert resp.status == 201, await resp.text()
    report = (await resp.json())["report"]
    assert report["location_text"] is None and report["latitude"] is None and report["photos"] == []
    resp = await api.post(URL, headers=alice, data=form([(PNG, "a.png", "image/png"), (JPEG, "b.jpg", "image/jpeg")],
                                                        category="garbage", location_text="5栋"))
    assert resp.status == 201, await resp.text()
    photos = (await resp.json())["report"]["photos"]
    assert len(photos) == 2
    png = await api.get(photos[0]["url"], headers=alice)
    assert png.content_type == "image/png" and await png.read() == PNG


@pytest.mark.parametrize("photos,fields,status,code", [
    ([(GIF, "x.jpg", "image/jpeg")], {}, 400, "bad_photo_type"),  # the bytes decide, not the name or type
    ([(b"MZ\x90\x00" + b"\x00" * 100, "x.png", "image/png")], {}, 400, "bad_photo_type"),
    ([(b"<svg onload=alert(1)>", "x.png", "image/png")], {}, 400, "bad_photo_type"),
    ([(b"", "x.jpg", "image/jpeg")], {}, 400, "empty_photo"),
    ([(JPEG, "x.jpg", "image/jpeg")] * 4, {}, 400, "too_many_photos"),
    ([], {"category": "ufo"}, 400, "invalid_category"),
    ([], {"category": None}, 400, "invalid_category"),
    ([], {"description": " "}, 400, "invalid_description"),
    ([], {"lat": "north"}, 400, "invalid_lat"),
    ([], {"lat": "95"}, 400, "invalid_lat"),
    ([], {"lng": None}, 400, "invalid_lat"),
    ([], {"owner": "x"}, 400, "invalid_body"),
    ([], {"description": "长" * 501}, 400, "invalid_description"),
])
async def test_bad_uploads_are_rejected_and_nothing_is_stored(api, alice, db, photos, fields, status, code):
    error = await error_of(await api.post(URL, headers=alice, data=form(photos, **fields)), status)
    assert error["code"] == code
    assert await db.reports.count_documents({}) == 0
    assert await db["report_photos.files"].count_documents({}) == 0


async def test_oversized_photo_is_refused(make_client, fake_mp, db):
    client = await make_client(**mp_settings(fake_mp, upload_max_bytes=2048))
    headers = bearer(await login(client, fake_mp, "openid-alice"))
    error = await error_of(await client.post(URL, headers=headers, data=form([(JPEG, "x.jpg", "image/jpeg")])), 413)
    assert error["code"] == "photo_too_large"
    small = JPEG[:1000] + b"\xff\xd9"
    assert (await client.post(URL, headers=headers, data=form([(small, "x.jpg", "image/jpeg")]))).status == 201
    # A body larger than any allowed upload is refused from its Content-Length.
    huge = form([(JPEG * 3, "x.jpg", "image/jpeg")] * 3)
    error = await error_of(await client.post(URL, headers=headers, data=huge), 413)
    assert error["code"] in ("body_too_large", "photo_too_large")
    assert await db.reports.count_documents({}) == 1


async def test_other_content_types_are_refused(api, alice):
    resp = await api.post(URL, headers={**alice, "Content-Type": "text/plain"}, data="category=road")
    assert (await error_of(resp, 415))["code"] == "unsupported_media_type"
    resp = await api.post(URL, headers={**alice, "Content-Type": "multipart/form-data; boundary=zz"}, data=b"garbage")
    assert resp.status == 400


async def test_same_problem_nearby_is_linked(api, alice, bob):
    first = (await (await api.post(URL, headers=alice, data=form())).json())["report"]["ticket"]
    resp = await api.post(URL, headers=bob, data=form(lat="22.5432", lng="114.0580", location_text="华富路12号"))
    created = await resp.json()
    assert resp.status == 201 and created["duplicate"] is True
    assert created["report"]["ticket"] == first and created["own_ticket"] != first
    assert created["report"]["mine"] is False
    assert created["report"]["location_text"] == "华富路12号门口"
    bobs = (await (await api.get(URL, headers=bob)).json())["reports"]
    assert [r["ticket"] for r in bobs] == [first]
    everything = (await (await api.get(URL, headers=bob, params={"status": "all"})).json())["reports"]
    assert {r["ticket"] for r in everything} == {first, created["own_ticket"]}
    assert (await api.get(f"{URL}/{first}", headers=bob)).status == 200  # a follower may look


async def test_rating_reopening_and_notices(api, alice, bob):
    ticket = (await (await api.post(URL, headers=alice, data=form())).json())["report"]["ticket"]
    rating = f"{URL}/{ticket}/rating"
    error = await error_of(await api.post(rating, headers=alice, json={"stars": 5}), 409)
    assert error["code"] == "not_resolved"
    service = api.app[keys.REPORTS]
    await service.act(ticket, "start", STAFF)
    await service.act(ticket, "resolve", STAFF, note="地砖已重新铺好")
    notices = (await (await api.get("/api/v1/notices", headers=alice)).json())["notices"]
    assert len(notices) == 2 and notices[0]["ref"] == ticket and "地砖已重新铺好" in notices[0]["text"]
    assert notices[0]["read"] is False
    assert (await (await api.get("/api/v1/notices", headers=bob)).json())["notices"] == []
    detail = await (await api.get(f"{URL}/{ticket}", headers=alice)).json()
    assert detail["status"] == "resolved" and detail["can_rate"] is True
    assert [h["action"] for h in detail["history"]] == ["submit", "dispatch", "start", "resolve"]
    assert "李网格" not in str(detail) and "s1" not in str(detail)  # no staff identities for residents

    reopened = await (await api.post(f"{URL}/{ticket}/reopen", headers=alice, json={"note": "下雨又松了"})).json()
    assert reopened["status"] == "in_progress"
    await service.act(ticket, "resolve", STAFF, note="用水泥固定了")

    assert (await error_of(await api.post(rating, headers=alice, json={"stars": 6}), 400))["code"] == "invalid_stars"
    assert (await error_of(await api.post(rating, headers=alice, json={"stars": "5"}), 400))["code"] == "invalid_stars"
    assert (await api.post(rating, headers=bob, json={"stars": 1})).status == 404
    rated = await (await api.post(rating, headers=alice, json={"stars": 4, "comment": "第二次修好了"})).json()
    assert rated["status"] == "closed" and rated["rating"] == {"stars": 4, "comment": "第二次修好了"}
    error = await error_of(await api.post(rating, headers=alice, json={"stars": 5}), 409)
    assert error["code"] == "already_rated"

    first_id = notices[0]["id"]
    marked = await (await api.post("/api/v1/notices/read", headers=alice, json={"ids": [first_id, "nonsense"]})).json()
    assert marked == {"marked": 1}
    unread = (await (await api.get("/api/v1/notices", headers=alice, params={"unread": "1"})).json())["notices"]
    assert first_id not in {n["id"] for n in unread} and unread
    assert (await (await api.post("/api/v1/notices/read", headers=alice, json={})).json())["marked"] == len(unread)
    assert (await (await api.get("/api/v1/notices", headers=alice, params={"unread": "1"})).json())["notices"] == []


async def test_unknown_and_malformed_tickets(api, alice):
    assert (await api.get(f"{URL}/R20990101-0001", headers=alice)).status == 404
    assert (await api.get(f"{URL}/not-a-ticket", headers=alice)).status == 404
    resp = await api.post(f"{URL}/R20990101-0001/rating", headers=alice, json={"stars": 5})
    assert resp.status == 404


async def test_openapi_describes_the_report_endpoints(api):
    doc = await (await api.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    for path in ("/api/v1/reports", "/api/v1/reports/{ticket}", "/api/v1/reports/{ticket}/rating",
                 "/api/v1/reports/{ticket}/photos/{index}", "/api/v1/notices", "/api/v1/notices/read"):
        assert path in paths
    create = paths["/api/v1/reports"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert {"Report", "ReportCreated", "Notice", "RatingRequest"} <= set(doc["components"]["schemas"])


async def test_photos_per_resident_per_day_are_limited(make_client, fake_mp, db):
    """Issue 13, L6: one resident cannot fill GridFS; the refused report stores nothing."""
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, upload_photos_per_day=3))
    carol = bearer(await login(client, fake_mp, "openid-carol"))
    photos = [(JPEG, "a.jpg", "image/jpeg"), (PNG, "b.png", "image/png")]
    first = await client.post(URL, headers=carol, data=form(photos, location_text="1栋"))
    assert first.status == 201, await first.text()
    second = await client.post(URL, headers=carol, data=form(photos, location_text="2栋", category="garbage"))
    error = await error_of(second, 429)
    assert error["code"] == "photo_quota" and "上限" in error["message"]
    assert await db["report_photos.files"].count_documents({}) == 2
    assert await db.reports.count_documents({}) == 1
    # without photos the report still goes in; another resident has their own quota
    no_photo = await client.post(URL, headers=carol, data=form(location_text="2栋", category="garbage"))
    assert no_photo.status == 201
    dave = bearer(await login(client, fake_mp, "openid-dave"))
    assert (await client.post(URL, headers=dave, data=form(photos, location_text="3栋", category="noise"))).status == 201
