"""The points ledger and 积分超市 under load, against the real MongoDB-compatible server.

    .venv/bin/python -m bench.points_bench [--posts 500] [--concurrency 1,16,64] [--buyers 200]

Starts its own secantusdb (temporary data) unless MONGODB_URI is set. Prints postings
per second (awards, one resident each, and spends from one hot account), the latency
percentiles, and a redemption burst (many residents, one item with little stock), then
checks the invariants: the sum of all balances is 0 and every stored balance equals the
one derived from the ledger.
"""
from __future__ import annotations

import argparse
import asyncio
import time

from bench.common import temporary_mongo
from bot.bootstrap import points_service
from services.points_errors import PointsError
from storage import mongo
from storage.ledger import ISSUER, SHOP, InsufficientPoints, LedgerRepository, resident_account
from storage.residents import ResidentRepository


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _timed(coro) -> float:
    start = time.perf_counter()
    try:
        await coro
    except (InsufficientPoints, PointsError):
        pass
    return time.perf_counter() - start


async def _run(label: str, factories: list, concurrency: int) -> None:
    queue = list(factories)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            latencies.append(await _timed(queue.pop()()))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    print(f"{label:<34} c={concurrency:<4} {len(latencies) / elapsed:8.0f}/s  p50 {_pct(latencies, .5):6.1f} ms"
          f"  p95 {_pct(latencies, .95):6.1f} ms  p99 {_pct(latencies, .99):6.1f} ms")


async def main(args: argparse.Namespace) -> None:
    with temporary_mongo() as uri:
        await run(args, uri)


async def run(args: argparse.Namespace, uri: str) -> None:
    client, db = mongo.connect(uri, "linli_points_bench")
    try:
        await client.drop_database("linli_points_bench")
        ledger = LedgerRepository(db)
        await ledger.ensure_indexes()
        for concurrency in args.concurrency:
            tag = f"c{concurrency}"
            await _run("award (distinct residents)", [
                (lambda i=i: ledger.post(f"{tag}-award-{i}", resident_account(f"{tag}-{i}"), ISSUER, 5, "earn"))
                for i in range(args.posts)], concurrency)
            hot = resident_account(f"{tag}-hot")
            await ledger.post(f"{tag}-hot-seed", hot, ISSUER, args.posts * 3 // 2, "earn")
            await _run("spend (one hot account)", [
                (lambda i=i: ledger.post(f"{tag}-spend-{i}", hot, SHOP, -2, "spend")) for i in range(args.posts)],
                concurrency)
            print(f"{'':<34} hot balance left {await ledger.balance(hot)} (never below 0)")
        residents = ResidentRepository(db)
        points = points_service(db, residents)
        await points.ensure_indexes()
        item = await points.shop.add_item("bench", "大米", 10, 5)
        buyers = [await residents.for_user_key(f"bench:{i}", "bench") for i in range(args.buyers)]
        for buyer in buyers:
            await ledger.post(f"seed-{buyer.id}", resident_account(buyer.id), ISSUER, 10, "earn")
        start = time.perf_counter()
        results = await asyncio.gather(*(points.redeem(b, item.id, key="k") for b in buyers), return_exceptions=True)
        elapsed = time.perf_counter() - start
        won = sum(1 for r in results if not isinstance(r, Exception))
        print(f"redemption burst: {len(buyers)} buyers, stock 5 -> {won} reserved in {elapsed * 1000:.0f} ms, "
              f"stock left {(await points.shop.get_item(item.id)).stock}")
        total = sum([doc["balance"] async for doc in db["point_accounts"].find({})])
        mismatched = 0
        async for doc in db["point_accounts"].find({}, {"_id": 1}):
            stored, derived = await ledger.verify(doc["_id"])
            mismatched += stored != derived
        count = await db["ledger_entries"].count_documents({})
        print(f"invariants: {count} entries, sum of balances {total}, accounts not matching the ledger {mismatched}")
    finally:
        await client.drop_database("linli_points_bench")
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    parser.add_argument("--buyers", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
