"""Re-export: the message value types live in handlers/messages.py (the dialogue layer's
input and output; channels convert to and from them)."""
from handlers.messages import Button, InboundMessage, Location, MessageKind, Reply

__all__ = ["Button", "InboundMessage", "Location", "MessageKind", "Reply"]
