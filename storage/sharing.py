"""共享社区 records: shared items and skills, borrow requests (with a waiting list), help requests.

- `share_posts`: an item or skill a resident lends or gives ({owner_id, community, kind,
  mode, title, condition, photo, availability, state, hidden, reports});
- `share_loans`: one borrow request of a post ({post_id, owner_id, borrower_id, start,
  end, state}); states waiting -> requested -> accepted -> handed_over -> returned, or
  declined / cancelled;
- `help_requests`: 接孩子 / 陪老人 / 买菜 ... ({requester_id, kind, details, when, place,
  state open -> taken -> completed, or cancelled; volunteer_id}).

Every state change is a conditional update on the expected state, so two people acting
at once cannot both win. The server has no text index: search is a keyword match on
title/description (and their two-character pieces), scoped to the community.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

ITEM, SKILL = "item", "skill"
LEND, GIVE = "lend", "give"
AVAILABLE, LENT, GIVEN, WITHDRAWN = "available", "lent", "given", "withdrawn"
WAITING, REQUESTED, ACCEPTED, DECLINED = "waiting", "requested", "accepted", "declined"
HANDED_OVER, RETURNED, CANCELLED = "handed_over", "returned", "cancelled"
OPEN, TAKEN, COMPLETED = "open", "taken", "completed"
ACTIVE_LOANS = [REQUESTED, ACCEPTED, HANDED_OVER]
LOAN_TITLES = {
    WAITING: "排队中", REQUESTED: "等主人回复", ACCEPTED: "主人已同意", DECLINED: "主人婉拒了",
    HANDED_OVER: "已借出", RETURNED: "已归还", CANCELLED: "已取消",
}
POST_TITLES = {AVAILABLE: "可借", LENT: "借出中", GIVEN: "已送出", WITHDRAWN: "已下架"}
HELP_TITLES = {OPEN: "等邻居接单", TAKEN: "有邻居接了", COMPLETED: "已完成", CANCELLED: "已取消"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _id() -> str:
    return str(ObjectId())


@dataclass
class Post:
    id: str
    owner_id: str
    community: str
    kind: str
    mode: str
    title: str
    state: str
    created_at: datetime
    description: str = ""
    condition: str = ""
    availability: str = ""
    photo: dict[str, Any] | None = None
    hidden: bool = False
    hidden_reason: str | None = None
    report_count: int = 0

    @property
    def state_title(self) -> str:
        return "已隐藏" if self.hidden else POST_TITLES.get(self.state, self.state)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Post":
        return cls(
            id=doc["_id"], owner_id=doc["owner_id"], community=doc["community"], kind=doc["kind"], mode=doc["mode"],
            title=doc["title"], state=doc["state"], created_at=doc["created_at"],
            description=doc.get("description") or "", condition=doc.get("condition") or "",
            availability=doc.get("availability") or "", photo=doc.get("photo"), hidden=bool(doc.get("hidden")),
            hidden_reason=doc.get("hidden_reason"), report_count=len(doc.get("reports") or []),
        )


@dataclass
class Loan:
    id: str
    post_id: str
    post_title: str
    owner_id: str
    borrower_id: str
    community: str
    start: str  # YYYY-MM-DD (Asia/Shanghai)
    end: str
    state: str
    created_at: datetime
    note: str = ""
    handed_over_at: datetime | None = None
    returned_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state_title(self) -> str:
        return LOAN_TITLES.get(self.state, self.state)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Loan":
        return cls(
            id=doc["_id"], post_id=doc["post_id"], post_title=doc["post_title"], owner_id=doc["owner_id"],
            borrower_id=doc["borrower_id"], community=doc["community"], start=doc["start"], end=doc["end"],
            state=doc["state"], created_at=doc["created_at"], note=doc.get("note") or "",
            handed_over_at=doc.get("handed_over_at"), returned_at=doc.get("returned_at"),
        )


@dataclass
class HelpRequest:
    id: str
    requester_id: str
    community: str
    kind: str
    kind_title: str
    details: str
    when: str
    place: str
    state: str
    created_at: datetime
    volunteer_id: str | None = None
    hidden: bool = False
    report_count: int = 0
    completed_at: datetime | None = None

    @property
    def state_title(self) -> str:
        return "已隐藏" if self.hidden else HELP_TITLES.get(self.state, self.state)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "HelpRequest":
        return cls(
            id=doc["_id"], requester_id=doc["requester_id"], community=doc["community"], kind=doc["kind"],
            kind_title=doc["kind_title"], details=doc.get("details") or "", when=doc.get("when") or "",
            place=doc.get("place") or "", state=doc["state"], created_at=doc["created_at"],
            volunteer_id=doc.get("volunteer_id"), hidden=bool(doc.get("hidden")),
            report_count=len(doc.get("reports") or []), completed_at=doc.get("completed_at"),
        )


def bigrams(text: str) -> list[str]:
    return [text[i:i + 2] for i in range(len(text) - 1)] if len(text) > 2 else [text]


def search_query(community: str, words: list[str], related: list[str] | None = None
                 ) -> tuple[dict[str, Any] | None, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]]:
    """The filter of `SharingRepository.search` (None: nothing to look for) and how its
    matches are ranked: whole words in the title first, then how many pieces match, free first."""
    pieces = {piece for word in words for piece in [word, *bigrams(word)] if piece}
    words = [*words, *(w for w in related or [] if w not in words)]
    pieces |= set(words)
    if not pieces:
        return None, list
    pattern = "|".join(re.escape(p) for p in sorted(pieces, key=len, reverse=True))
    query = {"community": community, "hidden": False, "state": {"$in": [AVAILABLE, LENT]},
             "$or": [{"title": {"$regex": pattern, "$options": "i"}},
                     {"description": {"$regex": pattern, "$options": "i"}}]}

    def score(doc: dict[str, Any]) -> tuple[int, int]:
        text = f"{doc['title']} {doc.get('description') or ''}".lower()
        whole = sum(10 for word in words if word.lower() in doc["title"].lower())
        parts = sum(1 for piece in pieces if piece.lower() in text)
        return whole + parts, int(doc["state"] == AVAILABLE)

    return query, lambda docs: sorted(docs, key=score, reverse=True)


class SharingRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.posts = db["share_posts"]
        self.loans = db["share_loans"]
        self.helps = db["help_requests"]

    async def ensure_indexes(self) -> None:
        await self.posts.create_indexes([
            IndexModel([("community", ASCENDING), ("state", ASCENDING), ("created_at", DESCENDING)], name="community_state"),
            IndexModel([("owner_id", ASCENDING), ("created_at", DESCENDING)], name="owner_recent"),
        ])
        await self.loans.create_indexes([
            IndexModel([("post_id", ASCENDING), ("state", ASCENDING), ("created_at", ASCENDING)], name="post_queue"),
            IndexModel([("owner_id", ASCENDING), ("state", ASCENDING)], name="owner_state"),
            IndexModel([("borrower_id", ASCENDING), ("created_at", DESCENDING)], name="borrower_recent"),
            IndexModel([("state", ASCENDING), ("end", ASCENDING)], name="due"),
            IndexModel([("community", ASCENDING), ("created_at", DESCENDING)], name="community_recent"),
        ])
        await self.helps.create_indexes([
            IndexModel([("community", ASCENDING), ("state", ASCENDING), ("created_at", DESCENDING)], name="community_state"),
            IndexModel([("requester_id", ASCENDING), ("created_at", DESCENDING)], name="requester_recent"),
            IndexModel([("volunteer_id", ASCENDING), ("created_at", DESCENDING)], name="volunteer_recent"),
        ])

    # -- posts ---------------------------------------------------------------------

    async def add_post(self, **fields: Any) -> Post:
        now = _now()
        doc = {"_id": _id(), "state": AVAILABLE, "hidden": False, "reports": [], "created_at": now,
               "updated_at": now, **fields}
        await self.posts.insert_one(doc)
        return Post.from_doc(doc)

    async def get_post(self, post_id: str) -> Post | None:
        doc = await self.posts.find_one({"_id": str(post_id)})
        return Post.from_doc(doc) if doc else None

    async def search(self, community: str, words: list[str], limit: int = 8, related: list[str] | None = None) -> list[Post]:
        """Visible posts of a community matching any word (or its two-character pieces) or any
        related word (synonyms, whole only), best match first."""
        query, ranked = search_query(community, words, related)
        if query is None:
            return []
        docs = await self.posts.find(query).sort("created_at", DESCENDING).limit(200).to_list(200)
        return [Post.from_doc(doc) for doc in ranked(docs)[:limit]]

    async def recent_posts(self, community: str, limit: int = 8, kind: str | None = None) -> list[Post]:
        query: dict[str, Any] = {"community": community, "hidden": False, "state": {"$in": [AVAILABLE, LENT]}}
        if kind:
            query["kind"] = kind
        docs = await self.posts.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [Post.from_doc(doc) for doc in docs]

    async def posts_of(self, owner_id: str, limit: int = 20) -> list[Post]:
        docs = await self.posts.find({"owner_id": owner_id, "state": {"$ne": WITHDRAWN}}).sort(
            "created_at", DESCENDING).limit(limit).to_list(limit)
        return [Post.from_doc(doc) for doc in docs]

    async def set_post_state(self, post_id: str, from_states: list[str], to_state: str) -> Post | None:
        doc = await self.posts.find_one_and_update(
            {"_id": post_id, "state": {"$in": from_states}},
            {"$set": {"state": to_state, "updated_at": _now()}}, return_document=ReturnDocument.AFTER,
        )
        return Post.from_doc(doc) if doc else None

    async def list_posts(self, scope: dict[str, Any], *, reported_only: bool = False, hidden: bool | None = None,
                         limit: int = 100, skip: int = 0) -> list[Post]:
        query = dict(scope)
        if reported_only:
            query["reports.0"] = {"$exists": True}
        if hidden is not None:
            query["hidden"] = hidden
        docs = await self.posts.find(query).sort("created_at", DESCENDING).skip(skip).limit(limit).to_list(limit)
        return [Post.from_doc(doc) for doc in docs]

    # -- moderation (posts and help requests alike) ----------------------------------

    def _collection(self, kind: str):
        return self.helps if kind == "help" else self.posts

    async def report(self, kind: str, record_id: str, resident_id: str, reason: str) -> bool:
        """A resident reports a post; once per resident."""
        result = await self._collection(kind).update_one(
            {"_id": record_id, "reports.resident_id": {"$ne": resident_id}},
            {"$push": {"reports": {"resident_id": resident_id, "reason": reason[:200], "at": _now()}}},
        )
        return bool(result.modified_count)

    async def set_hidden(self, kind: str, record_id: str, hidden: bool, reason: str | None,
                         staff_id: str | None, scope: dict[str, Any]) -> dict[str, Any] | None:
        """Hide or show a record within the staff member's scope; returns it before the change."""
        return await self._collection(kind).find_one_and_update(
            {**scope, "_id": record_id},
            {"$set": {"hidden": hidden, "hidden_reason": reason if hidden else None, "hidden_by": staff_id,
                      "updated_at": _now()}},
        )

    # -- loans ---------------------------------------------------------------------

    async def add_loan(self, **fields: Any) -> Loan:
        doc = {"_id": _id(), "created_at": _now(), **fields}
        await self.loans.insert_one(doc)
        return Loan.from_doc(doc)

    async def get_loan(self, loan_id: str) -> Loan | None:
        doc = await self.loans.find_one({"_id": str(loan_id)})
        return Loan.from_doc(doc) if doc else None

    async def loans_of_post(self, post_id: str, states: list[str]) -> list[Loan]:
        docs = await self.loans.find({"post_id": post_id, "state": {"$in": states}}).sort(
            [("created_at", ASCENDING), ("_id", ASCENDING)]).to_list(200)
        return [Loan.from_doc(doc) for doc in docs]

    async def open_loan_of(self, post_id: str, borrower_id: str) -> Loan | None:
        doc = await self.loans.find_one({"post_id": post_id, "borrower_id": borrower_id,
                                         "state": {"$in": [WAITING, *ACTIVE_LOANS]}})
        return Loan.from_doc(doc) if doc else None

    async def move_loan(self, loan_id: str, from_states: list[str], to_state: str, **fields: Any) -> Loan | None:
        doc = await self.loans.find_one_and_update(
            {"_id": loan_id, "state": {"$in": from_states}},
            {"$set": {"state": to_state, f"{to_state}_at": _now(), **fields}}, return_document=ReturnDocument.AFTER,
        )
        return Loan.from_doc(doc) if doc else None

    async def loans_for(self, resident_id: str, role: str, states: list[str] | None = None, limit: int = 20) -> list[Loan]:
        query: dict[str, Any] = {"owner_id" if role == "owner" else "borrower_id": resident_id}
        if states:
            query["state"] = {"$in": states}
        docs = await self.loans.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [Loan.from_doc(doc) for doc in docs]

    async def due_loans(self, last_day: str) -> list[Loan]:
        """Handed-over loans due on or before `last_day` whose borrower was not reminded."""
        docs = await self.loans.find({"state": HANDED_OVER, "end": {"$lte": last_day},
                                      "reminded": {"$ne": True}}).limit(500).to_list(500)
        return [Loan.from_doc(doc) for doc in docs]

    async def mark_reminded(self, loan_id: str) -> bool:
        result = await self.loans.update_one({"_id": loan_id, "reminded": {"$ne": True}},
                                             {"$set": {"reminded": True, "reminded_at": _now()}})
        return bool(result.modified_count)

    async def list_loans(self, scope: dict[str, Any], limit: int = 100) -> list[Loan]:
        docs = await self.loans.find(dict(scope)).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [Loan.from_doc(doc) for doc in docs]

    # -- help requests -------------------------------------------------------------

    async def add_help(self, **fields: Any) -> HelpRequest:
        doc = {"_id": _id(), "state": OPEN, "hidden": False, "reports": [], "created_at": _now(), **fields}
        await self.helps.insert_one(doc)
        return HelpRequest.from_doc(doc)

    async def get_help(self, help_id: str) -> HelpRequest | None:
        doc = await self.helps.find_one({"_id": str(help_id)})
        return HelpRequest.from_doc(doc) if doc else None

    async def open_helps(self, community: str, exclude_requester: str | None = None, limit: int = 8) -> list[HelpRequest]:
        query: dict[str, Any] = {"community": community, "state": OPEN, "hidden": False}
        if exclude_requester:
            query["requester_id"] = {"$ne": exclude_requester}
        docs = await self.helps.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [HelpRequest.from_doc(doc) for doc in docs]

    async def helps_of(self, resident_id: str, role: str, states: list[str] | None = None, limit: int = 20) -> list[HelpRequest]:
        query: dict[str, Any] = {"requester_id" if role == "requester" else "volunteer_id": resident_id}
        if states:
            query["state"] = {"$in": states}
        docs = await self.helps.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [HelpRequest.from_doc(doc) for doc in docs]

    async def move_help(self, help_id: str, query: dict[str, Any], to_state: str, **fields: Any) -> HelpRequest | None:
        doc = await self.helps.find_one_and_update(
            {**query, "_id": help_id}, {"$set": {"state": to_state, f"{to_state}_at": _now(), **fields}},
            return_document=ReturnDocument.AFTER,
        )
        return HelpRequest.from_doc(doc) if doc else None

    async def list_helps(self, scope: dict[str, Any], *, reported_only: bool = False, limit: int = 100) -> list[HelpRequest]:
        query = dict(scope)
        if reported_only:
            query["reports.0"] = {"$exists": True}
        docs = await self.helps.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [HelpRequest.from_doc(doc) for doc in docs]


class ShareMessageRepository:
    """`share_messages`: what neighbours passed on to each other through Linli (relayed
    messages, consents to share a phone number), see services/sharing_contact.py."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["share_messages"]

    async def add(self, doc: dict[str, Any]) -> dict[str, Any]:
        await self._col.insert_one(doc)
        return doc
