"""The common message objects every channel converts to and from.

A channel (REST, WeChat, mini-program) turns a platform message into an
`InboundMessage`; the dialogue answers with `Reply` objects that the channel
renders back into its own format.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

MessageKind = Literal["text", "voice", "location", "image", "event"]


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    label: str | None = None

    def as_geojson(self) -> dict[str, Any]:
        return {"type": "Point", "coordinates": [self.longitude, self.latitude]}


@dataclass
class InboundMessage:
    channel: str
    sender: str
    text: str = ""
    kind: MessageKind = "text"
    message_id: str | None = None
    location: Location | None = None
    media: dict[str, Any] | None = None
    event: str | None = None
    event_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def user_key(self) -> str:
        """Identity of the resident across this channel: channel + sender id."""
        return f"{self.channel}:{self.sender}"


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)
    # Hand the conversation to a person: WeChat answers with a customer-service
    # transfer (转人工客服) and sends `text` as a customer-service message.
    transfer_to_human: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        return data
