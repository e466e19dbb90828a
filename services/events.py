"""Typed domain events on an in-process publish/subscribe bus: the hooks capabilities attach to.

Each event is a dataclass with its `topic`; services publish events on the bus they are
given. There is no process-wide bus: bot/bootstrap.py creates one per app, hands it to every
service it builds and wires the subscriptions (nothing subscribes at import time):

    await bus.publish(ReportValid(ticket=..., resident_id=..., community=..., category=..., at=now))
    bus.subscribe(ReportValid, stations.on_report_valid)      # gets the ReportValid
    bus.subscribe("report.valid", points.subscriber(...))     # gets its payload dict

A subscriber registered with the event class receives the event object; one registered with
the topic string receives `event.payload()` (a fresh dict: the points rules match on its
fields, see services/points.py). Publishing a topic with a dict payload still works (the
class-registered subscribers get the event rebuilt from it).

Publishing never fails because of a subscriber: errors are logged and the publisher
carries on.

Events
------
`ReportValid` (``report.valid``)
    A report turned out to be a real problem and was fixed (staff resolved it; once per
    ticket, never for rejected or duplicate reports). The points ledger awards the reporter.
`CourierReport` (``courier.report``)
    A valid report by a registered courier (service points on top).
`HelpCompleted` (``help.completed``)
    A requester confirmed a neighbour's help.
`BookingCreated` / `BookingCancelled` / `BookingAttended` (``booking.*``)
    A booking was made, cancelled, or staff marked it attended.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, ClassVar, Union

log = logging.getLogger(__name__)

Subscriber = Callable[[Any], Awaitable[None]]

REPORT_VALID = "report.valid"
COURIER_REPORT = "courier.report"
HELP_COMPLETED = "help.completed"
BOOKING_CREATED = "booking.created"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_ATTENDED = "booking.attended"


@dataclass(frozen=True)
class Event:
    topic: ClassVar[str] = ""

    def payload(self) -> dict[str, Any]:
        """The event as the dict its topic's subscribers get."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Event":
        """The event of a dict payload (keys it does not know are dropped)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in names})


@dataclass(frozen=True)
class ReportValid(Event):
    topic: ClassVar[str] = REPORT_VALID
    ticket: str
    resident_id: str | None
    community: str | None
    category: str | None
    at: datetime | None = None
    user_key: str | None = None


@dataclass(frozen=True)
class CourierReport(Event):
    topic: ClassVar[str] = COURIER_REPORT
    ref: str | None
    ticket: str | None
    resident_id: str | None
    user_key: str | None
    community: str | None
    category: str | None
    at: datetime | None = None


@dataclass(frozen=True)
class HelpCompleted(Event):
    topic: ClassVar[str] = HELP_COMPLETED
    resident_id: str  # the volunteer who helped
    community: str | None
    ref: str  # the help request
    requester_id: str
    kind: str


@dataclass(frozen=True)
class _BookingEvent(Event):
    booking_id: Any
    booking_no: Any
    resident_id: str | None
    booked_by: Any
    user_key: str | None
    service: str
    community: str | None
    slot_id: Any
    start: datetime | None
    at: datetime | None = None


@dataclass(frozen=True)
class BookingCreated(_BookingEvent):
    topic: ClassVar[str] = BOOKING_CREATED


@dataclass(frozen=True)
class BookingCancelled(_BookingEvent):
    topic: ClassVar[str] = BOOKING_CANCELLED


@dataclass(frozen=True)
class BookingAttended(_BookingEvent):
    topic: ClassVar[str] = BOOKING_ATTENDED
    staff_id: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.topic: cls
    for cls in (ReportValid, CourierReport, HelpCompleted, BookingCreated, BookingCancelled, BookingAttended)
}
Key = Union[str, "type[Event]"]


class EventBus:
    def __init__(self) -> None:
        # topic -> [(subscriber, wants the event object)]
        self._subscribers: dict[str, list[tuple[Subscriber, bool]]] = defaultdict(list)

    @staticmethod
    def _key(key: Key) -> tuple[str, bool]:
        return (key, False) if isinstance(key, str) else (key.topic, True)

    def subscribe(self, key: Key, subscriber: Subscriber) -> Subscriber:
        topic, typed = self._key(key)
        if (subscriber, typed) not in self._subscribers[topic]:
            self._subscribers[topic].append((subscriber, typed))
        return subscriber

    def unsubscribe(self, key: Key, subscriber: Subscriber) -> None:
        topic, typed = self._key(key)
        if (subscriber, typed) in self._subscribers.get(topic, []):
            self._subscribers[topic].remove((subscriber, typed))

    async def publish(self, event: Event | str, payload: dict[str, Any] | None = None) -> int:
        """Call every subscriber of the event's topic in turn; returns how many succeeded.
        `publish(event)`, or `publish(topic, payload)` (dict form)."""
        if isinstance(event, Event):
            topic, typed_event, data = event.topic, event, event.payload()
        else:
            topic, data = event, dict(payload or {})
            cls = EVENT_TYPES.get(topic)
            typed_event = None
            if cls is not None and any(typed for _, typed in self._subscribers.get(topic, [])):
                typed_event = cls.from_payload(data)
        done = 0
        for subscriber, typed in list(self._subscribers.get(topic, [])):
            try:
                await subscriber(typed_event if typed else dict(data))
                done += 1
            except Exception:
                log.exception("subscriber %r of %s failed", subscriber, topic)
        return done


__all__ = [
    "Event", "EventBus", "ReportValid", "CourierReport", "HelpCompleted", "BookingCreated", "BookingCancelled",
    "BookingAttended", "EVENT_TYPES",
    "REPORT_VALID", "COURIER_REPORT", "HELP_COMPLETED", "BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_ATTENDED",
]
