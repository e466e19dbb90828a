"""NLU throughput and latency: Linli's in-process service vs. bare `rasa run --enable-api`.

    .venv/bin/python -m bench.nlu_bench [--seconds 10] [--concurrency 1,8,32]

Both use the same trained model (models/linli-nlu.tar.gz) in the same run. For each
concurrency level it prints messages/s, p50 and p99 latency, and the ratio of Linli's
throughput to bare Rasa's. Linli's cache is off so every text goes through the model.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp

import nlu  # noqa: F401
from bench.common import ROOT, Stats, corpus, fmt_row, header, wait_http
from nlu import paths
from nlu.service import NLUService
from storage.servers import free_port


async def run_level(call, texts: list[str], concurrency: int, seconds: float) -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    counter = 0

    async def worker(offset: int) -> None:
        nonlocal counter
        i = offset
        while time.monotonic() < deadline:
            text = texts[i % len(texts)]
            i += concurrency
            started = time.perf_counter()
            try:
                await call(text)
                stats.add(time.perf_counter() - started)
            except Exception:
                stats.errors += 1
            counter += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    stats.elapsed = time.monotonic() - started
    return stats


async def bench_inprocess(texts: list[str], levels: list[int], seconds: float) -> dict[int, Stats]:
    service = NLUService(paths.model_path(), cache_size=0)
    await service.load()
    await service.parse("预热")
    results = {}
    for level in levels:
        results[level] = await run_level(service.parse, texts, level, seconds)
    service.close()
    return results


async def bench_rasa_http(texts: list[str], levels: list[int], seconds: float) -> dict[int, Stats]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--enable-api", "-m", str(paths.model_path()),
         "--port", str(port), "-i", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        await wait_http(f"http://127.0.0.1:{port}/", timeout=180)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            url = f"http://127.0.0.1:{port}/model/parse"

            async def call(text: str) -> None:
                async with session.post(url, json={"text": text}) as resp:
                    resp.raise_for_status()
                    await resp.read()

            await call("预热")
            results = {}
            for level in levels:
                results[level] = await run_level(call, texts, level, seconds)
            return results
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    texts = corpus()
    print(f"NLU benchmark: {len(texts)} distinct texts, {args.seconds:.0f}s per level, model {paths.model_path().name}")
    ours = asyncio.run(bench_inprocess(texts, levels, args.seconds))
    bare = asyncio.run(bench_rasa_http(texts, levels, args.seconds))
    print(header())
    for level in levels:
        print(fmt_row(f"linli in-process c={level}", ours[level]))
        print(fmt_row(f"rasa /model/parse c={level}", bare[level]))
        print(f"  ratio linli/bare throughput at c={level}: {ours[level].rate / max(bare[level].rate, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
