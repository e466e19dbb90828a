"""Phone numbers as residents write them."""
from __future__ import annotations

import re

# A mainland mobile number, not part of a longer digit run.
MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
# A mobile or a landline with area code (0755-12345678, 075512345678).
ANY_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


def is_mobile(text: str) -> bool:
    """The whole text is one mobile number."""
    return MOBILE.fullmatch(text) is not None
