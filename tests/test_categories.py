"""Every report category of the contract (../shared/CONTRACT.md, issue 16.2) appears everywhere a
category does: routing defaults (department, SLA hours), the numbered menu in chat (every page),
the console's ticket-board filter and statistics, and the mini-program API's enum."""
from __future__ import annotations

import re

import pytest_asyncio

from bot import keys
from handlers.flow_choices import screen_of
from handlers.report import category_choices
from services.report_rules import NewReport, Reporter
from storage.residents import ResidentRepository
from storage.routing import CATEGORIES, DEFAULT_ROUTES
from tests.api_helpers import console_login, fast_argon2, make_staff, seed_places  # noqa: F401

# The contract's list, written out here on purpose: a code dropped anywhere fails this test.
CONTRACT_CATEGORIES = [
    "streetlight", "road", "drainage", "garbage", "vending", "parking", "parcel", "noise", "throwing",
    "facility", "elevator", "fire", "greening", "water", "dispute", "security", "power", "gas",
    "pollution", "illegal_building", "property", "animal", "other",
]
NEW = ["power", "gas", "pollution", "illegal_building", "property", "animal"]
A = "huafu-tianmian"
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_one_list_has_every_code_with_a_chinese_name():
    assert list(CATEGORIES) == CONTRACT_CATEGORIES
    assert all(HAN.search(name) for name in CATEGORIES.values())
    assert len(set(CATEGORIES.values())) == len(CATEGORIES)  # a filter shows each name once


def test_routing_has_a_department_and_sla_for_every_code():
    assert set(DEFAULT_ROUTES) == set(CONTRACT_CATEGORIES)
    for code, route in DEFAULT_ROUTES.items():
        assert route.category == code and HAN.search(route.department) and route.sla_hours > 0


def test_the_numbered_menu_reaches_every_code():
    choices = category_choices(None)
    pages = (len(choices) + 6) // 7
    shown = [choice.value for page in range(pages) for _, choice in screen_of(choices, page)[0]]
    assert sorted(shown) == sorted(CONTRACT_CATEGORIES) and len(shown) == len(CONTRACT_CATEGORIES)
    assert all(choice.title == CATEGORIES[choice.value] for choice in choices)


async def test_the_api_enum_lists_every_code(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    enums = []

    def walk(node):
        if isinstance(node, dict):
            if "category" in (node.get("properties") or {}):
                enums.append(node["properties"]["category"].get("enum"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert enums and all(enum == CONTRACT_CATEGORIES for enum in enums), enums


@pytest_asyncio.fixture
async def board(make_client, db):
    """An admin of A and one ticket of each new category."""
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    client = await make_client()
    resident = await ResidentRepository(db).for_user_key("rest:cat", A)
    tickets = {}
    for n, code in enumerate(NEW):
        created = await client.app[keys.REPORTS].create(
            Reporter(resident.id, "rest:cat", A),
            NewReport(category=code, description=f"{CATEGORIES[code]}的问题", location_text=f"{n + 1}栋门口"))
        tickets[code] = created.own_ticket
    await console_login(client, "admin-a")
    return client, tickets


async def test_the_board_filter_and_statistics_know_every_code(board):
    client, tickets = board
    page = await (await client.get("/console/reports")).text()
    select = page[page.index('name="category"'):]
    select = select[:select.index("</select>")]
    options = re.findall(r'<option value="([a-z_]+)"', select)
    assert options == CONTRACT_CATEGORIES
    for code, name in CATEGORIES.items():
        assert f">{name}</option>" in select
    for code, ticket in tickets.items():  # the filter finds each new category's ticket, and only it
        text = await (await client.get("/console/reports", params={"category": code})).text()
        assert ticket in text and all(t not in text for c, t in tickets.items() if c != code)
    stats = await (await client.get("/console/reports/stats", params={"period": "all"})).text()
    assert all(CATEGORIES[code] in stats for code in NEW)
    data = await (await client.get("/console/reports/stats.json", params={"period": "all"})).json()
    names = {item["name"] for item in data["tickets_per_category"]}
    assert {CATEGORIES[code] for code in NEW} <= names
    routing = await (await client.get("/console/reports/routing")).text()
    assert all(CATEGORIES[code] in routing for code in CONTRACT_CATEGORIES)
