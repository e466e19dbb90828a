"""WeChat photos into GridFS: a resident's image message carries only a MediaId, and
WeChat keeps the medium for 3 days. When the message arrives the channel hands the id
over (`fetch_soon`); the photo is fetched in the background with the media API
(`cgi-bin/media/get`, bot/wechat_api.py) and kept in the report photo bucket
(storage/photos.py) with its MediaId, uploaded by the resident's identity (user_key),
so the photo registry's erasure covers it. The ticket keeps `{"source": "wechat",
"media_id": ...}`; the console finds the stored photo by that id (`stored`), and fetches
it on demand if the background fetch has not happened yet (still within the 3 days).

A failed fetch (unknown or expired media_id, not an image, WeChat unreachable) is logged
and leaves the ticket as it is: the photo is then shown as missing, never as an error.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from services.background import BackgroundTasks
from storage.photos import BadPhoto, PhotoStore, StoredPhoto

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


class MediaClient(Protocol):
    """What this needs of the WeChat API client (bot/wechat_api.py)."""

    async def get_media(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]: ...


class WeChatMedia:
    def __init__(self, client: MediaClient, photos: PhotoStore,
                 clock: Callable[[], datetime] | None = None,
                 *, api_errors: tuple[type[Exception], ...] = ()) -> None:
        """`api_errors`: the client's "WeChat said no" errors (logged as not stored)."""
        self.client = client
        self.api_errors = api_errors
        self.photos = photos
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.background = BackgroundTasks("WeChat photo fetches")
        self._inflight: dict[str, asyncio.Task] = {}

    def fetch_soon(self, media_id: str, user_key: str) -> asyncio.Task | None:
        """Fetch in the background (once per media id at a time in this process)."""
        if not media_id:
            return None
        running = self._inflight.get(media_id)
        if running is not None and not running.done():
            return running
        task = self.background.start(self._fetch_logged(media_id, user_key))
        self._inflight[media_id] = task

        def done(t: asyncio.Task) -> None:
            if self._inflight.get(media_id) is t:
                del self._inflight[media_id]

        task.add_done_callback(done)
        return task

    async def fetch(self, media_id: str, user_key: str) -> str | None:
        """The stored photo's id for `media_id`, fetching it from WeChat when needed.
        Raises the client's API error / BadPhoto / aiohttp errors when it cannot be had."""
        found = await self.photos.find_media(media_id)
        if found:
            return found
        data, content_type = await self.client.get_media(media_id, max_bytes=self.photos.max_bytes)
        ref = await self.photos.put(data, uploaded_by=user_key, now=self.clock(), media_id=media_id)
        log.info("WeChat photo %s stored (%s, %d bytes)", media_id, content_type or "?", len(data))
        return ref["id"]

    async def _fetch_logged(self, media_id: str, user_key: str) -> str | None:
        try:
            return await self.fetch(media_id, user_key)
        except (*self.api_errors, BadPhoto) as exc:
            log.warning("WeChat photo %s not stored: %s", media_id, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # network trouble: the console can still fetch it on demand
            log.warning("WeChat photo %s not fetched: %r", media_id, exc)
        return None

    async def stored(self, media_id: str, user_key: str | None = None, *, fetch: bool = False) -> StoredPhoto | None:
        """The stored photo of `media_id`; with `fetch`, try WeChat now when it is missing."""
        photo_id = await self.photos.find_media(media_id)
        if photo_id is None and fetch:
            running = self._inflight.get(media_id)
            photo_id = await (running if running is not None else self._fetch_logged(media_id, user_key or ""))
        return await self.photos.get(photo_id) if photo_id else None

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Let the fetches still running finish (cancelled after `timeout`)."""
        await self.background.drain(timeout)


def media_of(photo: dict[str, Any]) -> str | None:
    """The MediaId of a ticket's WeChat photo reference (None for uploads)."""
    media_id = photo.get("media_id") if photo.get("source") == "wechat" else None
    return media_id if isinstance(media_id, str) and media_id else None
