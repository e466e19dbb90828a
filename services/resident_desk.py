"""What staff do with residents' records in the console: count and search them, open one,
verify the facts a resident declared, correct their contact details.

Every call takes the signed-in staff member's `scope` (storage/scope.py): a record outside
it is answered like a missing one. Changes go to the audit trail. The repositories (the
residents', the audit log) stay inside; the bookings are told through `BookingService`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from domain.errors import ConflictError, InvalidError, NotFoundError
from domain.phone import is_mobile
from domain.time import utcnow
from services.bookings import BookingService
from storage.audit import AuditLog
from storage.residents import Resident, ResidentRepository
from storage.staff import Staff

SEARCH_WORDS = 4  # at most this many words of a search count
NAME_FIELDS = ("name", "_id")
# Staff who may see contact details also find residents by them (others must not probe
# a number or a flat).
CONTACT_FIELDS = ("phone", "building")
BAD_PHONE = "请填写11位手机号"


def _contact(doc: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a contact correction."""
    return {"community": doc.get("community"), "phone": doc.get("phone"), "building": doc.get("building")}


class ResidentDesk:
    def __init__(self, residents: ResidentRepository, bookings: BookingService, audit: AuditLog, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._residents = residents
        self._bookings = bookings
        self._audit = audit
        self._clock = clock

    @staticmethod
    def _search(words: str, contact: bool) -> tuple[list[str], tuple[str, ...]]:
        """The words that count and the fields they are looked for in."""
        return words.split()[:SEARCH_WORDS], NAME_FIELDS + (CONTACT_FIELDS if contact else ())

    async def count(self, scope: dict[str, Any], words: str = "", *, contact: bool = False) -> int:
        """How many residents (not erased) within `scope` `search` finds (all, without words)."""
        return await self._residents.count_matching(scope, *self._search(words, contact))

    async def search(self, scope: dict[str, Any], words: str, *, contact: bool, skip: int = 0,
                     limit: int = 20) -> list[dict[str, Any]]:
        """Residents whose name or id has every word, newest first; with `contact` (staff who
        may see contact details) the phone number and address count too."""
        return await self._residents.search(scope, *self._search(words, contact), skip=skip, limit=limit)

    async def get(self, resident_id: str, scope: dict[str, Any]) -> dict[str, Any]:
        """The resident's record; NotFoundError when missing, erased or outside `scope`."""
        doc = await self._residents.document_in_scope(resident_id, scope)
        if doc is None:
            raise NotFoundError()
        return doc

    async def find(self, text: str, scope: dict[str, Any], *, contact: bool) -> dict[str, Any] | None:
        """The resident whose id is `text`, or (`contact`: staff who may see phone numbers)
        whose phone number it is; None when there is none within `scope`."""
        fields = ("_id", "phone") if contact else ("_id",)
        return await self._residents.find_in_scope(text, fields, scope) if text else None

    async def by_phone(self, phone: str, scope: dict[str, Any]) -> Resident | None:
        """The resident with this mobile number within `scope` (staff verify people in person)."""
        if not is_mobile(phone):
            return None
        doc = await self._residents.find_in_scope(phone, ("phone",), scope)
        return Resident.from_doc(doc) if doc else None

    @staticmethod
    def facts_verified(record: dict[str, Any]) -> bool:
        """Whether staff verified the birth year and disability on record as they now are."""
        return Resident.from_doc(record).facts_verified

    async def verify_facts(self, staff: Staff, scope: dict[str, Any], resident_id: str) -> Resident:
        """Staff checked the documents (ID card for the birth year, 残疾证): the facts that gate
        services like 老年助餐 are verified, and the resident's bookings lose their 待核实 mark.
        ConflictError when the facts changed meanwhile (look again)."""
        doc = await self.get(resident_id, scope)
        after = await self._residents.verify_facts(doc["_id"], staff.id, self._clock())
        if after is None:
            raise ConflictError()
        await self._bookings.facts_verified(doc["_id"])
        facts = {"birth_year": after.birth_year, "disability": after.disability}
        await self._audit.record(staff, "resident.verify", "residents", doc["_id"],
                                 {"eligibility_verified": bool(doc.get("eligibility_verified"))},
                                 {"eligibility_verified": True, **facts}, resident_id=doc["_id"])
        return after

    async def correct_contact(self, staff: Staff, scope: dict[str, Any], resident_id: str, *, phone: str,
                              building: str) -> dict[str, Any]:
        """Correct a resident's phone / building on their behalf (e.g. at the service desk); an
        empty one is removed. InvalidError (the form says it) unless the phone is a mobile number."""
        doc = await self.get(resident_id, scope)
        if phone and not is_mobile(phone):
            raise InvalidError("bad_phone", zh=BAD_PHONE, en="the phone must be an 11-digit mobile number")
        after = await self._residents.update_contact(doc["_id"], scope, phone=phone or None,
                                                     building=building or None)
        if after is None:
            raise NotFoundError()
        await self._audit.record(staff, "resident.update", "residents", doc["_id"], _contact(doc),
                                 _contact(after), resident_id=doc["_id"])
        return after
