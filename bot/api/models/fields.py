"""The field types of the API models: what one value of a request may be.

Body fields are strict (`text`, `integer`, `number`, `items`, `one_of`, `Day`): a string
field takes only a string, an integer only an integer (not `true`), a number an integer
or a finite float. Query parameters always arrive as strings: `query_integer`,
`query_number` and `QueryFlag` read them. `FieldProblem` is raised by a validator that has
its own words for what is wrong.
"""
from __future__ import annotations

import math
import re
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import ConstrainedFloat, ConstrainedInt, ConstrainedList, ConstrainedStr
from pydantic.errors import BoolError, FloatError, IntegerError, PydanticValueError, StrError, WrongConstantError

from bot.safe_input import parse_day


class FieldProblem(PydanticValueError):
    """Raise in a validator for a message of its own: `raise FieldProblem(zh="…", en="…")`."""

    code = "linli"
    msg_template = "{en}"


# ---- field types -------------------------------------------------------------------------

class _Text(ConstrainedStr):
    strict = True


def text(max_length: int | None = None, *, min_length: int | None = None, regex: str | None = None) -> type[str]:
    """A string (stripped; an empty one counts as missing) of at most `max_length` characters."""
    namespace = {"max_length": max_length, "min_length": min_length, "regex": regex}
    return type("Text", (_Text,), namespace)


class _Integer(ConstrainedInt):
    strict = True  # no bools, no strings, no floats


def integer(*, ge: int | None = None, le: int | None = None) -> type[int]:
    return type("Integer", (_Integer,), {"ge": ge, "le": le})


def _number_only(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FloatError()
    return value


class _Number(ConstrainedFloat):
    allow_inf_nan = False
    accept: Any = staticmethod(_number_only)  # the first check, before the bounds

    @classmethod
    def __get_validators__(cls):  # type: ignore[override]
        yield cls.accept
        yield from super().__get_validators__()


def number(*, ge: float | None = None, le: float | None = None) -> type[float]:
    """An integer or a finite float (not a bool, not a string), as a float."""
    return type("Number", (_Number,), {"ge": ge, "le": le})


class _List(ConstrainedList):
    pass


def items(item: Any, *, max_items: int = 100) -> Any:
    """A list of `item` of at most `max_items` entries."""
    return type("Items", (_List,), {"item_type": item, "__args__": [item], "max_items": max_items})


class _Choice(str):
    """A string that must be one of `choices` (a non-string is "must be a string")."""

    choices: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="string", enum=list(cls.choices))

    @classmethod
    def validate(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise StrError()
        if value not in cls.choices:
            raise WrongConstantError(given=value, permitted=list(cls.choices))
        return value


def one_of(values: Any) -> Any:
    """One of the given values (an enum in the document): strings are matched exactly and
    only strings are taken; other values (True, False, numbers) through `Literal`."""
    values = tuple(values)
    if all(isinstance(v, str) for v in values):
        return type("OneOf", (_Choice,), {"choices": values})
    return Literal[values]  # type: ignore[return-value]


class Day(date):
    """A day "YYYY-MM-DD" (years 2000-2100), from a JSON string or a query parameter."""

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="string", format="date")

    @classmethod
    def validate(cls, value: Any) -> date:
        if not isinstance(value, str):
            raise StrError()
        try:
            return parse_day(value)
        except ValueError:
            raise FieldProblem(zh="日期格式应为 2026-01-31", en="must be YYYY-MM-DD between 2000 and 2100") from None


# ---- query-string types (a query parameter is always a string) ------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _int_from_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise IntegerError()
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise IntegerError()
        return int(value)
    return value


class _QueryInteger(ConstrainedInt):
    strict = True

    @classmethod
    def __get_validators__(cls):  # type: ignore[override]
        yield _int_from_text
        yield from super().__get_validators__()


def query_integer(*, ge: int | None = None, le: int | None = None) -> type[int]:
    """An integer query parameter ("12"; not "1.5", not "1e3")."""
    return type("QueryInteger", (_QueryInteger,), {"ge": ge, "le": le})


def _float_from_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FloatError() from None
    return _number_only(value)


class _QueryNumber(_Number):
    accept = staticmethod(_float_from_text)


def query_number(*, ge: float | None = None, le: float | None = None) -> type[float]:
    """A finite number query parameter ("22.5486")."""
    return type("QueryNumber", (_QueryNumber,), {"ge": ge, "le": le})


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class QueryFlag:
    """A boolean query parameter: 1/true/yes or 0/false/no (any case)."""

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="boolean")

    @classmethod
    def validate(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE:
            return True
        if isinstance(value, str) and value.lower() in _FALSE:
            return False
        raise BoolError()
