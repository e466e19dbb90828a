"""The chat pipeline every channel calls: NLU -> dialogue router -> reply, logged.

channel -> InboundMessage -> ChatService.handle -> [Reply] -> channel
"""
from __future__ import annotations

import logging
from typing import Any

from bot.privacy_chat import PrivacyRequests
from domain.time import utcnow
from handlers.messages import InboundMessage, Reply
from handlers.text import is_menu_key, normalize
from handlers.base import FALLBACK, MENU_SELECT, Services, Turn
from handlers.router import Router
from nlu.service import NLUService
from storage.conversations import ConversationRepository
from storage.dialogue_state import DialogueStateStore

log = logging.getLogger(__name__)


class NLUNotReady(RuntimeError):
    """The model is still loading (or failed to load)."""


def _direct(intent: str, text: str, confidence: float = 1.0) -> dict[str, Any]:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": [], "intent_ranking": []}


class ChatService:
    def __init__(
        self,
        nlu: NLUService,
        states: DialogueStateStore,
        conversations: ConversationRepository,
        router: Router,
        services: Services,
        privacy: PrivacyRequests | None = None,
    ) -> None:
        """`privacy` answers the data-rights requests said in chat (bot/privacy_chat.py)
        before the dialogue."""
        self.privacy = privacy
        self.nlu = nlu
        self.states = states
        self.conversations = conversations
        self.router = router
        self.services = services

    async def understand(self, message: InboundMessage, text: str) -> dict[str, Any]:
        """Intent and entities of a message. Menu digits and messages without words
        are answered without the model."""
        if message.metadata.get("intent"):  # set by a channel for menu keys and events
            return _direct(message.metadata["intent"], text)
        if is_menu_key(text):
            return _direct(MENU_SELECT, text)
        if not any(ch.isalnum() for ch in text):
            return _direct(FALLBACK, text, 0.0)
        if not self.nlu.ready:
            raise NLUNotReady("NLU model not loaded yet")
        return await self.nlu.parse(text)

    async def forget(self, user_key: str) -> None:
        """Drop the dialogue of `user_key` (a WeChat user unsubscribed)."""
        await self.states.clear(user_key)

    async def record_direct(self, *, user_key: str, channel: str, user: str, kind: str, text: str,
                            message_id: str | None, replies: list[Reply]) -> None:
        """Log a turn the channel answered itself (a menu page), with the flow still open."""
        state = await self.states.load(user_key)
        await self.conversations.record_turn(
            user_key=user_key, channel=channel, user=user, kind=kind, text=text, message_id=message_id,
            intent=None, confidence=None, entities=[], replies=[r.as_dict() for r in replies], flow=state.flow,
            received_at=utcnow(),
        )

    async def handle(self, message: InboundMessage) -> list[Reply]:
        # Data export / erasure requests of WeChat and REST residents (PIPL), before the dialogue.
        if self.privacy is not None and (rights := await self.privacy.intercept(message)) is not None:
            return rights
        text = normalize(message.text)
        parsed = await self.understand(message, text)
        intent = parsed["intent"]["name"] or FALLBACK
        async with self.states.locked(message.user_key):
            state = await self.states.load(message.user_key)
            turn = Turn(
                message=message,
                text=text,
                intent=intent,
                confidence=parsed["intent"]["confidence"],
                entities=parsed["entities"],
                state=state,
                services=self.services,
                ranking=list(parsed.get("intent_ranking") or []),
            )
            replies = await self.router.dispatch(turn)
            await self.states.save(message.user_key, turn.state)
        await self.conversations.record_turn(
            user_key=message.user_key,
            channel=message.channel,
            user=message.sender,
            kind=message.kind,
            text=text,
            message_id=message.message_id,
            intent=intent,
            confidence=parsed["intent"]["confidence"],
            entities=parsed["entities"],
            replies=[r.as_dict() for r in replies],
            flow=turn.state.flow,
            received_at=message.received_at,
            extra={"answer": turn.answer} if turn.answer else None,
        )
        return replies
