"""In-memory twins of storage/sharing.py's SharingRepository and ShareMessageRepository, and a
content checker over a word list: every state change is conditional on the expected state,
a resident reports a record once, search uses the real filter and ranking."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId

from services.content_check import OK, Verdict
from storage.sharing import (
    ACTIVE_LOANS, AVAILABLE, HANDED_OVER, LENT, OPEN, WAITING, WITHDRAWN, HelpRequest, Loan, Post, search_query,
)
from tests.fakes.query import FakeCollection


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _page(docs: list[dict[str, Any]], limit: int, skip: int = 0) -> list[dict[str, Any]]:
    return docs[skip:skip + limit]


class FakeSharingRepository:
    def __init__(self) -> None:
        self.posts, self.loans, self.helps = FakeCollection(), FakeCollection(), FakeCollection()

    async def ensure_indexes(self) -> None:
        return None

    # -- posts -----------------------------------------------------------------------------

    async def add_post(self, **fields: Any) -> Post:
        now = _now()
        doc = {"_id": str(ObjectId()), "state": AVAILABLE, "hidden": False, "reports": [], "created_at": now,
               "updated_at": now, **fields}
        self.posts.insert_one(doc)
        return Post.from_doc(self.posts.find_one({"_id": doc["_id"]}))

    async def get_post(self, post_id: str) -> Post | None:
        doc = self.posts.find_one({"_id": str(post_id)})
        return Post.from_doc(doc) if doc else None

    async def search(self, community: str, words: list[str], limit: int = 8,
                     related: list[str] | None = None) -> list[Post]:
        query, ranked = search_query(community, words, related)
        if query is None:
            return []
        return [Post.from_doc(doc) for doc in ranked(self.posts.find(query, [("created_at", -1)], 200))[:limit]]

    async def recent_posts(self, community: str, limit: int = 8, kind: str | None = None) -> list[Post]:
        query = {"community": community, "hidden": False, "state": {"$in": [AVAILABLE, LENT]},
                 **({"kind": kind} if kind else {})}
        return [Post.from_doc(doc) for doc in self.posts.find(query, [("created_at", -1)], limit)]

    async def posts_of(self, owner_id: str, limit: int = 20) -> list[Post]:
        docs = self.posts.find({"owner_id": owner_id, "state": {"$ne": WITHDRAWN}}, [("created_at", -1)], limit)
        return [Post.from_doc(doc) for doc in docs]

    async def set_post_state(self, post_id: str, from_states: list[str], to_state: str) -> Post | None:
        doc = self.posts.update_one({"_id": post_id, "state": {"$in": from_states}},
                                    {"$set": {"state": to_state, "updated_at": _now()}})
        return Post.from_doc(doc) if doc else None

    async def list_posts(self, scope: dict[str, Any], *, reported_only: bool = False, hidden: bool | None = None,
                         limit: int = 100, skip: int = 0) -> list[Post]:
        docs = self.posts.find({**scope, **({"hidden": hidden} if hidden is not None else {})}, [("created_at", -1)])
        docs = [doc for doc in docs if doc.get("reports") or not reported_only]
        return [Post.from_doc(doc) for doc in _page(docs, limit, skip)]

    # -- moderation ----------------------------------------------------------------------

    def _collection(self, kind: str) -> FakeCollection:
        return self.helps if kind == "help" else self.posts

    async def report(self, kind: str, record_id: str, resident_id: str, reason: str) -> bool:
        return self._collection(kind).update_one(
            {"_id": record_id, "reports.resident_id": {"$ne": resident_id}},
            {"$push": {"reports": {"resident_id": resident_id, "reason": reason[:200], "at": _now()}}},
        ) is not None

    async def set_hidden(self, kind: str, record_id: str, hidden: bool, reason: str | None,
                         staff_id: str | None, scope: dict[str, Any]) -> dict[str, Any] | None:
        return self._collection(kind).update_one(
            {**scope, "_id": record_id},
            {"$set": {"hidden": hidden, "hidden_reason": reason if hidden else None, "hidden_by": staff_id,
                      "updated_at": _now()}}, after=False)

    # -- loans ---------------------------------------------------------------------------

    async def add_loan(self, **fields: Any) -> Loan:
        doc = {"_id": str(ObjectId()), "created_at": _now(), **fields}
        self.loans.insert_one(doc)
        return Loan.from_doc(self.loans.find_one({"_id": doc["_id"]}))

    async def get_loan(self, loan_id: str) -> Loan | None:
        doc = self.loans.find_one({"_id": str(loan_id)})
        return Loan.from_doc(doc) if doc else None

    async def loans_of_post(self, post_id: str, states: list[str]) -> list[Loan]:
        docs = self.loans.find({"post_id": post_id, "state": {"$in": states}}, [("created_at", 1), ("_id", 1)], 200)
        return [Loan.from_doc(doc) for doc in docs]

    async def open_loan_of(self, post_id: str, borrower_id: str) -> Loan | None:
        doc = self.loans.find_one({"post_id": post_id, "borrower_id": borrower_id,
                                   "state": {"$in": [WAITING, *ACTIVE_LOANS]}})
        return Loan.from_doc(doc) if doc else None

    async def move_loan(self, loan_id: str, from_states: list[str], to_state: str, **fields: Any) -> Loan | None:
        doc = self.loans.update_one({"_id": loan_id, "state": {"$in": from_states}},
                                    {"$set": {"state": to_state, f"{to_state}_at": _now(), **fields}})
        return Loan.from_doc(doc) if doc else None

    async def loans_for(self, resident_id: str, role: str, states: list[str] | None = None,
                        limit: int = 20) -> list[Loan]:
        query = {"owner_id" if role == "owner" else "borrower_id": resident_id,
                 **({"state": {"$in": states}} if states else {})}
        return [Loan.from_doc(doc) for doc in self.loans.find(query, [("created_at", -1)], limit)]

    async def due_loans(self, last_day: str) -> list[Loan]:
        docs = self.loans.find({"state": HANDED_OVER, "end": {"$lte": last_day}, "reminded": {"$ne": True}}, limit=500)
        return [Loan.from_doc(doc) for doc in docs]

    async def mark_reminded(self, loan_id: str) -> bool:
        return self.loans.update_one({"_id": loan_id, "reminded": {"$ne": True}},
                                     {"$set": {"reminded": True, "reminded_at": _now()}}) is not None

    async def list_loans(self, scope: dict[str, Any], limit: int = 100) -> list[Loan]:
        return [Loan.from_doc(doc) for doc in self.loans.find(dict(scope), [("created_at", -1)], limit)]

    # -- help requests -------------------------------------------------------------------

    async def add_help(self, **fields: Any) -> HelpRequest:
        doc = {"_id": str(ObjectId()), "state": OPEN, "hidden": False, "reports": [], "created_at": _now(), **fields}
        self.helps.insert_one(doc)
        return HelpRequest.from_doc(self.helps.find_one({"_id": doc["_id"]}))

    async def get_help(self, help_id: str) -> HelpRequest | None:
        doc = self.helps.find_one({"_id": str(help_id)})
        return HelpRequest.from_doc(doc) if doc else None

    async def open_helps(self, community: str, exclude_requester: str | None = None,
                         limit: int = 8) -> list[HelpRequest]:
        query = {"community": community, "state": OPEN, "hidden": False,
                 **({"requester_id": {"$ne": exclude_requester}} if exclude_requester else {})}
        return [HelpRequest.from_doc(doc) for doc in self.helps.find(query, [("created_at", -1)], limit)]

    async def helps_of(self, resident_id: str, role: str, states: list[str] | None = None,
                       limit: int = 20) -> list[HelpRequest]:
        query = {"requester_id" if role == "requester" else "volunteer_id": resident_id,
                 **({"state": {"$in": states}} if states else {})}
        return [HelpRequest.from_doc(doc) for doc in self.helps.find(query, [("created_at", -1)], limit)]

    async def move_help(self, help_id: str, query: dict[str, Any], to_state: str, **fields: Any) -> HelpRequest | None:
        doc = self.helps.update_one({**query, "_id": help_id},
                                    {"$set": {"state": to_state, f"{to_state}_at": _now(), **fields}})
        return HelpRequest.from_doc(doc) if doc else None

    async def list_helps(self, scope: dict[str, Any], *, reported_only: bool = False,
                         limit: int = 100) -> list[HelpRequest]:
        docs = [doc for doc in self.helps.find(dict(scope), [("created_at", -1)]) if doc.get("reports") or not reported_only]
        return [HelpRequest.from_doc(doc) for doc in docs[:limit]]


class FakeShareMessageRepository:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def add(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.docs.append(dict(doc))
        return doc


@dataclass
class WordChecker:
    """services.content_check.ContentChecker's `check` over a fixed word list (no phone or
    link rules: those are the checker's own, tested with it)."""

    words: dict[str, str] = field(default_factory=lambda: {"代开发票": "广告"})

    async def check(self, *texts: str | None) -> Verdict:
        joined = "\n".join(t for t in texts if t)
        for word, reason in self.words.items():
            if word in joined:
                return Verdict(False, f"内容里有不允许发布的词“{word}”（{reason}）", "blocked_word", word)
        return OK
