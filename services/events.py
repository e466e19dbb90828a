"""Typed domain events on an in-process publish/subscribe bus: the hooks capabilities attach to.

Each event is a dataclass with its `topic`; services publish events on the bus they are
given. There is no process-wide bus: bot/bootstrap.py creates one per app, hands it to every
service it builds and wires the subscriptions (nothing subscribes at import time):

    await bus.publish(ReportValid(ticket=..., resident_id=..., community=..., category=..., at=now))
    bus.subscribe(ReportValid, stations.on_report_valid)      # gets the ReportValid

Subscribers are registered with the event class and receive the event object. A subscriber
that works on any event by its fields (the points rules, which staff configure per topic and
match on payload fields: services/points.py) reads `event.topic` and `event.payload()`.

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
from typing import Any, Awaitable, Callable, ClassVar

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


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[Subscriber]] = defaultdict(list)

    def subscribe(self, event_type: type[Event], subscriber: Subscriber) -> Subscriber:
        if subscriber not in self._subscribers[event_type]:
            self._subscribers[event_type].append(subscriber)
        return subscriber

    def unsubscribe(self, event_type: type[Event], subscriber: Subscriber) -> None:
        if subscriber in self._subscribers.get(event_type, []):
            self._subscribers[event_type].remove(subscriber)

    async def publish(self, event: Event) -> int:
        """Call every subscriber of the event's type in turn; returns how many succeeded."""
        done = 0
        for subscriber in list(self._subscribers.get(type(event), [])):
            try:
                await subscriber(event)
                done += 1
            except Exception:
                log.exception("subscriber %r of %s failed", subscriber, event.topic)
        return done


__all__ = [
    "Event", "EventBus", "ReportValid", "CourierReport", "HelpCompleted", "BookingCreated", "BookingCancelled",
    "BookingAttended", "EVENT_TYPES",
    "REPORT_VALID", "COURIER_REPORT", "HELP_COMPLETED", "BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_ATTENDED",
]
