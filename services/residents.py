"""The person writing to the chat or using the mini-program: their resident record (created
on first need), their community, the notices waiting for them and their elder-mode preference.

What the dialogue handlers and the mini-program API know of a resident's own record comes
through `ResidentService` (what staff do with residents' records: services/resident_desk.py);
the repositories (residents, communities, notices, the Redis elder preferences) stay inside it.
"""
from __future__ import annotations

from typing import Any

from storage.communities import CommunityRepository, ServiceCentre
from storage.elder_prefs import ElderPreferences
from storage.notices import Notice, NoticeRepository
from storage.residents import Resident, ResidentRepository


class ResidentService:
    """`default_community` is where a new resident is placed (the settings'); without a
    `notices` repository no notices are shown in chat."""

    def __init__(self, residents: ResidentRepository, communities: CommunityRepository,
                 elder_prefs: ElderPreferences, *, default_community: str,
                 notices: NoticeRepository | None = None) -> None:
        self._residents = residents
        self._communities = communities
        self._elder_prefs = elder_prefs
        self._notices = notices
        self.default_community = default_community

    # -- the resident ------------------------------------------------------------------------

    async def me(self, user_key: str) -> Resident:
        """The resident behind a channel identity, created in the default community on first need."""
        return await self._residents.for_user_key(user_key, self.default_community)

    async def find(self, user_key: str) -> Resident | None:
        """The resident behind a channel identity, if there is one yet (never creates one)."""
        return await self._residents.find_by_user_key(user_key)

    async def get(self, resident_id: str) -> Resident | None:
        return await self._residents.get(resident_id)

    async def update_profile(self, resident_id: str, **fields: Any) -> Resident | None:
        """Change profile fields (storage/residents.py says which); None removes one."""
        return await self._residents.update_profile(resident_id, **fields)

    async def community_of(self, user_key: str) -> str:
        """The community of the resident behind `user_key`; the default one for a newcomer."""
        resident = await self.find(user_key)
        return resident.community if resident is not None and resident.community else self.default_community

    # -- communities -------------------------------------------------------------------------

    async def community(self, community: str) -> dict[str, Any] | None:
        """The community's record (id, name, street, ...), None for an unknown id."""
        return await self._communities.get(community)

    async def community_exists(self, community: str) -> bool:
        return await self._communities.exists(community)

    async def community_name(self, community: str) -> str:
        """The community's name ("社区" when it has none)."""
        return await self._communities.name(community)

    async def service_centre(self, community: str) -> ServiceCentre:
        """The 社区事务受理服务中心 residents of `community` are sent to."""
        return await self._communities.service_centre(community)

    async def listed_communities(self, limit: int = 16) -> list[tuple[str, str]]:
        """(id, name) of the communities in id order, for a numbered list."""
        return await self._communities.listed(limit)

    # -- notices -----------------------------------------------------------------------------

    async def take_unread_notices(self, user_key: str, limit: int) -> list[Notice]:
        """Up to `limit` unread notices of the resident behind `user_key`, newest first, now
        marked read (none for a user with no resident record yet)."""
        if self._notices is None:
            return []
        resident = await self.find(user_key)
        if resident is None:
            return []
        unread = await self._notices.for_resident(resident.id, unread_only=True, limit=limit)
        if unread:
            await self._notices.mark_read(resident.id, [n.id for n in unread])
        return unread

    # -- elder mode --------------------------------------------------------------------------

    async def elder_preference(self, user_key: str) -> str | None:
        """"on" / "off" as the user chose, "on" / "no" as read from the profile, None when
        neither is remembered (any more)."""
        return await self._elder_prefs.get(user_key)

    async def choose_elder_mode(self, user_key: str, on: bool) -> None:
        """The user turned elder mode on or off: remembered for a year."""
        await self._elder_prefs.chosen(user_key, on)

    async def elder_mode_from_profile(self, user_key: str, on: bool) -> None:
        """What the profile says (age): remembered for a day, then the profile is read again."""
        await self._elder_prefs.from_profile(user_key, on)
