"""Everyday answers read by the booking, rating and follow-up parsers (pure functions)."""
from __future__ import annotations

import pytest

from handlers import words
from handlers.booking_times import birth_year
from handlers.report_status import _stars


@pytest.mark.parametrize("text,year", [
    ("1952", 1952), ("1952年", 1952), ("我是五二年的", 1952), ("五二年", 1952), ("一九五二年出生", 1952),
    ("52年生的", 1952), ("73岁", 1953), ("七十三", 1953), ("我今年73了", 1953), ("明天", None), ("3000年", None),
])
def test_birth_year_from_everyday_answers(text, year):
    assert birth_year(text, 2026) == year


@pytest.mark.parametrize("text,stars", [
    ("5", 5), ("5分", 5), ("5分，修的挺快的谢谢", 5), ("五星", 5), ("给个五星好评", 5), ("4 星", 4),
    ("3，还行", 3), ("非常满意", 5), ("谢谢", None), ("不满意", None), ("12", None),
])
def test_rating_in_words(text, stars):
    assert _stars(text) == stars


@pytest.mark.parametrize("text,value", [("那洗衣皂呢", "洗衣皂"), ("后天的呢", "后天"), ("好的", None)])
def test_follow_up_names_the_new_value(text, value):
    found = words.follow_up(text)
    assert (found.value_text if found else None) == value
