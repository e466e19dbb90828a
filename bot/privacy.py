"""Personal information shown to staff: masking of phone numbers and exact addresses.

Rule (PIPL minimum necessary): grid workers work records but do not need residents'
contact details, so they see them masked; community admins, street admins and
sysadmins, who follow up with residents, see them in full. Masking is a display
rule: the console templates use the `phone` / `address` filters, which mask unless the
logged-in staff member `can_see_contact`.
"""
from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, pass_context

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


def register_filters(env: Environment) -> None:
    """Console template filters: `{{ r.phone|phone }}` and `{{ r.building|address }}` mask
    unless the page's `staff` may see contact details; `mask_phone` / `mask_address`
    always mask."""
    env.filters["phone"] = _phone_filter
    env.filters["address"] = _address_filter
    env.filters["mask_phone"] = mask_phone
    env.filters["mask_address"] = mask_address
