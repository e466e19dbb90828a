"""Booking times resolved with the NLU's own time extractor (only the bot layer imports nlu;
the dialogue gets the extractor through `Services.resolve_times`, wired in bot/bootstrap.py)."""
from __future__ import annotations

from datetime import datetime

from nlu.time_extractor import resolve_times
from services import booking_times
from services.booking_times import Wanted


def wanted_from_text(text: str, now: datetime) -> Wanted | None:
    """A date/time typed by a resident (明天中午, 下周一上午) as a span, or None."""
    return booking_times.wanted_from_text(text, now, resolve_times)
