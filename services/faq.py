"""Answering residents' questions about the community's own rules from its FAQ (storage/faq.py).

Matching: character 2–3-gram TF-IDF (scikit-learn) over each entry's question and keywords,
cosine similarity to the resident's message, after question fillers (请问、怎么、吗 …) are
dropped. The IDF is fitted on the entries plus `REFERENCE_QUESTIONS`, everyday questions about
other things (停车怎么收费、银行几点开门), so words any question has (收费、上班、几点开门) weigh
little and an entry matches by its topic (助餐、轮椅、积分、驿站). A keyword written in the message
adds `KEYWORD_BONUS`. Below `THRESHOLD` nothing matches: unrelated questions get the usual answer.

The entries are read on every question (a few dozen per community, one indexed query), so an
edit in the console is used at once by every worker process; the fitted model is cached per
community until the entries change.

Staff edit the entries of their scope through the same service (the console's FAQ editor):
community admins write their own community's, the others one they choose within their scope.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Collection

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from domain.errors import ForbiddenError, InvalidError, NotFoundError
from storage.faq import FaqEntry, FaqRepository
from storage.scope import COMMUNITY_ADMIN, Member, OutOfScope

THRESHOLD = 0.3
KEYWORD_BONUS = 0.15
NGRAMS = (2, 3)
# Words every question has: dropped before matching (longest first where they overlap).
_FILLER = re.compile(
    r"请问|请|问一下|问下|想问|想知道|我想|我要|我们|咱们|你们|一下|这个|那个|社区|小区|的|了|呢|吗|吧|啊|呀|嘛|么|"
    r"是|有|要|能|可以|怎么|怎样|如何|什么|哪些|哪里|哪儿|多少|几点|时候|知道|告诉我|谁"
)
_NON_WORD = re.compile(r"[\s\W_]+")
# Everyday questions about other things: fitted into the IDF only (never matched), so the
# words of questions in general weigh little.
REFERENCE_QUESTIONS = (
    "停车场怎么收费 物业费怎么收费 收费标准是多少 一个月多少钱 几点上班几点下班 周末上不上班 营业时间是几点 "
    "开门时间 关门时间 什么时候开放 怎么申请 需要带什么材料 要什么条件 有什么规定 规则是什么 怎么办理 "
    "在哪里办 去哪办 办事要多久 能不能办 可不可以 电话是多少 地址在哪里 怎么用 怎么借 要押金吗 免费吗 "
    "要预约吗 医院几点开门 银行几点下班 快递点几点关门 菜市场几点开 学校什么时候放假 公园几点关门 "
    "图书馆开放时间 游泳馆怎么收费 健身房多少钱一个月"
).split()


def prepare(text: str) -> str:
    """The words that carry the topic: punctuation and question fillers become spaces."""
    return _FILLER.sub(" ", _NON_WORD.sub(" ", text or ""))


def entry_text(entry: FaqEntry) -> str:
    return prepare(" ".join([entry.question, *entry.keywords]))


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float


class _Index:
    """The fitted vectorizer and entry vectors of one community's entries."""

    def __init__(self, entries: list[FaqEntry]) -> None:
        self.entries = entries
        docs = [entry_text(e) for e in entries]
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, sublinear_tf=True)
        self.vectorizer.fit(docs + [prepare(q) for q in REFERENCE_QUESTIONS])
        self.matrix = self.vectorizer.transform(docs)

    def scores(self, text: str) -> list[float]:
        similarity = cosine_similarity(self.vectorizer.transform([prepare(text)]), self.matrix)[0]
        return [float(s) + (KEYWORD_BONUS if any(len(k) >= 2 and k in text for k in e.keywords) else 0.0)
                for s, e in zip(similarity, self.entries)]


def _signature(entries: list[FaqEntry]) -> tuple[Any, ...]:
    return tuple((e.id, e.updated_at, e.question, tuple(e.keywords)) for e in entries)


class FaqService:
    def __init__(self, repo: FaqRepository, threshold: float = THRESHOLD) -> None:
        self.repo = repo
        self.threshold = threshold
        self._cache: dict[str, tuple[tuple[Any, ...], _Index]] = {}

    async def ranked(self, community: str, text: str) -> list[FaqMatch]:
        """Every entry of the community with its score, best first (the console's try-out)."""
        entries = await self.repo.for_community(community)
        if not entries or not prepare(text).strip():
            return []
        index = self._index(community, entries)
        matches = [FaqMatch(e, s) for e, s in zip(index.entries, index.scores(text))]
        return sorted(matches, key=lambda m: m.score, reverse=True)

    async def match(self, community: str, text: str) -> FaqMatch | None:
        """The entry answering `text`, or None when none is similar enough."""
        ranked = await self.ranked(community, text)
        return ranked[0] if ranked and ranked[0].score >= self.threshold else None

    def _index(self, community: str, entries: list[FaqEntry]) -> _Index:
        signature = _signature(entries)
        cached = self._cache.get(community)
        if cached is not None and cached[0] == signature:
            return cached[1]
        index = _Index(entries)
        self._cache[community] = (signature, index)
        return index

    # -- staff: the FAQ editor (the repository stays behind the service) -------------------------

    async def entries_in_scope(self, scope: dict[str, Any]) -> list[FaqEntry]:
        return await self.repo.list(scope)

    async def entry_doc(self, entry_id: str, scope: dict[str, Any]) -> dict[str, Any]:
        """One entry's document; NotFoundError when missing or outside the scope (one answer)."""
        doc = await self.repo.get_doc(entry_id, scope)
        if doc is None:
            raise NotFoundError()
        return doc

    @staticmethod
    def entry_community(staff: Member, chosen: str) -> str:
        """The community a new entry of `staff` belongs to: a community admin's own, whatever
        was chosen; for the others the chosen one."""
        return (staff.community or "") if staff.role == COMMUNITY_ADMIN else chosen

    async def create_entry(self, scope: dict[str, Any], choices: Collection[str], *, community: str,
                           question: str, answer: str, keywords: str | list[str],
                           staff_name: str) -> dict[str, Any]:
        """A new entry of `community`, which must be one of `choices` (the staff member's
        communities): InvalidError (Chinese `zh`) otherwise or when the entry is not valid,
        ForbiddenError when the community lies outside the scope."""
        if community not in choices:
            raise InvalidError("invalid_community", zh="请选择您管辖的社区")
        try:
            return await self.repo.create(scope, community=community, question=question, answer=answer,
                                          keywords=keywords, staff_name=staff_name)
        except OutOfScope:
            raise ForbiddenError() from None
        except ValueError as exc:
            raise InvalidError("invalid_entry", zh=str(exc)) from None

    async def update_entry(self, entry_id: str, scope: dict[str, Any], *, question: str, answer: str,
                           keywords: str | list[str], staff_name: str) -> dict[str, Any]:
        """The entry after the change; InvalidError (Chinese `zh`) when it is not valid,
        NotFoundError when missing or outside the scope."""
        try:
            after = await self.repo.update(entry_id, scope, question=question, answer=answer,
                                           keywords=keywords, staff_name=staff_name)
        except ValueError as exc:
            raise InvalidError("invalid_entry", zh=str(exc)) from None
        if after is None:
            raise NotFoundError()
        return after

    async def delete_entry(self, entry_id: str, scope: dict[str, Any]) -> None:
        """Remove an entry; NotFoundError when missing or outside the scope."""
        if not await self.repo.delete(entry_id, scope):
            raise NotFoundError()
