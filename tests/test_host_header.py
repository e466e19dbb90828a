"""A Host header with a port (every client of a server not on port 80/443) reaches the
sub-apps: aiohttp 3.9 builds `request.url` from it, which needs yarl < 1.13 (pinned)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/openapi.json", "/console/login"])
async def test_a_host_with_a_port_is_served(make_client, path):
    client = await make_client()
    for host in ("linli.example.cn:8443", "127.0.0.1:8080", "[::1]:8080"):
        resp = await client.get(path, headers={"Host": host})
        assert resp.status == 200, (host, resp.status, await resp.text())
