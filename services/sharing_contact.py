"""How neighbours reach each other through Linli after a loan is accepted or a help request taken.

Two ways, both recorded in `share_messages` ({ref_kind, ref_id, from_id, to_id, kind, text,
created_at}):
- a message relayed by the bot (kind "message"): the other side gets it as a notice (WeChat
  customer-service message or a chat notice) and can answer the same way;
- a phone number (kind "phone"), sent only when its owner explicitly agreed in the dialogue;
  the number goes into the other side's notice only, the record keeps the consent, not the number.
Only the two parties of an accepted / handed-over loan or a taken help request can use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId

from domain.phone import MOBILE

from domain.errors import DomainError
from storage.sharing import ACCEPTED, HANDED_OVER, TAKEN, SharingRepository, ShareMessageRepository

PHONE = MOBILE  # a mainland mobile number (domain/phone.py)
MAX_MESSAGE = 200


class ContactError(DomainError):
    code = "contact_refused"
    status = 409

    def __init__(self, zh: str) -> None:
        super().__init__(None, zh, "contact through the platform refused")
        self.args = (zh,)


@dataclass
class Parties:
    sender_id: str
    other_id: str
    title: str  # what it is about: "铝合金梯子" / "接孩子"
    other_role: str  # how the sender calls the other side: "主人" / "借东西的邻居" / "帮忙的邻居" ...
    sender_role: str  # how the other side calls the sender


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) >= 7 else ""


def display_name(resident: Any, name: str | None = None) -> str:
    """What a neighbour is called in a notice: the name given (or registered, or 邻居) and building."""
    called = (name or getattr(resident, "name", None) or "邻居").strip()[:10]
    building = (getattr(resident, "building", None) or "").strip()[:20]
    return f"{called}（{building}）" if building else called


class ContactRelay:
    def __init__(self, messages: ShareMessageRepository, repo: SharingRepository, residents: Any, tell: Any,
                 checker: Any) -> None:
        self.messages = messages
        self.repo = repo
        self.residents = residents
        self._tell = tell  # async (resident_id, text, ref) -> None
        self.checker = checker

    async def parties(self, resident: Any, ref_kind: str, ref_id: str) -> Parties:
        if ref_kind == "loan":
            loan = await self.repo.get_loan(ref_id)
            if loan is None or resident.id not in (loan.owner_id, loan.borrower_id) or loan.state not in (ACCEPTED, HANDED_OVER):
                raise ContactError("主人同意借出后，才能通过邻里联系对方")
            if resident.id == loan.owner_id:
                return Parties(resident.id, loan.borrower_id, loan.post_title, "借东西的邻居", "“" + loan.post_title + "”的主人")
            return Parties(resident.id, loan.owner_id, loan.post_title, "主人", "借“" + loan.post_title + "”的邻居")
        found = await self.repo.get_help(ref_id)
        if found is None or found.state != TAKEN or resident.id not in (found.requester_id, found.volunteer_id):
            raise ContactError("有邻居接下求助后，才能通过邻里联系对方")
        if resident.id == found.requester_id:
            return Parties(resident.id, found.volunteer_id or "", found.kind_title, "帮忙的邻居", "发求助的邻居")
        return Parties(resident.id, found.requester_id, found.kind_title, "发求助的邻居", "帮您" + found.kind_title + "的邻居")

    async def _record(self, ref_kind: str, ref_id: str, parties: Parties, kind: str, text: str) -> dict[str, Any]:
        doc = {"_id": str(ObjectId()), "ref_kind": ref_kind, "ref_id": ref_id, "from_id": parties.sender_id,
               "to_id": parties.other_id, "kind": kind, "text": text, "created_at": datetime.now(timezone.utc)}
        return await self.messages.add(doc)

    async def relay(self, resident: Any, ref_kind: str, ref_id: str, text: str) -> Parties:
        """Pass a message on to the other side of the loan / help request."""
        parties = await self.parties(resident, ref_kind, ref_id)
        text = (text or "").strip()[:MAX_MESSAGE]
        if not text:
            raise ContactError("留言是空的")
        verdict = await self.checker.check(text)
        if not verdict.ok:
            raise ContactError(verdict.reason)
        await self._record(ref_kind, ref_id, parties, "message", text)
        await self._tell(parties.other_id, f"{display_name(resident)}（{parties.sender_role}）给您留言：{text}\n"
                                           "回复 5 进入邻里共享，在“我的”里可以回复留言。", f"{ref_kind}:{ref_id}")
        return parties

    async def share_phone(self, resident: Any, ref_kind: str, ref_id: str, phone: str) -> Parties:
        """Send the resident's phone to the other side; call only after the resident agreed."""
        parties = await self.parties(resident, ref_kind, ref_id)
        if not PHONE.fullmatch(phone or ""):
            raise ContactError("手机号不对，请写11位手机号")
        await self._record(ref_kind, ref_id, parties, "phone", "")
        await self._tell(parties.other_id, f"{display_name(resident)}（{parties.sender_role}）同意把电话告诉您："
                                           f"{phone}。", f"{ref_kind}:{ref_id}")
        return parties
