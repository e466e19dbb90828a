"""Tasks a caller starts and does not wait for (a WeChat reply sent later, a photo fetched
in the background), kept so that shutdown can let them finish before the connections close."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self, what: str) -> None:
        """`what` names the tasks in the shutdown warning ("WeChat deliveries")."""
        self.what = what
        self._tasks: set[asyncio.Task] = set()

    def start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        """How many are still running."""
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for them; cancel what is still running then."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d %s at shutdown", len(pending), self.what)
            await asyncio.wait(pending, timeout=1)
