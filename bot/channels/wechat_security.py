"""Who may post to /wechat: signatures, the timestamp window, nonce replays, AES safe mode.

Every request is signed with the token (403 otherwise) and carries a timestamp within
five minutes of ours. In plain mode the signature does not cover the body, so every
(timestamp, nonce) is remembered for the timestamp window and may not come back with
another body. In safe mode (WECHAT_AES_KEY) `msg_signature` covers the encrypted body,
and replies are encrypted too.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Callable, Mapping

from redis.asyncio import Redis
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.channels.wechat_xml import DIGITS, decode_utf8, safe_root
from bot.errors import ApiError

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW_SECONDS = 300
# A (timestamp, nonce) is remembered while its timestamp can still be accepted.
NONCE_KEY = "linli:wechat:nonce:{timestamp}:{nonce}"
NONCE_TTL_SECONDS = 2 * MAX_CLOCK_SKEW_SECONDS + 60

_NONCE = re.compile(r"[\w\-]{1,64}", re.ASCII)


class WeChatSecurity:
    """The checks of one account's token (and EncodingAESKey in safe mode); `redis`
    is a getter (the app connects when it starts) for the nonces seen."""

    def __init__(self, token: str, *, aes_key: str | None, app_id: str | None, redis: Callable[[], Redis]) -> None:
        self.token = token
        self._redis = redis
        self.crypto: WeChatCrypto | None = None
        if aes_key:
            if not app_id:
                raise ValueError("WeChat safe mode (WECHAT_AES_KEY) needs WECHAT_APP_ID")
            try:
                self.crypto = WeChatCrypto(token, aes_key, app_id)
            except (AssertionError, ValueError) as exc:
                raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from exc

    @property
    def safe_mode(self) -> bool:
        return self.crypto is not None

    def check_verification(self, query: Mapping[str, str]) -> None:
        """The GET of WeChat's URL verification: fresh and signed."""
        timestamp, nonce = self.check_time_and_nonce(query)
        self.check_signature(query.get("signature"), timestamp, nonce)

    def check_message(self, query: Mapping[str, str]) -> tuple[str, str]:
        """A POST's query, before its body is read: (timestamp, nonce) when fresh and
        signed the way the mode needs."""
        timestamp, nonce = self.check_time_and_nonce(query)
        if self.crypto is None:
            if query.get("encrypt_type", "raw") != "raw":
                raise ApiError(400, "not_encrypted_mode", "未配置消息加密", "encrypted message but no EncodingAESKey set")
            self.check_signature(query.get("signature"), timestamp, nonce)
        else:
            if query.get("encrypt_type") != "aes" or not query.get("msg_signature"):
                raise ApiError(403, "encryption_required", "消息必须加密", "safe mode: encrypt_type=aes and msg_signature required")
            if "signature" in query:
                self.check_signature(query["signature"], timestamp, nonce)
        return timestamp, nonce

    async def open(self, raw: bytes, query: Mapping[str, str], timestamp: str, nonce: str) -> str:
        """The message XML of a checked POST's body: refused when replayed, decrypted in
        safe mode."""
        await self.check_replay(timestamp, nonce, raw)
        if self.crypto is None:
            return decode_utf8(raw)
        return self.decrypt(raw, query["msg_signature"], timestamp, nonce)

    def seal(self, body: str, nonce: str) -> str:
        """A reply as WeChat expects it: encrypted in safe mode."""
        if self.crypto is None:
            return body
        return self.crypto.encrypt_message(body, nonce, str(int(time.time())))

    def check_time_and_nonce(self, query: Mapping[str, str]) -> tuple[str, str]:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not DIGITS.fullmatch(timestamp) or len(timestamp) > 12:
            raise ApiError(400, "invalid_timestamp", "timestamp 参数不正确", "timestamp must be Unix seconds")
        if not _NONCE.fullmatch(nonce):
            raise ApiError(400, "invalid_nonce", "nonce 参数不正确", "nonce missing or malformed")
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise ApiError(403, "stale_timestamp", "请求已过期", "timestamp more than 5 minutes off")
        return timestamp, nonce

    async def check_replay(self, timestamp: str, nonce: str, raw: bytes) -> None:
        """A signature covers only (token, timestamp, nonce) in plain mode, not the body:
        each (timestamp, nonce) is remembered for the whole timestamp window with the body
        it came with, and the same pair with another body is refused. The same body again
        is WeChat's retry (answered once by the message claim)."""
        digest = hashlib.sha256(raw).hexdigest()
        key = NONCE_KEY.format(timestamp=timestamp, nonce=nonce)
        redis = self._redis()
        if await redis.set(key, digest, nx=True, ex=NONCE_TTL_SECONDS):
            return
        seen = await redis.get(key)
        if seen is not None and seen != digest:
            log.warning("WeChat request refused: nonce %s reused with another body", nonce)
            raise ApiError(403, "replayed", "请求已被使用过", "timestamp and nonce already used with another body")

    def check_signature(self, signature: str | None, timestamp: str, nonce: str) -> None:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        if not signature or not hmac.compare_digest(signer.signature.encode(), signature.lower().encode()):
            raise ApiError(403, "bad_signature", "签名校验失败", "signature does not match the token")

    def decrypt(self, raw: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        envelope = safe_root(decode_utf8(raw))
        encrypted = envelope.findtext("Encrypt")
        if not encrypted:
            raise ApiError(400, "invalid_xml", "消息格式不正确", "no Encrypt element in safe mode")
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise ApiError(403, "bad_signature", "签名校验失败", "msg_signature does not match") from None
        except InvalidAppIdException:
            raise ApiError(403, "wrong_app", "消息不属于本公众号", "message encrypted for another AppID") from None
        except Exception as exc:  # bad base64, padding, lengths: the cipher text is broken
            log.warning("undecryptable WeChat message: %r", exc)
            raise ApiError(400, "undecryptable", "消息无法解密", "Encrypt is not a valid cipher text") from None
