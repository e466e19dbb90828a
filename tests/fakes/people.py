"""In-memory twins of storage/residents.py's ResidentRepository and storage/notices.py's
NoticeRepository (what services/notify.py's Notifier is given), and of the chat's reads of
storage/communities.py's CommunityRepository and storage/elder_prefs.py's ElderPreferences
(what services/residents.py's ResidentService is given), with the staff's scoped reads and
contact corrections (services/resident_desk.py) and the place names the console offers."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError

from storage.communities import ServiceCentre, centre_of
from storage.elder_prefs import CHOSEN_TTL, PROFILE_TTL
from storage.notices import Notice
from storage.residents import LIST_ORDER, Resident, search_query, set_or_unset
from storage.scope import scoped
from tests.fakes.query import apply_update, matches, sort_docs, stored


class FakeResidentRepository:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    def _owner(self, user_key: str) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if user_key in d["user_keys"]), None)

    async def for_user_key(self, user_key: str, default_community: str) -> Resident:
        key = str(user_key)
        doc = self._owner(key)
        if doc is None:
            doc = stored({"_id": str(ObjectId()), "user_keys": [key], "community": default_community,
                          "created_at": datetime.now(timezone.utc)})
            self.docs[doc["_id"]] = doc
        return Resident.from_doc(stored(doc))

    async def find_by_user_key(self, user_key: str) -> Resident | None:
        doc = self._owner(str(user_key))
        return Resident.from_doc(stored(doc)) if doc else None

    async def get(self, resident_id: str) -> Resident | None:
        doc = self.docs.get(str(resident_id))
        return Resident.from_doc(stored(doc)) if doc else None

    async def update_profile(self, resident_id: str, **fields: Any) -> Resident | None:
        allowed = {"name", "phone", "building", "birth_year", "community", "disability"}
        changes = {k: v for k, v in fields.items() if k in allowed}
        doc = self.docs.get(str(resident_id))
        if doc is None:
            return None
        for key, value in changes.items():
            if value is not None:
                doc[key] = stored(value)
            elif key != "community":
                doc.pop(key, None)
        return Resident.from_doc(stored(doc))

    async def verify_facts(self, resident_id: str, staff_id: str, now: datetime) -> Resident | None:
        doc = self.docs.get(str(resident_id))
        if doc is None:
            return None
        doc["eligibility_verified"] = stored({"birth_year": doc.get("birth_year"),
                                              "disability": bool(doc.get("disability", False)),
                                              "by": staff_id, "at": now})
        return Resident.from_doc(stored(doc))

    async def document(self, resident_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(str(resident_id))
        return stored(doc) if doc else None

    def _found(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [doc for doc in self.docs.values() if matches(doc, query)]

    async def count_matching(self, scope: dict[str, Any], words: list[str], fields: tuple[str, ...]) -> int:
        return len(self._found(search_query(scope, words, fields)))

    async def search(self, scope: dict[str, Any], words: list[str], fields: tuple[str, ...], *,
                     skip: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        found = sort_docs(self._found(search_query(scope, words, fields)), LIST_ORDER)
        return [stored(doc) for doc in found[skip:skip + limit]]

    async def document_in_scope(self, resident_id: str, scope: dict[str, Any]) -> dict[str, Any] | None:
        found = self._found(scoped({"_id": str(resident_id), "deleted_at": None}, scope))
        return stored(found[0]) if found else None

    async def find_in_scope(self, value: str, fields: tuple[str, ...],
                            scope: dict[str, Any]) -> dict[str, Any] | None:
        found = self._found(scoped({"$or": [{name: str(value)} for name in fields], "deleted_at": None}, scope))
        return stored(found[0]) if found else None

    async def update_contact(self, resident_id: str, scope: dict[str, Any], *, phone: str | None,
                             building: str | None) -> dict[str, Any] | None:
        found = self._found(scoped({"_id": str(resident_id)}, scope))
        if not found:
            return None
        apply_update(found[0], set_or_unset({"phone": phone, "building": building}))
        return stored(found[0])

    async def anonymise(self, resident_id: str) -> Resident | None:
        doc = self.docs.get(str(resident_id))
        if doc is None:
            return None
        tombstone = stored({"_id": doc["_id"], "user_keys": [f"deleted:{doc['_id']}"], "community": doc["community"],
                            "created_at": doc.get("created_at"), "deleted_at": datetime.now(timezone.utc)})
        self.docs[doc["_id"]] = tombstone
        return Resident.from_doc(stored(tombstone))

    async def link_user_key(self, resident_id: str, user_key: str) -> None:
        key = str(user_key)
        owner = self._owner(key)
        if owner is not None and owner["_id"] != str(resident_id):
            raise DuplicateKeyError(f"E11000 duplicate key error index: user_keys dup key: {key}")
        doc = self.docs.get(str(resident_id))
        if doc is not None and key not in doc["user_keys"]:
            doc["user_keys"].append(key)


class FakeNoticeRepository:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def ensure_indexes(self) -> None:
        return None

    async def add(self, *, user_key: str | None, resident_id: str | None, text: str, ref: str | None,
                  now: datetime) -> str:
        oid = ObjectId()
        self.docs.append(stored({"_id": oid, "user_key": user_key, "resident_id": resident_id, "text": text,
                                 "ref": ref, "created_at": now, "read": False}))
        return str(oid)

    async def for_resident(self, resident_id: str, *, unread_only: bool = False, limit: int = 50) -> list[Notice]:
        mine = [d for d in self.docs if d["resident_id"] == resident_id and not (unread_only and d["read"])]
        mine.sort(key=lambda d: (d["created_at"], d["_id"]), reverse=True)
        return [Notice.from_doc(d) for d in mine[:limit]]

    async def mark_read(self, resident_id: str, ids: list[str] | None = None) -> int:
        wanted = None
        if ids is not None:
            wanted = set()
            for raw in ids:
                try:
                    wanted.add(ObjectId(raw))
                except (InvalidId, TypeError):
                    continue
        changed = 0
        for doc in self.docs:
            if doc["resident_id"] == resident_id and not doc["read"] and (wanted is None or doc["_id"] in wanted):
                doc["read"] = True
                changed += 1
        return changed


class FakeCommunityRepository:
    """The chat's reads: name, the numbered list, the service centre; the mini-program's record
    and existence checks; the console's names of communities and streets."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.streets: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    def add(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = stored(doc)

    def add_street(self, doc: dict[str, Any]) -> None:
        self.streets[doc["_id"]] = stored(doc)

    async def names(self, query: dict[str, Any] | None = None) -> dict[str, str]:
        return {cid: doc.get("name", cid) for cid, doc in sorted(self.docs.items()) if matches(doc, query)}

    async def street_names(self) -> dict[str, str]:
        return {sid: doc.get("name", sid) for sid, doc in sorted(self.streets.items())}

    async def get(self, community: str) -> dict[str, Any] | None:
        return stored(self.docs[community]) if community in self.docs else None

    async def exists(self, community: str) -> bool:
        return community in self.docs

    async def name(self, community: str) -> str:
        return (self.docs.get(community) or {}).get("name") or "社区"

    async def listed(self, limit: int = 16) -> list[tuple[str, str]]:
        return [(cid, doc.get("name") or cid) for cid, doc in sorted(self.docs.items())][:limit]

    async def service_centre(self, community: str) -> ServiceCentre:
        return centre_of(stored(self.docs.get(community) or {}))


class FakeElderPreferences:
    """user_key -> (value, seconds it is kept)."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[str, int]] = {}

    async def get(self, user_key: str) -> str | None:
        value = self.kept.get(user_key)
        return value[0] if value else None

    async def chosen(self, user_key: str, on: bool) -> None:
        self.kept[user_key] = ("on" if on else "off", CHOSEN_TTL)

    async def from_profile(self, user_key: str, on: bool) -> None:
        self.kept[user_key] = ("on" if on else "no", PROFILE_TTL)
