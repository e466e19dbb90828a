"""`python -m bot`: serve one worker process (the servers it uses must be running).

`make run` uses `python -m bot.launch`, which also starts the embedded servers.
With LINLI_REUSE_PORT=1 several workers share one port (SO_REUSEPORT).
"""
from __future__ import annotations

import logging
import os

from bot.app import create_app
from bot.config import Settings
from bot.serve import run


def main() -> None:
    logging.basicConfig(level=os.environ.get("LINLI_LOG_LEVEL", "INFO"), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    for noisy in ("rasa", "tensorflow", "absl", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = Settings.from_env()
    run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=os.environ.get("LINLI_REUSE_PORT") == "1",
        head_timeout=settings.request_head_timeout,
        body_timeout=settings.request_body_timeout,
    )


if __name__ == "__main__":
    main()
