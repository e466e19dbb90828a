"""The client's address: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy.

`trusted_proxies` (LINLI_TRUSTED_PROXIES) lists the reverse proxies in front of the app.
A request from one of them gets `request.remote` from X-Forwarded-For, read right to
left past the trusted hops by aiohttp-remotes' `XForwardedFiltered`; a request from any
other peer keeps its peer address, whatever X-Forwarded-For it claims.
"""
from __future__ import annotations

import ipaddress
from typing import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp_remotes import XForwardedFiltered

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def trusted_proxy_middleware(trusted: Iterable[str]):
    """Middleware setting `request.remote` from X-Forwarded-For for trusted peers only."""
    networks = _networks(trusted)
    filtered = XForwardedFiltered(set(networks))

    def from_trusted(peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer and from_trusted(peer[0]):
            return await filtered.middleware(request, handler)
        return await handler(request)

    return middleware
