"""Runtime settings, read once from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _str(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name, "").strip()
    return raw or default


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?retryWrites=false"
    mongodb_db: str = "linli"
    redis_url: str = "redis://127.0.0.1:6390/0"
    models_dir: Path = ROOT / "models"
    host: str = "127.0.0.1"
    port: int = 8080
    # REST channel token; when set, requests need ?token=... or "Authorization: Bearer ...".
    rest_token: str | None = None
    dialogue_ttl_seconds: int = 30 * 60
    max_message_chars: int = 1000
    max_body_bytes: int = 64 * 1024
    nlu_cache_size: int = 2048
    conversation_retention_days: int = 180
    # Community a chat user belongs to until their profile says otherwise.
    default_community: str = "huafu-tianmian"

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            mongodb_uri=_str("MONGODB_URI", cls.mongodb_uri),
            mongodb_db=_str("MONGODB_DB", cls.mongodb_db),
            redis_url=_str("REDIS_URL", cls.redis_url),
            models_dir=Path(_str("LINLI_MODELS_DIR", str(cls.models_dir))),
            host=_str("LINLI_HOST", cls.host),
            port=_int("LINLI_PORT", cls.port),
            rest_token=_str("LINLI_REST_TOKEN"),
            dialogue_ttl_seconds=_int("LINLI_DIALOGUE_TTL", cls.dialogue_ttl_seconds),
            max_message_chars=_int("LINLI_MAX_MESSAGE_CHARS", cls.max_message_chars),
            max_body_bytes=_int("LINLI_MAX_BODY_BYTES", cls.max_body_bytes),
            nlu_cache_size=_int("LINLI_NLU_CACHE_SIZE", cls.nlu_cache_size),
            conversation_retention_days=_int("LINLI_CONVERSATION_RETENTION_DAYS", cls.conversation_retention_days),
            default_community=_str("LINLI_DEFAULT_COMMUNITY", cls.default_community),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
