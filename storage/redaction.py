"""Personal details inside free text: phone numbers, ID-card numbers, exact addresses.

`redact_text` masks them wherever they appear in text people typed or said
(transcripts, report descriptions, staff notes, audit snapshots, exports):
- mobile numbers in any spacing or punctuation ("13912345678", "139 1234 5678",
  "139-1234-5678", "+86 139…", full-width digits, Chinese numerals as voice
  recognition writes them: "一三九…") -> "139****5678";
- landline numbers ("0755-83221234") -> "075****1234";
- ID-card numbers (18 digits or 17 + X, 15-digit old ones, spaced or not) -> "44**************4X";
- the room level of an address ("3栋501", "3栋2单元501室", "12-3-501", "501室") ->
  "3栋***", "***室": the building stays, as `bot.privacy.mask_address` keeps it.

Why not a library: JioNLP (already a dependency) extracts phone and ID-card numbers,
but misses "1 3 9 1 2 …", full-width digits and spaces, dotted groups and Chinese
numerals, which are exactly the shapes that slip through; the patterns here are small
and tested (tests/test_redaction.py). Over-masking a long number is the safe failure.
"""
from __future__ import annotations

import re
from typing import Any

MASK = "****"
# One character for one character, so that match positions stay valid in the original.
_DIGITS = str.maketrans("０１２３４５６７８９〇零一幺二三四五六七八九Ｘｘ", "0123456789001123456789Xx")
_SEP = r"[\s\-‐‑–—－.·・_/()（）]{0,3}"
_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"
_ID_CARD = re.compile(
    _EDGE_BEFORE + r"[1-9](?:" + _SEP + r"\d){16}" + _SEP + r"[\dXx]" + _EDGE_AFTER
    + "|" + _EDGE_BEFORE + r"[1-9](?:" + _SEP + r"\d){14}" + _EDGE_AFTER
)
_MOBILE = re.compile(_EDGE_BEFORE + r"(?:(?:\+|00)?86" + _SEP + r")?1" + _SEP + r"[3-9](?:" + _SEP + r"\d){9}" + _EDGE_AFTER)
_LANDLINE = re.compile(_EDGE_BEFORE + r"0\d{2,3}" + _SEP + r"\d{7,8}" + _EDGE_AFTER)
# building-unit-room written with dashes: 12-3-501
_DASHED_ROOM = re.compile(r"(?<![\d\-])\d{1,3}-\d{1,2}-\d{3,4}(?![\d\-])")
# a building (3栋, A座, 2号楼, 五幢) followed by unit / floor / room
_BUILDING_ROOM = re.compile(
    r"((?:\d{1,3}|[A-Za-z]|[一二三四五六七八九十]{1,3})(?:号楼|栋|幢|座))"
    r"[\s\-]*(?:(?:\d{1,2}|[一二三四五六七八九十]{1,3})(?:单元|梯|层|楼)[\s\-]*)*\d{2,4}(?:室|房|号|户)?"
)
_UNIT_ROOM = re.compile(r"((?:\d{1,2}|[一二三四五六七八九十]{1,3})单元)[\s\-]*\d{2,4}(?:室|房|号|户)?")
_ROOM = re.compile(r"(?<![\d*])\d{3,4}(室|房)")


def _digits_of(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text.translate(_DIGITS))


def _mask_mobile(raw: str) -> str:
    digits = _digits_of(raw)[-11:]
    return f"{digits[:3]}{MASK}{digits[-4:]}"


def _mask_landline(raw: str) -> str:
    digits = _digits_of(raw)
    return f"{digits[:3]}{MASK}{digits[-4:]}"


def _mask_id(raw: str) -> str:
    digits = _digits_of(raw)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def _replace(pattern: re.Pattern[str], text: str, probe: str, mask: Any) -> tuple[str, str]:
    """Replace the matches found in `probe` (digits normalised) in both strings."""
    out, out_probe, last = [], [], 0
    for match in pattern.finditer(probe):
        out.append(text[last:match.start()])
        out_probe.append(probe[last:match.start()])
        masked = mask(match.group(0))
        out.append(masked)
        out_probe.append(masked)
        last = match.end()
    if last == 0:
        return text, probe
    out.append(text[last:])
    out_probe.append(probe[last:])
    return "".join(out), "".join(out_probe)


def redact_text(text: str | None) -> str:
    """`text` with phone numbers, ID-card numbers and room-level addresses masked."""
    if not text:
        return "" if text is None else text
    value = str(text)
    probe = value.translate(_DIGITS)
    for pattern, mask in ((_ID_CARD, _mask_id), (_MOBILE, _mask_mobile), (_LANDLINE, _mask_landline)):
        value, probe = _replace(pattern, value, probe, mask)
    value = _DASHED_ROOM.sub("***", value)
    value = _BUILDING_ROOM.sub(lambda m: m.group(1) + "***", value)
    value = _UNIT_ROOM.sub(lambda m: m.group(1) + "***", value)
    value = _ROOM.sub(lambda m: "***" + m.group(1), value)
    return value


def redact_value(value: Any) -> Any:
    """`redact_text` applied to every string inside dicts and lists (audit snapshots, exports)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
