"""Shared helpers for the benchmarks: latency stats, a text corpus, printing."""
from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import aiohttp

from storage.servers import env_or_none, mongo_server

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def temporary_mongo() -> Iterator[str]:
    """MONGODB_URI when set, else an embedded server on temporary data for the length of the block."""
    uri = env_or_none("MONGODB_URI")
    if uri:
        yield uri
        return
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        server = mongo_server(Path(tmp))
        server.start()
        try:
            yield server.uri
        finally:
            server.stop()

# Realistic messages that are not copies of the training data.
SEED_TEXTS = [
    "你好", "在吗在吗", "谢谢你们", "再见啦",
    "我们小区{b}栋门口的路灯坏了好几天了晚上黑乎乎的",
    "{b}号楼下水道又堵了一股臭味", "菜市场门口有人占道摆摊", "楼上有人往下扔垃圾太危险了",
    "快递堆在{b}栋走廊里过不去人", "电梯又坏了老人上不去楼", "小区东门的井盖松了",
    "我想预约明天中午的老年助餐", "帮我约一下下周一上午的体检", "想租个轮椅用两周",
    "我要报名周六的志愿活动", "看看我预约了什么", "明天的体检不去了帮我取消",
    "谁家有梯子借我用一下", "我家有台电钻可以借给邻居", "能不能找个人帮我接下孩子",
    "我有多少积分", "积分能换什么东西", "附近哪里可以给电动车充电", "哪有能喝水歇脚的驿站",
    "找人工", "我眼睛不好字大一点", "我报的事怎么样了", "今天天气怎么样",
]


def corpus(n: int = 400, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        base = SEED_TEXTS[i % len(SEED_TEXTS)]
        texts.append(base.format(b=rng.randint(1, 30)) + ("" if i < len(SEED_TEXTS) else rng.choice(["", "啊", "呀", "哦", "了"])))
    return texts


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def add(self, seconds: float) -> None:
        self.latencies.append(seconds)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")


def header() -> str:
    return f"{'what':<34} {'msgs':>7} {'msgs/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"


def fmt_row(label: str, stats: Stats) -> str:
    return (
        f"{label:<34} {stats.count:>7} {stats.rate:>8.1f} {stats.pct(50):>8.1f} "
        f"{stats.pct(95):>8.1f} {stats.pct(99):>8.1f} {stats.errors:>7}"
    )


async def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout}s")
