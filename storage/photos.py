"""Report photos in GridFS (bucket `report_photos`), checked by their magic bytes.

GridFS works on secantusdb as on MongoDB, so every worker process (and machine) sees
the same files; nothing is written to the app's disk. Photos are served back only by
routes that check who asks (the reporter, or staff whose scope holds the ticket).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from gridfs.errors import NoFile
from motor.motor_asyncio import AsyncIOMotorDatabase, AsyncIOMotorGridFSBucket

BUCKET = "report_photos"
# Content type by the file's first bytes (never by its name or the client's header).
_MAGIC = [
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
]


class BadPhoto(ValueError):
    """Not a JPEG or PNG, empty, or too large."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG or PNG; None for anything else."""
    for magic, content_type, ext in _MAGIC:
        if data.startswith(magic):
            return content_type, ext
    return None


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    content_type: str


class PhotoStore:
    def __init__(self, db: AsyncIOMotorDatabase, max_bytes: int) -> None:
        self._bucket = AsyncIOMotorGridFSBucket(db, bucket_name=BUCKET)
        self.max_bytes = max_bytes

    def check(self, data: bytes) -> tuple[str, str]:
        if not data:
            raise BadPhoto("empty_photo", "photo is empty")
        if len(data) > self.max_bytes:
            raise BadPhoto("photo_too_large", f"photo larger than {self.max_bytes} bytes")
        kind = sniff(data)
        if kind is None:
            raise BadPhoto("bad_photo_type", "photo must be a JPEG or PNG image")
        return kind

    async def put(self, data: bytes, *, uploaded_by: str, now: datetime, media_id: str | None = None) -> dict[str, Any]:
        """Store a checked photo; returns the reference kept on the ticket. `media_id`: the
        WeChat MediaId it was fetched by (services/wechat_media.py)."""
        content_type, ext = self.check(data)
        digest = hashlib.sha256(data).hexdigest()
        metadata = {"content_type": content_type, "sha256": digest, "uploaded_by": uploaded_by, "at": now}
        if media_id:
            metadata["media_id"] = media_id
        file_id = await self._bucket.upload_from_stream(f"{digest}.{ext}", data, metadata=metadata)
        return {"source": "upload", "id": str(file_id), "content_type": content_type, "size": len(data),
                "sha256": digest}

    async def find_media(self, media_id: str) -> str | None:
        """The id of the photo fetched by this WeChat MediaId, if it was."""
        if not isinstance(media_id, str) or not media_id:
            return None
        cursor = self._bucket.find({"metadata.media_id": media_id}, limit=1)
        async for doc in cursor:
            return str(doc._id)
        return None

    async def get(self, photo_id: str) -> StoredPhoto | None:
        try:
            oid = ObjectId(photo_id)
        except (InvalidId, TypeError):
            return None
        try:
            stream = await self._bucket.open_download_stream(oid)
        except NoFile:
            return None
        data = await stream.read()
        metadata = stream.metadata or {}
        return StoredPhoto(data=data, content_type=metadata.get("content_type", "application/octet-stream"))
