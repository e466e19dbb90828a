"""`make run`: start embedded Redis/MongoDB (unless REDIS_URL / MONGODB_URI point
elsewhere), seed demo data, then serve WORKERS app processes on one port.

Everything it started is stopped on Ctrl-C / SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys

from bot.config import ROOT, Settings
from storage import mongo
from bot.seed import seed_demo
from storage.servers import env_or_none, mongo_server, redis_server

log = logging.getLogger("launch")
VAR = ROOT / "var"
MONGO_PORT = 27017
REDIS_PORT = 6390


async def _seed(settings: Settings) -> None:
    client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    try:
        await mongo.ensure_indexes(db, conversation_retention_days=settings.conversation_retention_days)
        await seed_demo(db)
    finally:
        client.close()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    VAR.mkdir(exist_ok=True)
    started = []
    env = dict(os.environ)
    try:
        if not env_or_none("REDIS_URL"):
            redis = redis_server(VAR, REDIS_PORT)
            redis.start()
            started.append(redis)
            env["REDIS_URL"] = redis.url
            log.info("embedded redis-server on %s (data in %s)", redis.url, redis.data_dir)
        if not env_or_none("MONGODB_URI"):
            db = mongo_server(VAR, MONGO_PORT)
            db.start()
            started.append(db)
            env["MONGODB_URI"] = db.uri
            log.info("embedded secantusd-py on %s (data in %s)", db.uri, db.data_dir)
        os.environ.update(env)
        settings = Settings.from_env()
        asyncio.run(_seed(settings))
        env["LINLI_REUSE_PORT"] = "1" if args.workers > 1 else "0"
        workers = [
            subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=ROOT) for _ in range(max(1, args.workers))
        ]
        log.info("%d worker(s) serving http://%s:%d", len(workers), settings.host, settings.port)
        signal.signal(signal.SIGTERM, _interrupt)
        crashed = False
        try:
            while all(w.poll() is None for w in workers):
                try:
                    workers[0].wait(1)
                except subprocess.TimeoutExpired:
                    pass
            crashed = True  # a worker exited by itself
        except KeyboardInterrupt:
            pass
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
        return 1 if crashed else 0
    finally:
        for server in reversed(started):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
