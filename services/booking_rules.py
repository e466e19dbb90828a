"""The values and rules a booking is checked against: the refusals (BookingRefused with its
HTTP status), a service's rules (window, notice, cancellation cutoff, offer time) and the
event payload of a booking; used by services/bookings.py and its parts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.errors import DomainError
from storage.residents import Resident

ATTENDANCE = ("attended", "no_show")
DEFAULT_RULES = {"window_days": 14, "min_notice_minutes": 60, "cancel_cutoff_minutes": 60, "offer_minutes": 30}


# Refusal codes -> HTTP status (the rest are 409: the request was fine, the state says no).
REFUSAL_STATUS = {"not_found": 404, "not_linked": 403, "too_young": 403, "too_old": 403, "age_unknown": 403,
                  "self_link": 400, "bad_code": 400, "pickup_required": 400}


class BookingRefused(DomainError):
    """A booking action that the rules do not allow; `text` (= `zh`) is for the resident."""

    def __init__(self, code: str, text: str, detail: str, **data: Any) -> None:
        super().__init__(code, text, detail, REFUSAL_STATUS.get(code, 409), **data)
        self.text, self.detail = text, detail


def already_booked() -> BookingRefused:
    return BookingRefused("duplicate", "这个时段已经约上了，不用重复预约。", "already booked this slot")


@dataclass
class BookResult:
    status: str  # booked | waitlisted
    booking: dict[str, Any] | None = None
    entry: dict[str, Any] | None = None
    position: int | None = None


def rules_of(service: dict[str, Any]) -> dict[str, int]:
    return {**DEFAULT_RULES, **(service.get("rules") or {})}


def in_order(service: dict[str, Any], slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rental pools in the catalog's order of aids (sessions stay in time order)."""
    if service.get("kind") != "rental":
        return slots
    order = {unit["code"]: i for i, unit in enumerate(service.get("units", []))}
    return sorted(slots, key=lambda slot: order.get(slot.get("unit"), len(order)))


def elder_label(link: dict[str, Any], elder: Resident) -> str:
    """How to name a linked elder to their helper."""
    return link.get("label") or elder.name or ("家人" if link.get("relation") == "family" else "结对老人")


def event_payload(booking: dict[str, Any]) -> dict[str, Any]:
    return {
        "booking_id": booking["_id"], "booking_no": booking["booking_no"], "resident_id": booking["resident_id"],
        "booked_by": booking.get("booked_by"), "user_key": booking.get("user_key"), "service": booking["service"],
        "community": booking["community"], "slot_id": booking["slot_id"], "start": booking["start"],
        "at": datetime.now(timezone.utc),
    }
