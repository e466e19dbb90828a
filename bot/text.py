"""Re-export: text normalisation lives in handlers/text.py (the channels and the dialogue use it)."""
from handlers.text import is_menu_key, normalize

__all__ = ["is_menu_key", "normalize"]
