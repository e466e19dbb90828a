"""End to end: REST and signed WeChat messages through the whole pipeline.

    .venv/bin/python -m bench.e2e_bench [--workers 1] [--seconds 10] [--concurrency 1,8,32,128]

Starts its own Redis and MongoDB-compatible server (temporary data), WORKERS app
processes on one port, and a load generator on 127.0.0.1. Prints messages/s,
p50/p95/p99 and errors per kind and concurrency, menu digits (no NLU), the RSS of
each worker, and the ratio to bare Rasa /model/parse at the same concurrency.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from wechatpy.utils import WeChatSigner

import nlu  # noqa: F401
from bench.common import ROOT, Stats, corpus, fmt_row, header, wait_http
from storage.servers import free_port, mongo_server, redis_server

WECHAT_TOKEN = "benchtoken"
_ids = itertools.count(1)


def wechat_xml(openid: str, text: str, msg_id: int) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_linli]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def signed_query() -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), str(next(_ids))
    signer = WeChatSigner()
    signer.add_data(WECHAT_TOKEN, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}


async def load(base: str, kind: str, texts: list[str], concurrency: int, seconds: float) -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    run = next(_ids)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker(k: int) -> None:
            i = k
            while time.monotonic() < deadline:
                text = texts[i % len(texts)]
                user = f"bench-{run}-{k}"
                i += concurrency
                started = time.perf_counter()
                try:
                    if kind == "wechat":
                        async with session.post(
                            f"{base}/wechat", params=signed_query(),
                            data=wechat_xml(user, text, next(_ids) + run * 10**9).encode(),
                        ) as resp:
                            ok = resp.status == 200
                            await resp.read()
                    else:
                        async with session.post(
                            f"{base}/webhooks/rest/webhook", json={"sender": user, "message": text}
                        ) as resp:
                            ok = resp.status == 200
                            await resp.read()
                    if ok:
                        stats.add(time.perf_counter() - started)
                    else:
                        stats.errors += 1
                except aiohttp.ClientError:
                    stats.errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        stats.elapsed = time.monotonic() - started
    return stats


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Rasa comparison")
    parser.add_argument("--nlu-cache", type=int, default=0,
                        help="LINLI_NLU_CACHE_SIZE of the workers (0: every text is parsed, as bare Rasa does)")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    base_dir = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    redis, mongo = redis_server(base_dir), mongo_server(base_dir)
    redis.start()
    mongo.start()
    port = free_port()
    env = {
        **os.environ, "REDIS_URL": redis.url, "MONGODB_URI": mongo.uri, "MONGODB_DB": "linli_bench",
        "LINLI_PORT": str(port), "LINLI_REUSE_PORT": "1", "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_APP_ID": "wxbench", "LINLI_LOG_LEVEL": "WARNING",
        # The load generator is one client per simulated user; keep limits out of the way.
        "LINLI_RATE_CHAT_PER_MINUTE": "1000000", "LINLI_RATE_API_PER_MINUTE": "1000000",
        "LINLI_NLU_CACHE_SIZE": str(args.nlu_cache),
    }
    workers = [
        subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, start_new_session=True)
        for _ in range(args.workers)
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_wait_ready(base, args.workers))
        texts = corpus()
        print(f"E2E benchmark: {args.workers} worker(s), {args.seconds:.0f}s per level, {os.cpu_count()} cores, "
              f"NLU cache {args.nlu_cache}")
        print(header())
        results: dict[tuple[str, int], Stats] = {}
        for kind in ("rest", "wechat"):
            for level in levels:
                stats = asyncio.run(load(base, kind, texts, level, args.seconds))
                results[(kind, level)] = stats
                print(fmt_row(f"{kind} text c={level}", stats))
        for level in (1, 32):
            stats = asyncio.run(load(base, "rest", [str(d) for d in range(10)], level, args.seconds / 2))
            print(fmt_row(f"rest menu digits c={level}", stats))
        for w in workers:
            mb = rss_mb(w.pid)
            print(f"worker pid {w.pid}: RSS {mb:.0f} MB -> {24 * 1024 / mb:.0f} workers fit in 24 GB")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
        mongo.stop()
        redis.stop()
    if not args.no_bare:
        from bench.nlu_bench import bench_rasa_http

        bare = asyncio.run(bench_rasa_http(corpus(), levels, args.seconds))
        for level in levels:
            print(fmt_row(f"bare rasa /model/parse c={level}", bare[level]))
            for kind in ("rest", "wechat"):
                ratio = results[(kind, level)].rate / max(bare[level].rate, 1e-9)
                print(f"  ratio {kind} end-to-end / bare parse at c={level}: {ratio:.2f}x")


async def _wait_ready(base: str, workers: int) -> None:
    await wait_http(f"{base}/healthz", timeout=120)
    deadline = time.monotonic() + 240
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    # With several workers each must have loaded its model; give them time.
                    await asyncio.sleep(5 if workers > 1 else 0)
                    return
            await asyncio.sleep(1)
    raise TimeoutError("app not ready")


if __name__ == "__main__":
    main()
