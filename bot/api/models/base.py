"""The base models and field types every API model uses, and their 400 errors.

Requests are strict: a string field takes only a string (so `{"$gt": ""}` never reaches a
query), an integer only an integer (not `true`), a number an integer or a finite float.
Strings are stripped; an empty one counts as missing (then the default applies, or the
field is required). Fields the model does not know are refused (`extra = forbid`).

A `ValidationError` becomes one `ApiError(400)`: `invalid_body` for unknown fields or a
body that is not an object, else `invalid_<field>` for the first field in error, with a
Chinese message for people and an English one for developers.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConstrainedFloat, ConstrainedInt, ConstrainedList, ConstrainedStr, ValidationError
from pydantic.errors import FloatError, PydanticValueError

from bot.errors import ApiError
from bot.safe_input import UnsafeInput, loads_json

M = TypeVar("M", bound=BaseModel)


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

    @classmethod
    def __get_validators__(cls):  # type: ignore[override]
        yield _number_only
        yield from super().__get_validators__()


def number(*, ge: float | None = None, le: float | None = None) -> type[float]:
    """An integer or a finite float (not a bool, not a string), as a float."""
    return type("Number", (_Number,), {"ge": ge, "le": le})


class _List(ConstrainedList):
    pass


def items(item: Any, *, max_items: int = 100) -> Any:
    """A list of `item` of at most `max_items` entries."""
    return type("Items", (_List,), {"item_type": item, "__args__": [item], "max_items": max_items})


def one_of(values: Any) -> Any:
    """`Literal[...]` of the given values (an enum in the document)."""
    return Literal[tuple(values)]  # type: ignore[return-value]


# ---- schema clean-up for OpenAPI 3.0 -----------------------------------------------------

def _openapi_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """pydantic writes JSON Schema; OpenAPI 3.0 wants `nullable`, no `const`, fewer titles.
    Docstrings are for developers of this code: field descriptions (Chinese) are the
    document's words."""
    schema.pop("title", None)
    schema.pop("description", None)
    properties = schema.get("properties", {})
    for field in model.__fields__.values():
        prop = properties.get(field.alias)
        if prop is None:
            continue
        prop.pop("title", None)
        if "const" in prop:
            prop["enum"] = [prop.pop("const")]
        if field.allow_none:
            if "$ref" in prop:
                properties[field.alias] = prop = {"allOf": [{"$ref": prop.pop("$ref")}], **prop}
            prop["nullable"] = True
        sub = prop.get("items")
        if isinstance(sub, dict):
            sub.pop("title", None)


# ---- the bases -----------------------------------------------------------------------------

class Body(BaseModel):
    """A JSON request body."""

    # field -> (zh, en) told when its format (regex) is wrong, instead of the generic message
    formats: ClassVar[dict[str, tuple[str, str]]] = {}

    class Config:
        extra = "forbid"
        anystr_strip_whitespace = False  # done below, before the empty-string rule
        allow_mutation = False
        schema_extra = staticmethod(_openapi_schema)

    @classmethod
    def parse_body(cls: type[M], raw: Any) -> M:
        """The model of a decoded JSON value, or the API's 400."""
        if not isinstance(raw, dict):
            raise ApiError(400, "invalid_body", "请求必须是 JSON 对象", "body must be a JSON object")
        try:
            return cls.parse_obj(_clean(cls, raw))
        except ValidationError as exc:
            raise validation_error(exc, cls) from None


class Query(BaseModel):
    """Query parameters: parsed from strings; parameters the model does not know are ignored."""

    formats: ClassVar[dict[str, tuple[str, str]]] = {}

    class Config:
        extra = "ignore"
        allow_mutation = False
        schema_extra = staticmethod(_openapi_schema)

    @classmethod
    def parse_request(cls: type[M], request: web.Request) -> M:
        values: dict[str, Any] = {}
        for name, field in cls.__fields__.items():
            if field.alias not in request.query:
                continue
            if isinstance(field.outer_type_, type) and issubclass(field.outer_type_, list):
                values[field.alias] = request.query.getall(field.alias)
            else:
                values[field.alias] = request.query[field.alias]
        try:
            return cls.parse_obj(_clean(cls, values))
        except ValidationError as exc:
            raise validation_error(exc, cls) from None


class Out(BaseModel):
    """A response body (or a part of one). Built by the handler, sent as `.dict()`."""

    class Config:
        extra = "forbid"
        schema_extra = staticmethod(_openapi_schema)


def _clean(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any]:
    """Strip strings (also in lists); an empty string, or a null where the field takes none,
    counts as missing. A NUL character is refused outright."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = model.__fields__.get(key)
        if isinstance(value, str):
            value = value.strip()
            if "\x00" in value:
                raise invalid(key, "包含不允许的字符", "contains a NUL character")
            if not value and field is not None:
                continue
        elif isinstance(value, list):
            value = [v.strip() if isinstance(v, str) else v for v in value]
            if any(isinstance(v, str) and "\x00" in v for v in value):
                raise invalid(key, "包含不允许的字符", "contains a NUL character")
        elif value is None and field is not None and not field.allow_none:
            continue
        out[key] = value
    return out


# ---- errors -------------------------------------------------------------------------------

def invalid(name: str, zh: str, en: str) -> ApiError:
    """The 400 for one field: `invalid_<name>`."""
    return ApiError(400, f"invalid_{name}", f"{name}：{zh}", f"{name}: {en}")


def _words(error: dict[str, Any]) -> tuple[str, str]:
    kind, ctx = error["type"], error.get("ctx") or {}
    limit = ctx.get("limit_value")
    if kind in ("value_error.missing", "type_error.none.not_allowed"):
        return "必须填写", "is required"
    if kind == "type_error.str":
        return "必须是字符串", "must be a string"
    if kind in ("type_error.integer", "type_error.int"):
        return "必须是整数", "must be an integer"
    if kind == "type_error.bool":
        return "必须是 true 或 false", "must be a boolean"
    if kind in ("type_error.float", "value_error.float", "value_error.number.not_finite_number"):
        return "必须是数字", "must be a number"
    if kind == "type_error.list":
        return "必须是列表", "must be a list"
    if kind == "value_error.any_str.max_length":
        return f"最多{limit}个字", f"at most {limit} characters"
    if kind == "value_error.any_str.min_length":
        return f"至少{limit}个字", f"at least {limit} characters"
    if kind == "value_error.list.max_items":
        return f"最多{limit}项", f"at most {limit} items"
    if kind == "value_error.list.min_items":
        return f"至少{limit}项", f"at least {limit} items"
    if kind in ("value_error.number.not_ge", "value_error.number.not_gt"):
        return f"不能小于{limit}", f"must be >= {limit}"
    if kind in ("value_error.number.not_le", "value_error.number.not_lt"):
        return f"不能大于{limit}", f"must be <= {limit}"
    if kind in ("value_error.const", "type_error.enum"):
        return "不是支持的取值", "is not one of the allowed values"
    if kind == "value_error.str.regex":
        return "格式不正确", "has the wrong format"
    if kind.startswith("value_error.linli"):
        return ctx["zh"], ctx["en"]
    return "不正确", error.get("msg", "is not valid")


def validation_error(exc: ValidationError, model: type[BaseModel]) -> ApiError:
    """One 400 for a model's `ValidationError` (unknown fields first, then the first field)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "value_error.extra")
    if unknown:
        return ApiError(400, "invalid_body", f"不支持的字段：{', '.join(unknown)}",
                        f"unknown fields: {', '.join(unknown)}")
    first = errors[0]
    name = str(first["loc"][0]) if first["loc"] else "body"
    if name == "__root__":
        zh, en = _words(first)
        return ApiError(400, "invalid_body", zh, en)
    formats: dict[str, tuple[str, str]] = getattr(model, "formats", {})
    if first["type"] == "value_error.str.regex" and name in formats:
        zh, en = formats[name]
    else:
        zh, en = _words(first)
    return invalid(name, zh, en)


class FieldProblem(PydanticValueError):
    """Raise in a validator for a message of its own: `raise FieldProblem(zh="…", en="…")`."""

    code = "linli"
    msg_template = "{en}"


# ---- reading a request ------------------------------------------------------------------

def json_error(exc: UnsafeInput) -> ApiError:
    """The 400 for a body `loads_json` refused."""
    return ApiError(400, "invalid_json", "请求不是有效的 JSON（格式、嵌套层数或字符不正确）", exc.reason)


async def read_json(request: web.Request) -> Any:
    """Any safe JSON value (400 otherwise; 413 beyond the app's client_max_size)."""
    raw = await request.read()
    try:
        return loads_json(raw)
    except UnsafeInput as exc:
        raise json_error(exc) from None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model` (a `Body`), or the API's 400."""
    return model.parse_body(await read_json(request))  # type: ignore[attr-defined]
