"""Normalising what residents type before anything reads it."""
from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_MENU_KEY = re.compile(r"\d{1,2}")


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), no invisible or control
    characters, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", _INVISIBLE.sub("", text))
    return _SPACES.sub(" ", text).strip()


def is_menu_key(text: str) -> bool:
    """A reply of one or two digits picks from a numbered menu (never sent to the NLU)."""
    return _MENU_KEY.fullmatch(text) is not None
