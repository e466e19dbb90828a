"""The API models' own rules (bot/api/models/base.py): query parameters parse from strings,
bodies are strict, and the document's schemas say what the bodies hold."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from aiohttp.test_utils import make_mocked_request
from typing import Any, Optional

from pydantic import BaseModel, StrictBool, create_model

import bot.api.models
from bot.api.models.base import Body, Out, Query
from bot.api.models.fields import (
    _Integer, _Number, _QueryInteger, _QueryNumber, integer, items, number, one_of, query_integer, text,
)
from bot.errors import ApiError


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for info in pkgutil.iter_modules(bot.api.models.__path__):
        module = importlib.import_module(f"bot.api.models.{info.name}")
        found += [value for value in vars(module).values()
                  if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__]
    return found


QUERIES = [model for model in _models() if issubclass(model, Query)]


@pytest.mark.parametrize("model", QUERIES, ids=lambda m: m.__name__)
def test_query_fields_take_strings(model):
    """A query parameter is always a string: strict body types would refuse every value."""
    for field in model.__fields__.values():
        kind = field.type_
        strict_body_type = isinstance(kind, type) and issubclass(kind, (_Integer, _Number)) \
            and not issubclass(kind, (_QueryInteger, _QueryNumber))
        assert not strict_body_type, (model, field.name)
        assert kind is not StrictBool, (model, field.name)


def _request(query: str):
    return make_mocked_request("GET", f"/x?{query}")


class _Page(Query):
    limit: query_integer(ge=0, le=100) = 20  # type: ignore[valid-type]
    kind: one_of(("a", "b")) = "a"  # type: ignore[valid-type]


def test_a_query_parses_numbers_and_refuses_repeats():
    assert _Page.parse_request(_request("limit=5&kind=b")).dict() == {"limit": 5, "kind": "b"}
    assert _Page.parse_request(_request("other=1")).dict() == {"limit": 20, "kind": "a"}
    for bad, code in (("limit=1.5", "invalid_limit"), ("limit=101", "invalid_limit"), ("kind=c", "invalid_kind"),
                      ("limit=1&limit=2", "invalid_limit")):
        with pytest.raises(ApiError) as caught:
            _Page.parse_request(_request(bad))
        assert f'"{code}"' in caught.value.text, bad


class _Thing(Body):
    name: text(10)  # type: ignore[valid-type]
    kind: one_of(("a", "b")) = "a"  # type: ignore[valid-type]
    urgent: StrictBool = False


@pytest.mark.parametrize("raw, code", [
    ({"name": {"$gt": ""}}, "invalid_name"), ({"name": ["x"]}, "invalid_name"), ({"name": "  "}, "invalid_name"),
    ({"name": "x" * 11}, "invalid_name"), ({"name": "x", "kind": ["a"]}, "invalid_kind"),
    ({"name": "x", "kind": 1}, "invalid_kind"), ({"name": "x", "urgent": "yes"}, "invalid_urgent"),
    ({"name": "x", "extra": 1}, "invalid_body"), (["name"], "invalid_body"),
])
def test_a_body_is_strict(raw, code):
    with pytest.raises(ApiError) as caught:
        _Thing.parse_body(raw)
    assert f'"{code}"' in caught.value.text
    assert "unhashable" not in caught.value.text and "不正确" not in caught.value.text  # told what is wrong


def test_a_body_strips_strings_and_empty_means_missing():
    assert _Thing.parse_body({"name": " 梯子 ", "kind": ""}).dict() == {"name": "梯子", "kind": "a", "urgent": False}


@pytest.mark.parametrize("model", [m for m in _models() if issubclass(m, Out) and m.__fields__
                                   and "__root__" not in m.__fields__], ids=lambda m: m.__name__)
def test_a_response_schema_lists_what_is_sent(model):
    schema = model.schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {f.alias for f in model.__fields__.values()}
    for field in model.__fields__.values():
        prop = schema["properties"][field.alias]
        assert bool(prop.get("nullable")) == field.allow_none or model.__name__ == "ChatReply", (model, field.name)


def _one(kind: Any, default: Any = ...) -> type[Body]:
    return create_model("One", __base__=Body, f=(kind, default))


@pytest.mark.parametrize("kind, default, value, expected", [
    (text(), ..., "  hi  ", "hi"),
    (integer(), ..., 3, 3),
    (number(), ..., 3, 3.0),
    (StrictBool, ..., False, False),
    (items(text()), ..., [" a ", "b"], ["a", "b"]),
    (text(), "d", "   ", "d"),  # empty after stripping: the default
    (Optional[text()], None, None, None),
    (one_of(("a", "b")), ..., "b", "b"),
])
def test_a_field_accepts(kind, default, value, expected):
    assert _one(kind, default).parse_body({"f": value}).f == expected


@pytest.mark.parametrize("kind, value", [
    (text(), 5), (text(), {"$gt": ""}), (text(), "a\x00b"), (text(), None),
    (integer(), True), (integer(), 2.5), (integer(), "3"), (integer(le=10), 11),
    (number(), float("inf")), (number(), "1.5"), (StrictBool, 1),
    (items(text()), [{"$gt": 1}]), (items(text()), "a"),
    (text(3), "abcd"), (one_of(("a",)), "b"),
])
def test_a_field_refuses(kind, value):
    with pytest.raises(ApiError) as caught:
        _one(kind).parse_body({"f": value})
    assert caught.value.status == 400 and '"invalid_f"' in caught.value.text
