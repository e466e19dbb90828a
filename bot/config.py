"""Runtime settings, read once from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


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
    # Seconds a client has to send a request's head, and then its body (slowloris).
    request_head_timeout: float = 10.0
    request_body_timeout: float = 60.0
    nlu_cache_size: int = 2048
    conversation_retention_days: int = 180
    # Community a chat user belongs to until their profile says otherwise.
    default_community: str = "huafu-tianmian"
    # WeChat Official Account channel (/wechat), served when a token is set; an
    # EncodingAESKey switches it to safe mode (needs the AppID).
    wechat_token: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_aes_key: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Seconds to answer WeChat within (it retries after 5 s); later replies go out
    # through the customer-service message API.
    wechat_reply_budget: float = 4.0
    # Console map: raster tiles from a map server ({z}/{x}/{y} in Web Mercator, e.g. 天地图 or an
    # intranet server); unset = the communities' outlines on a plain base, no internet needed.
    map_tile_url: str | None = None
    # The communities' outlines (GeoJSON, properties.id = community code); unset = the shipped demo file.
    map_geojson: str | None = None
    # Mini-program login (jscode2session at {wechat_api_base}/sns/jscode2session).
    mp_app_id: str | None = None
    mp_app_secret: str | None = None
    # Seconds a mini-program session token lives (fixed) and a console session lasts idle.
    api_session_ttl: int = 7 * 86400
    console_session_ttl: int = 8 * 3600
    # Send the console cookie only over HTTPS (set when served behind TLS).
    console_cookie_secure: bool = False
    # Requests per minute per user: REST chat (by sender) and /api/v1 (by resident; by IP
    # for the public routes). 0 disables.
    rate_chat_per_minute: int = 30
    rate_api_per_minute: int = 120
    # REST channel requests per client IP and in total (all senders) per minute; 0 disables.
    rate_rest_ip_per_minute: int = 120
    rate_rest_global_per_minute: int = 1200
    # Login attempts (mini-program and console) per client IP per minute, a bucket of their own.
    rate_login_per_minute: int = 30
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks); empty:
    # the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    # Staff login: this many failures within the window lock the username / IP.
    login_max_failures: int = 5
    login_lock_seconds: int = 15 * 60
    # Reports (报事): a new report of the same category within this many metres (or at
    # the same location text) and hours of an open ticket is linked to it.
    report_dup_radius_m: float = 50.0
    report_dup_window_hours: int = 72
    # Send new reports straight to the routed department (自动派单).
    report_auto_dispatch: bool = True
    # Resolved tickets the reporter does not confirm are closed after this many days.
    report_autoclose_days: int = 7
    # Seconds between SLA escalation / auto-close runs (one worker per tick); 0 disables.
    report_timer_interval: int = 300
    # Seconds between booking jobs (waitlist offer expiry, reminders); 0 turns them off.
    booking_timer_interval: int = 60
    # Largest photo accepted (JPEG or PNG) from the mini-program and the console.
    upload_max_bytes: int = 2 * 1024 * 1024
    # Photos one resident may upload per day (all their reports together); 0 disables.
    upload_photos_per_day: int = 30
    # Address residents reach the app at (links given in chat, e.g. the one-time data
    # export); unset: http://{host}:{port}.
    public_url: str | None = None

    @property
    def base_url(self) -> str:
        """Where residents reach the app (`public_url`, or this process's own address)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

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
            request_head_timeout=_float("LINLI_REQUEST_HEAD_TIMEOUT", cls.request_head_timeout),
            request_body_timeout=_float("LINLI_REQUEST_BODY_TIMEOUT", cls.request_body_timeout),
            nlu_cache_size=_int("LINLI_NLU_CACHE_SIZE", cls.nlu_cache_size),
            conversation_retention_days=_int("LINLI_CONVERSATION_RETENTION_DAYS", cls.conversation_retention_days),
            default_community=_str("LINLI_DEFAULT_COMMUNITY", cls.default_community),
            wechat_token=_str("WECHAT_TOKEN"),
            wechat_app_id=_str("WECHAT_APP_ID"),
            wechat_app_secret=_str("WECHAT_APP_SECRET"),
            wechat_aes_key=_str("WECHAT_AES_KEY"),
            wechat_api_base=_str("WECHAT_API_BASE", cls.wechat_api_base),
            wechat_reply_budget=_float("LINLI_WECHAT_REPLY_BUDGET", cls.wechat_reply_budget),
            map_tile_url=_str("LINLI_MAP_TILE_URL"),
            map_geojson=_str("LINLI_MAP_GEOJSON"),
            mp_app_id=_str("MP_APP_ID"),
            mp_app_secret=_str("MP_APP_SECRET"),
            api_session_ttl=_int("LINLI_API_SESSION_TTL", cls.api_session_ttl),
            console_session_ttl=_int("LINLI_CONSOLE_SESSION_TTL", cls.console_session_ttl),
            console_cookie_secure=_str("LINLI_CONSOLE_COOKIE_SECURE", "0").lower() in ("1", "true", "yes"),
            rate_chat_per_minute=_int("LINLI_RATE_CHAT_PER_MINUTE", cls.rate_chat_per_minute),
            rate_api_per_minute=_int("LINLI_RATE_API_PER_MINUTE", cls.rate_api_per_minute),
            rate_rest_ip_per_minute=_int("LINLI_RATE_REST_IP_PER_MINUTE", cls.rate_rest_ip_per_minute),
            rate_rest_global_per_minute=_int("LINLI_RATE_REST_GLOBAL_PER_MINUTE", cls.rate_rest_global_per_minute),
            rate_login_per_minute=_int("LINLI_RATE_LOGIN_PER_MINUTE", cls.rate_login_per_minute),
            trusted_proxies=tuple(p.strip() for p in (_str("LINLI_TRUSTED_PROXIES") or "").split(",") if p.strip()),
            login_max_failures=_int("LINLI_LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_lock_seconds=_int("LINLI_LOGIN_LOCK_SECONDS", cls.login_lock_seconds),
            report_dup_radius_m=_float("LINLI_REPORT_DUP_RADIUS_M", cls.report_dup_radius_m),
            report_dup_window_hours=_int("LINLI_REPORT_DUP_WINDOW_HOURS", cls.report_dup_window_hours),
            report_auto_dispatch=_str("LINLI_REPORT_AUTO_DISPATCH", "1").lower() in ("1", "true", "yes"),
            report_autoclose_days=_int("LINLI_REPORT_AUTOCLOSE_DAYS", cls.report_autoclose_days),
            report_timer_interval=_int("LINLI_REPORT_TIMER_INTERVAL", cls.report_timer_interval),
            booking_timer_interval=_int("LINLI_BOOKING_TIMER_INTERVAL", cls.booking_timer_interval),
            upload_max_bytes=_int("LINLI_UPLOAD_MAX_BYTES", cls.upload_max_bytes),
            upload_photos_per_day=_int("LINLI_UPLOAD_PHOTOS_PER_DAY", cls.upload_photos_per_day),
            public_url=_str("LINLI_PUBLIC_URL"),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
