"""Booking bursts against the real MongoDB-compatible server.

    .venv/bin/python -m bench.bookings_bench [--requests 200] [--places 10] [--rounds 3]

Starts its own secantusdb (temporary data) unless MONGODB_URI is set. Each round opens a
fresh slot with `--places` places and fires `--requests` concurrent bookings from distinct
residents (as "10 volunteer places gone in under an hour", compressed), once refusing when
full and once queueing on the waitlist; then everyone booked cancels at once while the
queue is served. Prints the burst duration, requests/s, p50/p95/p99, and checks the
invariants: exactly `--places` bookings, and slot.booked == active bookings + open offers.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta

from bench.common import temporary_mongo
from bot.bootstrap import booking_service
from services.booking_rules import BookingRefused
from services.bookings import BookingService
from services.events import EventBus
from storage import mongo
from storage.booking_catalog import service_id
from storage.bookings import ensure_indexes, seed_catalog
from storage.residents import ResidentRepository

COMMUNITY = "huafu-tianmian"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _timed(coro) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result: object = await coro
    except BookingRefused as exc:
        result = exc
    return time.perf_counter() - start, result


async def _burst(label: str, coros: list) -> list[object]:
    start = time.perf_counter()
    timed = await asyncio.gather(*(_timed(c) for c in coros))
    elapsed = time.perf_counter() - start
    latencies = [t for t, _ in timed]
    print(f"{label:<30} n={len(coros):<4} {elapsed * 1000:7.0f} ms  {len(coros) / elapsed:6.0f}/s"
          f"  p50 {_pct(latencies, .5):6.1f} ms  p95 {_pct(latencies, .95):6.1f} ms  p99 {_pct(latencies, .99):6.1f} ms")
    return [r for _, r in timed]


async def _check(service: BookingService, slot_id: str, places: int) -> None:
    slot = await service.slots.get(slot_id)
    active = await service.bookings.count_active(slot_id)
    offers = await service.waitlist.count_offers(slot_id)
    ok = slot["booked"] == active + offers and slot["booked"] <= places
    print(f"{'':<30} booked={slot['booked']} active={active} offers={offers}  {'OK' if ok else 'BROKEN'}")
    if not ok:
        raise SystemExit(1)


async def main(args: argparse.Namespace) -> None:
    with temporary_mongo() as uri:
        await run(args, uri)


async def run(args: argparse.Namespace, uri: str) -> None:
    client, db = mongo.connect(uri, "linli_bench_bookings")
    try:
        await client.drop_database("linli_bench_bookings")
        await ensure_indexes(db)
        await ResidentRepository(db).ensure_indexes()
        await seed_catalog(db)
        service = booking_service(db, ResidentRepository(db), None, EventBus())
        volunteer = await service.catalog.get(service_id(COMMUNITY, "volunteer"))
        repo = ResidentRepository(db)
        people = [await repo.update_profile((await repo.for_user_key(f"bench:{i}", COMMUNITY)).id, birth_year=1990)
                  for i in range(args.requests)]
        for round_no in range(args.rounds):
            for waitlist in (False, True):
                start = service.clock() + timedelta(days=3, minutes=round_no * 10 + waitlist)
                slot = await service.create_slot(volunteer, start, start + timedelta(hours=2), args.places, "bench")
                results = await _burst(f"round {round_no + 1} {'waitlist' if waitlist else 'refuse '}",
                                       [service.book(slot["_id"], p, join_waitlist=waitlist) for p in people])
                booked = [r for r in results if not isinstance(r, BookingRefused) and r.status == "booked"]
                if len(booked) != args.places:
                    print(f"expected {args.places} bookings, got {len(booked)}")
                    raise SystemExit(1)
                await _check(service, slot["_id"], args.places)
                if waitlist:
                    by_id = {p.id: p for p in people}
                    await _burst("  cancel all while queued",
                                 [service.cancel(r.booking["_id"], actor=by_id[r.booking["resident_id"]])
                                  for r in booked])
                    await _check(service, slot["_id"], args.places)
    finally:
        await client.drop_database("linli_bench_bookings")
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--places", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
