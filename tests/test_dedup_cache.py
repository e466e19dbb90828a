"""L7: the de-duplication cache keeps reply text (a phone number read back) only briefly;
the once-only marker stays 24 h without any text."""
from __future__ import annotations

from storage.dedup import Deduplicator

REPLY = [{"text": "您的电话是 139 1234 5678，对吗？"}]


async def test_reply_text_is_kept_briefly_and_the_marker_holds_nothing(redis):
    dedup = Deduplicator(redis)
    assert (await dedup.claim("rest", "alice:m1")).new
    await dedup.finish("rest", "alice:m1", REPLY)
    assert (await dedup.claim("rest", "alice:m1")).replies == REPLY  # a retry soon after: the same answer
    for key in await redis.keys("linli:dedup:*"):
        ttl = await redis.ttl(key)
        if "1234" in (await redis.get(key) or ""):
            assert 0 < ttl <= 120, (key, ttl)
        else:
            assert ttl > 3600
    # once the reply text has expired, a late retry is still not processed again
    await redis.delete(*[k for k in await redis.keys("linli:dedup:*") if "1234" in (await redis.get(k) or "")])
    late = await dedup.claim("rest", "alice:m1")
    assert not late.new and late.replies == [] and not late.pending
    assert await dedup.wait("rest", "alice:m1", 1) == []
    left = [await redis.get(k) for k in await redis.keys("linli:dedup:*")]
    assert left and all("1234" not in (value or "") for value in left)
