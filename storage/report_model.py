"""What a problem report (报事) is: statuses, ticket numbers, who acted, and the ticket itself.

Plain values with no database in sight, shared by storage/reports.py (which stores them),
the report service and the channels that show them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.time import TZ

# Ticket dates are China dates (the one time zone of domain/time.py).
CHINA_TZ = TZ

SUBMITTED, DISPATCHED, IN_PROGRESS, RESOLVED, CLOSED = "submitted", "dispatched", "in_progress", "resolved", "closed"
REJECTED, DUPLICATE = "rejected", "duplicate"
STATUSES = (SUBMITTED, DISPATCHED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, DUPLICATE)
# Someone still has to act on these (the SLA clock runs).
OPEN_STATUSES = (SUBMITTED, DISPATCHED, IN_PROGRESS)
# Shown to the reporter as "still going on" (resolved waits for their confirmation).
ACTIVE_STATUSES = (*OPEN_STATUSES, RESOLVED)

STATUS_LABELS = {
    SUBMITTED: "已受理",
    DISPATCHED: "已派单",
    IN_PROGRESS: "处理中",
    RESOLVED: "已处理，待确认",
    CLOSED: "已办结",
    REJECTED: "未受理",
    DUPLICATE: "已合并",
}

LEVEL_COMMUNITY, LEVEL_STREET = "community", "street"

_TICKET = re.compile(r"(?<![A-Za-z0-9])[Rr]\s?(20\d{6})-?(\d{1,6})(?!\d)")
_NOT_KEY = re.compile(r"[\s\W_]+")


def find_ticket(text: str) -> str | None:
    """A ticket number written in `text` (R20261122-0001, r202611220001, R20261122001),
    normalised to R20261122-0001."""
    match = _TICKET.search(text or "")
    if not match:
        return None
    return f"R{match.group(1)}-{int(match.group(2)):04d}"


def location_key(text: str | None) -> str:
    """Location text reduced for comparison: NFKC, lower case, no spaces or punctuation."""
    return _NOT_KEY.sub("", unicodedata.normalize("NFKC", text or "")).lower()


@dataclass(frozen=True)
class Actor:
    """Who did something to a ticket: staff, the resident, or the system (timers)."""

    kind: str  # "staff" | "resident" | "system"
    id: str | None = None
    name: str | None = None

    def as_doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name}


SYSTEM = Actor("system", None, "系统")


@dataclass
class Report:
    ticket: str
    resident_id: str
    channel: str
    community: str
    category: str
    department: str
    status: str
    created_at: datetime
    description: str = ""
    location_text: str | None = None
    location: dict[str, Any] | None = None
    photos: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    level: str = LEVEL_COMMUNITY
    sla_hours: int = 72
    due_at: datetime | None = None
    overdue: bool = False
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    duplicate_of: str | None = None
    reason: str | None = None
    followers: list[dict[str, Any]] = field(default_factory=list)
    rating: dict[str, Any] | None = None
    source: str = "chat"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Report":
        names = cls.__dataclass_fields__
        data = {k: v for k, v in doc.items() if k in names}
        data["ticket"] = doc["_id"]
        return cls(**data)

    @property
    def reporter_id(self) -> str:
        return self.resident_id

    @property
    def latitude(self) -> float | None:
        return self.location["coordinates"][1] if self.location else None

    @property
    def longitude(self) -> float | None:
        return self.location["coordinates"][0] if self.location else None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def last_note(self) -> str | None:
        """The most recent note or reason staff wrote."""
        for entry in reversed(self.history):
            if entry.get("note") or entry.get("reason"):
                return entry.get("note") or entry.get("reason")
        return None

    def audience(self) -> list[dict[str, Any]]:
        """Everyone to tell about a change ({resident_id, channel}): the reporter and the
        residents following the ticket."""
        people = [{"resident_id": self.resident_id, "channel": self.channel}]
        seen = {self.resident_id}
        for follower in self.followers:
            if follower.get("resident_id") not in seen:
                seen.add(follower.get("resident_id"))
                people.append({"resident_id": follower.get("resident_id"), "channel": follower.get("channel")})
        return people

    def follows(self, resident_id: str) -> bool:
        return self.resident_id == resident_id or any(f.get("resident_id") == resident_id for f in self.followers)

    def seen_by(self, resident_id: str | None) -> "Report":
        """The ticket as `resident_id` may see it: the reporter sees it all; anyone else
        (a follower, who reported the same problem) only its number, category,
        department and status — no description, location, photos, staff notes,
        reasons or rating, which are the reporter's and the staff's."""
        if resident_id is not None and resident_id == self.resident_id:
            return self
        history = [{k: h[k] for k in ("action", "status", "at") if k in h} for h in self.history]
        return replace(self, description="", location_text=None, location=None, photos=[],
                       history=history, rating=None, reason=None,
                       followers=[{"resident_id": resident_id}] if self.follows(resident_id or "") else [])


@dataclass(frozen=True)
class CategoryStats:
    category: str
    count: int
    resolved: int
    median_hours: float | None
