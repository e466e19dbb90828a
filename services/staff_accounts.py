"""Staff accounts: signing in and out of the console (login locks per username and client,
one session per login), and what an admin manages: who may create which role and bind it to
which community or street, switching accounts on and off, lifting login locks.

An admin manages only roles below their own (a sysadmin everyone, storage.staff.can_manage)
and only accounts within their `scope` (storage/scope.py): an account outside it is answered
like a missing one. Every change goes to the audit trail; switching an account off also
ends its console sessions. The repositories stay inside this service.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError, ForbiddenError, InvalidError, NotFoundError
from storage.audit import AuditLog
from storage.communities import CommunityRepository
from storage.login_lock import ActiveLock, StaffLoginLock
from storage.scope import in_scope
from storage.sessions import SessionStore
from storage.staff import (
    COMMUNITY_ADMIN, GRID_WORKER, ROLES, STREET_ADMIN, SYSADMIN, Staff, StaffError, StaffRepository,
    can_manage,
)

log = logging.getLogger(__name__)

NO_ROLE = "请选择角色"
WRONG_PASSWORD = "用户名或密码不正确"


class LoginRefused(DomainError):
    """A sign-in that did not succeed: wrong name or password (401), or locked (429, with
    `data["retry_after"]` seconds)."""

    code = "login_refused"
    status = 401

    @classmethod
    def locked(cls, seconds: int) -> "LoginRefused":
        minutes = max(1, (seconds + 59) // 60)
        return cls("login_locked", zh=f"登录失败次数过多，已暂时锁定，请{minutes}分钟后再试",
                   en="too many failed logins", status=429, retry_after=seconds)


@dataclass(frozen=True)
class Choices:
    """What the new-account form offers an admin: roles, and (id, name) of the communities
    and streets an account may be bound to."""

    roles: list[str]
    communities: list[tuple[str, str]]
    streets: list[tuple[str, str]]


class StaffAccounts:
    def __init__(self, staff: StaffRepository, communities: CommunityRepository, login_lock: StaffLoginLock,
                 sessions: SessionStore, audit: AuditLog) -> None:
        self._staff = staff
        self._communities = communities
        self._login_lock = login_lock
        self._sessions = sessions  # the console's
        self._audit = audit

    # -- signing in and out ----------------------------------------------------------------------

    async def log_in(self, username: str, password: str, *, client: str, ip: str | None = None,
                     previous_token: str | None = None) -> tuple[Staff, str]:
        """The account and a new session token (the previous session of this browser ends:
        no fixation). Failures count per (username, client) and lock that pair: LoginRefused."""
        locked = await self._login_lock.locked_for(username, client)
        if locked:
            raise LoginRefused.locked(locked)
        staff = await self._staff.authenticate(username, password) if username else None
        if staff is None:
            seconds = await self._login_lock.failed(username, client)
            if seconds:
                log.warning("console login locked for %s from %s (%d s)", username, client, seconds)
                raise LoginRefused.locked(seconds)
            raise LoginRefused("wrong_password", zh=WRONG_PASSWORD, en="wrong username or password")
        await self._login_lock.succeeded(username, client)
        await self._sessions.delete(previous_token)
        token = await self._sessions.create({"staff_id": staff.id, "csrf": secrets.token_urlsafe(32)},
                                            owner=staff.id)
        await self._audit.record(staff, "auth.login", "staff", staff.id, None, None, ip=ip)
        return staff, token

    async def session(self, token: str) -> tuple[dict[str, Any], Staff] | None:
        """The session behind a console cookie and its account; a session whose account is
        gone or switched off ends here (None)."""
        session = await self._sessions.get(token)
        if not session:
            return None
        staff = await self._staff.get(str(session.get("staff_id")))
        if staff is None or not staff.active:
            await self._sessions.delete(token)
            return None
        return session, staff

    async def log_out(self, staff: Staff, token: str | None, *, ip: str | None = None) -> None:
        await self._sessions.delete(token)
        await self._audit.record(staff, "auth.logout", "staff", staff.id, None, None, ip=ip)

    # -- who may do what (also what the list shows) --------------------------------------------

    @staticmethod
    def creatable_roles(actor: Staff) -> list[str]:
        return [role for role in ROLES if can_manage(actor, role)]

    @staticmethod
    def may_set_active(actor: Staff, target: Staff) -> bool:
        """Another account, of a role below the actor's (a sysadmin: any other account)."""
        return target.id != actor.id and can_manage(actor, target.role)

    @staticmethod
    def may_unlock(actor: Staff, target: Staff) -> bool:
        return actor.role == SYSADMIN or can_manage(actor, target.role)

    # -- reads ---------------------------------------------------------------------------------

    async def members(self, scope: dict[str, Any]) -> tuple[list[Staff], dict[str, list[ActiveLock]]]:
        """The accounts within `scope` by username, and each one's login locks (by account id)."""
        members = await self._staff.list(scope)
        return members, {m.id: await self._login_lock.locks_of(m.username) for m in members}

    async def choices(self, actor: Staff, scope: dict[str, Any]) -> Choices:
        """The roles the actor may create, the communities of their scope and (sysadmins
        only, who alone make street admins) the streets."""
        names = await self._communities.names()
        communities = [(cid, name) for cid, name in sorted(names.items()) if in_scope(scope, cid)]
        streets = list((await self._communities.street_names()).items()) if actor.role == SYSADMIN else []
        return Choices(self.creatable_roles(actor), communities, streets)

    async def account(self, staff_id: str, scope: dict[str, Any]) -> Staff:
        """The account, if it lies within `scope`; NotFoundError otherwise."""
        found = await self._staff.get_in_scope(staff_id, scope)
        if found is None:
            raise NotFoundError()
        return found

    # -- changes -------------------------------------------------------------------------------

    async def create(self, actor: Staff, scope: dict[str, Any], *, username: str, password: str, name: str,
                     role: str, community: str, street: str) -> Staff:
        """A new account of `role`, bound to `community` (grid workers, community admins) or
        `street` (street admins). InvalidError (the form says it) for a missing role or an
        account that cannot be made as asked; ForbiddenError for a role or place beyond the actor."""
        if role not in ROLES:
            raise InvalidError("no_role", zh=NO_ROLE, en="choose a role")
        if not can_manage(actor, role):
            raise ForbiddenError()
        bound_to = community if role in (GRID_WORKER, COMMUNITY_ADMIN) else None
        if bound_to is not None and not in_scope(scope, bound_to):
            raise ForbiddenError()
        if role == STREET_ADMIN and actor.role != SYSADMIN:
            raise ForbiddenError()
        try:
            created = await self._staff.create(username, password, name=name, role=role, community=bound_to,
                                               street=street if role == STREET_ADMIN else None)
        except StaffError as exc:
            raise InvalidError("bad_account", zh=str(exc), en="cannot create the account as asked") from None
        await self._audit.record(actor, "staff.create", "staff", created.id, None, created.public())
        return created

    async def set_active(self, actor: Staff, scope: dict[str, Any], staff_id: str,
                         active: bool) -> Staff | None:
        """Switch an account on or off (off also ends its console sessions); the account after."""
        target = await self.account(staff_id, scope)
        if not self.may_set_active(actor, target):
            raise ForbiddenError()
        after = await self._staff.set_active(target.id, active)
        if not active:
            await self._sessions.revoke_owner(target.id)
        action = "staff.activate" if active else "staff.deactivate"
        await self._audit.record(actor, action, "staff", target.id, target.public(),
                                 after.public() if after else None)
        return after

    async def unlock(self, actor: Staff, scope: dict[str, Any], staff_id: str, *,
                     ip: str | None = None) -> int:
        """Lift every login lock on an account (after checking with its owner); how many there were."""
        target = await self.account(staff_id, scope)
        if not self.may_unlock(actor, target):
            raise ForbiddenError()
        before = [lock.client for lock in await self._login_lock.locks_of(target.username)]
        lifted = await self._login_lock.unlock_user(target.username)
        await self._audit.record(actor, "staff.unlock", "staff", target.id, {"locked_clients": before},
                                 {"locked_clients": [], "lifted": lifted}, ip=ip)
        return lifted
