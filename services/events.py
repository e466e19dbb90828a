"""A tiny in-process publish/subscribe bus: the hooks capabilities attach to.

Publishing never fails because of a subscriber: errors are logged and the publisher
carries on. Subscribers register at import time, like dialogue handlers:

    from services import events

    async def award(payload: dict) -> None: ...
    events.subscribe("report.valid", award)

Topics
------
``report.valid``
    A report turned out to be a real problem and was fixed (staff resolved it; once per
    ticket, never for rejected or duplicate reports). Payload: ``{"ticket", "resident_id",
    "community", "category", "at"}``. The points ledger awards the reporter's
    points here.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

Subscriber = Callable[[dict[str, Any]], Awaitable[None]]

REPORT_VALID = "report.valid"


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)

    def subscribe(self, topic: str, subscriber: Subscriber) -> Subscriber:
        if subscriber not in self._subscribers[topic]:
            self._subscribers[topic].append(subscriber)
        return subscriber

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers.get(topic, []):
            self._subscribers[topic].remove(subscriber)

    async def publish(self, topic: str, payload: dict[str, Any]) -> int:
        """Call every subscriber of `topic` in turn; returns how many succeeded."""
        done = 0
        for subscriber in list(self._subscribers.get(topic, [])):
            try:
                await subscriber(dict(payload))
                done += 1
            except Exception:
                log.exception("subscriber %r of %s failed", subscriber, topic)
        return done


bus = EventBus()
subscribe = bus.subscribe
unsubscribe = bus.unsubscribe
publish = bus.publish
