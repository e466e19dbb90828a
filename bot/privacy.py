"""Personal information shown to staff: masking of phone numbers and exact addresses.

Rule (PIPL minimum necessary): grid workers work records but do not need residents'
contact details, so they see them masked; community admins, street admins and
sysadmins, who follow up with residents, see them in full. Masking is a display
rule: the console templates use the `phone` / `address` filters, which mask unless the
logged-in staff member `can_see_contact`.

Free text (transcripts, report descriptions, staff notes, audit snapshots) can hold the
same details in any shape, so for staff without the right every value a console
template prints passes `storage.redaction.redact_text` (the Jinja `finalize` hook,
`console_finalize`): phone numbers, ID-card numbers and room-level addresses come out
masked whatever the template does. Values meant for everyone (a station's public
phone, the CSRF token) are marked `Public` (filter `|public`).
"""
from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, pass_context
from markupsafe import Markup

from storage.redaction import redact_text
from storage.staff import ADMIN_ROLES, Staff

MASK = "****"
# The building level of an address: 3栋, 5幢, A座, 2号楼, ... (kept, the rest hidden).
_BUILDING = re.compile(r"(?:号楼|栋|幢|座|楼)")
# Without a building: keep up to the street number or the estate name.
_PLACE = re.compile(r"(?:号|社区|小区|花园|苑|村|大厦|公寓|路|街|巷|弄|道)")


def mask_phone(phone: str | None) -> str:
    """"13812341234" -> "138****1234"; other numbers keep at most 3 + 4 digits."""
    if not phone:
        return ""
    text = str(phone).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+86") or (len(digits) == 13 and digits.startswith("86")):
        digits = digits[2:]
    if len(digits) >= 11:
        return f"{digits[:3]}{MASK}{digits[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:2]}{MASK}{digits[-2:]}"
    return MASK


def mask_address(text: str | None) -> str:
    """Keep the community/building level, hide the rest:
    "华富路12号3栋501" -> "华富路12号3栋***", "3栋2单元501" -> "3栋***"."""
    if not text:
        return ""
    text = str(text).strip()
    match = _BUILDING.search(text)
    if match is None:
        places = list(_PLACE.finditer(text))
        match = places[-1] if places else None
    if match is None:
        keep = text[: max(0, min(4, len(text) // 2))]
    else:
        keep = text[: match.end()]
    return keep + "***" if keep != text else text


def can_see_contact(staff: Staff | None) -> bool:
    """Community admins and up see phone numbers and addresses; grid workers do not."""
    return staff is not None and staff.role in ADMIN_ROLES


def show_phone(phone: str | None, staff: Staff | None) -> str:
    return (phone or "") if can_see_contact(staff) else mask_phone(phone)


def show_address(text: str | None, staff: Staff | None) -> str:
    return (text or "") if can_see_contact(staff) else mask_address(text)


@pass_context
def _phone_filter(context: Any, phone: str | None) -> str:
    return show_phone(phone, context.get("staff"))


@pass_context
def _address_filter(context: Any, text: str | None) -> str:
    return show_address(text, context.get("staff"))


class Public(str):
    """Text every staff role may read as it is (a station's public phone number, the CSRF token)."""


def public(value: Any) -> Public:
    return Public("" if value is None else value)


def show_text(value: Any, staff: Staff | None) -> Any:
    """A value about to be printed for `staff`: free text masked unless they may see contact details."""
    if not isinstance(value, str) or isinstance(value, Public) or can_see_contact(staff):
        return value
    masked = redact_text(value)
    return Markup(masked) if isinstance(value, Markup) else masked


@pass_context
def console_finalize(context: Any, value: Any) -> Any:
    """Jinja `finalize`: every `{{ ... }}` of a console page goes through `show_text`."""
    return show_text(value, context.get("staff"))


def register_filters(env: Environment) -> None:
    """Console template filters: `{{ r.phone|phone }}` and `{{ r.building|address }}` mask
    unless the page's `staff` may see contact details; `mask_phone` / `mask_address`
    always mask."""
    env.filters["phone"] = _phone_filter
    env.filters["address"] = _address_filter
    env.filters["mask_phone"] = mask_phone
    env.filters["mask_address"] = mask_address
    env.filters["public"] = public
