"""WeChat's XML, in and out: the request body read safely, its fields turned into values,
and the text reply written back.

Bodies are checked with defusedxml (no DTDs, entities or external references) before
wechatpy reads them; anything malformed is a 400 `ApiError` with nothing stored.
"""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy import parse_message
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from bot.errors import ApiError
from handlers.messages import Location, Reply

# Unix seconds and MsgIds.
DIGITS = re.compile(r"\d{1,20}", re.ASCII)
_OPENID = re.compile(r"[\w\-]{1,64}", re.ASCII)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Elements WeChat sends with children (scan-code and photo-menu events).
_NESTED = {"ScanCodeInfo", "SendPicsInfo", "SendLocationInfo"}


def decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_xml", "消息格式不正确", "body is not UTF-8") from None


def safe_root(xml: str) -> Element:
    """Parse with defusedxml: DTDs, entities and external references are refused."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ApiError(400, "forbidden_xml", "消息格式不正确", "DTDs and entities are not allowed") from None
    except (ParseError, ValueError):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "body is not well-formed XML") from None
    if root.tag != "xml":
        raise ApiError(400, "invalid_xml", "消息格式不正确", "root element must be <xml>")
    return root


def parse_message_xml(xml: str) -> tuple[dict[str, str], BaseMessage]:
    """Validated top-level fields and wechatpy's message object."""
    root = safe_root(xml)
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"duplicate element {child.tag}")
        if len(child) and child.tag not in _NESTED:
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"unexpected children in {child.tag}")
        fields[child.tag] = child.text or ""
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(name, "").strip():
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"{name} missing")
    if not _OPENID.fullmatch(fields["FromUserName"]):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "FromUserName malformed")
    if not DIGITS.fullmatch(fields["CreateTime"]):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "CreateTime must be Unix seconds")
    try:
        message = parse_message(xml)  # the document is known safe now
    except Exception:  # wechatpy's own parse of an unusual document
        raise ApiError(400, "invalid_xml", "消息格式不正确", "message could not be read") from None
    return fields, message


def parse_float(raw: str | None, default: float | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def read_location(lat_raw: str | None, lon_raw: str | None, label: str | None) -> Location:
    """A location message's or event's coordinates (400 when missing or out of range)."""
    lat, lon = parse_float(lat_raw, None), parse_float(lon_raw, None)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ApiError(400, "invalid_location", "位置信息不正确", "coordinates missing or out of range")
    return Location(latitude=lat, longitude=lon, label=label)


def render_text(replies: list[Reply]) -> str:
    """All replies as one text; buttons not already in the text become numbered lines
    (numbered by their payload when it is a menu number)."""
    parts = []
    for reply in replies:
        lines = [reply.text] if reply.text else []
        for position, button in enumerate(reply.buttons, start=1):
            if button.title in reply.text:
                continue
            if button.title[:1].isdigit():
                lines.append(button.title)
            elif button.payload.isdigit() and len(button.payload) <= 2:
                lines.append(f"{button.payload} {button.title}")
            else:
                lines.append(f"{position} {button.title}")
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def reply_xml(message: BaseMessage, text: str) -> str:
    """A wechatpy text reply; text made safe for its CDATA section."""
    content = _XML_INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>")
    return TextReply(message=message, content=content).render()
