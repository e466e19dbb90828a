"""Dialogue handlers: one module per capability, each registering with `registry`."""
from handlers.base import registry
from handlers import smalltalk  # noqa: F401  (registers greet/help/... handlers)

__all__ = ["registry"]
