"""Phone numbers as residents write them."""
from __future__ import annotations

import re

MOBILE_DIGITS = r"1[3-9]\d{9}"  # a mainland mobile number
# A mobile number as a whole field, as a schema pattern (API models, the OpenAPI document).
MOBILE_FIELD = rf"^{MOBILE_DIGITS}$"
# A mobile number in text, not part of a longer digit run.
MOBILE = re.compile(rf"(?<!\d)({MOBILE_DIGITS})(?!\d)")
# A mobile or a landline with area code (0755-12345678, 075512345678).
ANY_PHONE = re.compile(rf"(?<!\d){MOBILE_DIGITS}(?!\d)|(?<!\d)0\d{{2,3}}-?\d{{7,8}}(?!\d)")


def is_mobile(text: str) -> bool:
    """The whole text is one mobile number."""
    return MOBILE.fullmatch(text) is not None
