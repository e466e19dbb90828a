"""OpenAPI scenarios for POST /api/v1/chat (see tests/test_openapi.py)."""
from __future__ import annotations

from typing import Any


async def _chat(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", "/api/v1/chat", await h.login(client), json={"message": "你好"})


SCENARIOS = {
    ("POST", "/api/v1/chat", 200): _chat,
}
