"""The booking service in the app, and its periodic jobs (one worker per tick):
waitlist offers that ran out are passed on, tomorrow's bookings are reminded, and the
working plans keep opening slots 14 days ahead."""
from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from bot import keys
from bot.periodic import PeriodicTask
from services.bookings import BookingService


async def run_booking_jobs(service: BookingService) -> None:
    await service.expire_offers()
    await service.send_reminders()


async def bookings_context(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup_ctx (after the storage and notifier contexts)."""
    settings = app[keys.SETTINGS]
    service = BookingService(app[keys.MONGO], notifier=app.get(keys.NOTIFIER))
    app[keys.BOOKINGS] = service
    tasks = []
    if settings.booking_timer_interval > 0:
        tasks.append(PeriodicTask("bookings", settings.booking_timer_interval,
                                  lambda: run_booking_jobs(service), app[keys.REDIS]))
        tasks.append(PeriodicTask("booking-slots", 6 * 3600, service.open_slots_ahead, app[keys.REDIS]))
    for task in tasks:
        task.start()
    yield
    for task in tasks:
        await task.stop()
