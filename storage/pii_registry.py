"""THE registry of where residents' personal data lives: every MongoDB collection, the
GridFS bucket and every Redis key pattern. Export and erasure (storage/personal_data.py)
work from it alone, and tests/test_erasure.py fails when the code names a collection
that is in neither `HOLDINGS` nor `NOT_PERSONAL` — add a new capability's collection
here, saying how a resident's records are found and what erasure does to them.

How a record is found (`Holding.by`):
- ("id", field): the field holds the resident id (`resident_id`, `owner_id`, ...);
- ("account", field): the points account `resident:<id>` (ledger);
- ("user_key", field): one of the resident's channel identities (`wechat:<openid>`).
What erasure does (`Holding.erase`):
- "delete": the documents go;
- "anonymise": `unset` fields go, `scrub` free-text fields pass `redact_text` (or are
  emptied when in `clear`), `set` is applied (unpublish, cancel), the record stays
  (marked `resident_erased: true` where the resident is the record's subject).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Match = tuple[str, str]


@dataclass(frozen=True)
class Holding:
    collection: str
    by: tuple[Match, ...]
    erase: str = "anonymise"  # or "delete"
    unset: tuple[str, ...] = ()
    scrub: tuple[str, ...] = ()  # free text: phone / ID / room numbers masked
    clear: tuple[str, ...] = ()  # free text that is the person's own words: emptied
    set: dict[str, Any] = field(default_factory=dict)
    # Only documents matching this too get `set` (e.g. only open help requests are cancelled).
    set_when: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None  # the field naming whose record it is (marked resident_erased)
    note: str = ""


HOLDINGS: tuple[Holding, ...] = (
    Holding("conversations", (("user_key", "user_key"),), "delete", note="聊天记录：删除"),
    Holding("reports", (("id", "resident_id"), ("id", "followers.resident_id")),
            unset=("contact",), scrub=("description", "location_text", "history.note", "history.reason", "reason",
                                       "rating.comment"),
            subject="resident_id", note="工单保留事实；描述、备注中的电话/证件/门牌号打码；关注记录删除"),
    Holding("bookings", (("id", "resident_id"), ("id", "booked_by")), unset=("contact", "user_key"),
            subject="resident_id", note="预约：有效预约先取消（BookingService.release_for_erasure）"),
    Holding("booking_waitlist", (("id", "resident_id"), ("id", "booked_by")), unset=("contact", "user_key"),
            subject="resident_id", note="候补：先取消"),
    Holding("resident_links", (("id", "helper_id"), ("id", "elder_id")), unset=("label", "code", "code_hash"),
            set={"status": "revoked"}, note="代预约绑定：解除"),
    Holding("notices", (("id", "resident_id"), ("user_key", "user_key")), "delete", note="通知：删除"),
    Holding("callbacks", (("id", "resident_id"),), unset=("contact", "user_key"), scrub=("note",),
            set={"status": "done", "note": "居民已注销账号"}, set_when={"status": "open"},
            subject="resident_id", note="找人工：对话与电话删除，未处理的关闭"),
    Holding("share_posts", (("id", "owner_id"),), unset=("contact", "photo", "photos"),
            clear=("title", "description", "condition", "availability"),
            set={"hidden": True, "hidden_reason": "发布人已注销", "state": "withdrawn"},
            subject="owner_id", note="共享物品/技能：下架并清空文字"),
    Holding("share_loans", (("id", "owner_id"), ("id", "borrower_id")), unset=("contact", "message", "note"),
            set={"state": "cancelled"}, set_when={"state": {"$in": ["waiting", "requested"]}},
            note="借用：未开始的取消"),
    Holding("help_requests", (("id", "requester_id"), ("id", "volunteer_id")), unset=("contact",),
            clear=("details", "place"), set={"state": "cancelled", "hidden": True},
            set_when={"state": "open"}, subject="requester_id", note="求助：未接单的取消并下架，文字清空"),
    Holding("ledger_entries", (("account", "account"), ("account", "counter_account")), scrub=("memo",),
            note="积分流水（记账不可删）：备注打码"),
    Holding("point_accounts", (("account", "_id"),), note="积分余额：只有账户号和余额"),
    Holding("shop_reservations", (("id", "resident_id"),), subject="resident_id", note="兑换记录：只有居民ID"),
    Holding("couriers", (("id", "resident_id"),), "delete", note="骑手登记：删除"),
    Holding("audit", (("id", "resident_id"),), scrub=("after.note", "before.note", "after.reason", "before.reason"),
            note="审计：快照里的个人字段删除（AuditLog.forget_resident），备注打码"),
    Holding("share_messages", (("id", "from_id"), ("id", "to_id")), clear=("text",),
            note="邻里之间经 Linli 转达的留言：文字清空"),
    Holding("points_reviews", (("id", "resident_id"),), "delete", note="待审核的积分：删除"),
    Holding("report_photos.files", (("id", "metadata.uploaded_by"), ("user_key", "metadata.uploaded_by")),
            unset=("metadata.uploaded_by",),
            note="工单照片（GridFS；微信照片的上传人是微信身份）：上传人删除，照片作为工单事实保留"),
)

# Collections that hold no resident's personal data, and why.
NOT_PERSONAL: dict[str, str] = {
    "points_pairs": "防刷分计数（两个居民ID的组合），3 天后自动过期",
    "points_daily": "每日积分上限计数（居民ID + 日期），3 天后自动过期",
    "residents": "居民本身：导出为 profile，注销时变为墓碑（ResidentRepository.anonymise）",
    "staff": "工作人员账号",
    "communities": "社区目录", "streets": "街道目录", "stations": "驿站目录",
    "counters": "工单号计数器", "content_words": "敏感词表", "report_routing": "派单规则",
    "booking_services": "服务目录", "booking_slots": "时段与名额（不含居民）",
    "points_rules": "积分规则", "shop_items": "积分超市商品", "faq_entries": "社区问答（工作人员编写）",
    "report_photos.chunks": "照片内容（随 report_photos.files 保留，不含个人字段）",
}


@dataclass(frozen=True)
class RedisHolding:
    pattern: str  # formatted with user_key=<channel identity>; may end in a glob
    note: str
    # The key's value names another key that goes too (formatted with value=...).
    refers_to: str | None = None


REDIS_HOLDINGS: tuple[RedisHolding, ...] = (
    RedisHolding("linli:dialogue:{user_key}", "进行中的对话"),
    RedisHolding("linli:elder:{user_key}", "长者模式偏好"),
    RedisHolding("linli:lastloc:{user_key}", "微信上报的位置（15 分钟）"),
    RedisHolding("linli:dedup:{channel}:{sender}:*", "消息去重的回复缓存（短时保留，见 storage/dedup.py）"),
    RedisHolding("linli:privacy:pending:{user_key}", "聊天里待确认的注销申请（5 分钟）"),
    RedisHolding("linli:privacy:issued:{user_key}", "聊天里发出的一次性导出链接（10 分钟）",
                 refers_to="linli:privacy:export:{value}"),
)
# Redis keys without personal content: rate-limit counters (a minute), session tokens
# (ended by revoke_owner on erasure), locks and periodic claims.
REDIS_NOT_PERSONAL = ("linli:rate:", "linli:session", "linli:login", "linli:linkcode", "linli:lock",
                      "linli:periodic", "linli:wechat")


def holding(collection: str) -> Holding | None:
    return next((h for h in HOLDINGS if h.collection == collection), None)


def known_collections() -> set[str]:
    return {h.collection for h in HOLDINGS} | set(NOT_PERSONAL)
