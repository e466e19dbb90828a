"""Stand-ins for the collaborators services are given: a notifier that records, a clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class RecordingNotifier:
    """Has services.notify.Notifier.notify's signature; keeps every notice it is asked to send."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    async def notify(self, *, text: str, resident_id: str | None = None, channel: str | None = None,
                     user_key: str | None = None, ref: str | None = None) -> str:
        if self.fail:
            raise ConnectionError("notice channel down")
        self.sent.append({"text": text, "resident_id": resident_id, "channel": channel, "user_key": user_key,
                          "ref": ref})
        return "notice"

    def to(self, resident_id: str) -> list[dict[str, Any]]:
        return [n for n in self.sent if n["resident_id"] == resident_id]
