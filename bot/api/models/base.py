"""The base models every API model uses (field types: bot/api/models/fields.py), and their 400 errors.

Requests are strict: a string field takes only a string (so `{"$gt": ""}` never reaches a
query), an integer only an integer (not `true`), a number an integer or a finite float.
Strings are stripped; an empty one counts as missing (then the default applies, or the
field is required). Fields the model does not know are refused (`extra = forbid`).

A `ValidationError` becomes one `ApiError(400)`: `invalid_body` for unknown fields or a
body that is not an object, else `invalid_<field>` for the first field in error, with a
Chinese message for people and an English one for developers.
"""
from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.errors import ApiError
from bot.json_body import read_json

M = TypeVar("M", bound=BaseModel)


# ---- schema clean-up for OpenAPI 3.0 -----------------------------------------------------

def _openapi_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:  # noqa: C901
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
    if issubclass(model, Out) and properties:
        schema["required"] = list(properties)  # `.dict()` sends every key, null or not


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
    """Query parameters: parsed from strings (use the `query_*` types and `Day`), each given
    at most once (`invalid_<name>`); parameters the model does not know are ignored, or with
    `closed = True` refused (`invalid_query`)."""

    formats: ClassVar[dict[str, tuple[str, str]]] = {}
    closed: ClassVar[bool] = False

    class Config:
        extra = "ignore"
        allow_mutation = False
        schema_extra = staticmethod(_openapi_schema)

    @classmethod
    def parse_request(cls: type[M], request: web.Request) -> M:
        names = [field.alias for field in cls.__fields__.values()]
        if cls.closed:
            unknown = sorted(set(request.query) - set(names))
            if unknown:
                raise ApiError(400, "invalid_query", f"不支持的参数：{', '.join(unknown)}",
                               f"unknown parameters: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for field in cls.__fields__.values():
            given = request.query.getall(field.alias, [])
            if not given:
                continue
            if isinstance(field.outer_type_, type) and issubclass(field.outer_type_, list):
                values[field.alias] = given
            elif len(given) > 1:
                raise invalid(field.alias, "只能出现一次", "given more than once")
            else:
                values[field.alias] = given[0]
        try:
            return cls.parse_obj(_clean(cls, values))
        except ValidationError as exc:
            raise validation_error(exc, cls) from None


class Out(BaseModel):
    """A response body (or a part of one). Built by the handler, sent as `.dict()`: every
    field is a key of the body (so the document lists every property as required)."""

    class Config:
        extra = "forbid"
        schema_extra = staticmethod(_openapi_schema)


def _variants_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A variants model's schema: `oneOf` its variants (each refuses the others' fields)."""
    for key in ("title", "description", "additionalProperties", "required", "properties"):
        schema.pop(key, None)
    if "anyOf" in schema:
        schema["oneOf"] = schema.pop("anyOf")


class Variants(Out):
    """An answer that is one of several models (`__root__: Union[A, B]`), for the document
    only: the handler sends the variant itself."""

    class Config:
        schema_extra = staticmethod(_variants_schema)


def _clean(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any]:
    """Strip strings (also in lists); an empty string, or a null where the field takes none,
    counts as missing. A NUL character is refused outright."""
    by_alias = {field.alias: field for field in model.__fields__.values()}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = by_alias.get(key)
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
    if kind in ("type_error.bool", "value_error.strictbool"):
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


# ---- reading a request ------------------------------------------------------------------

async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model` (a `Body`), or the API's 400."""
    return model.parse_body(await read_json(request))  # type: ignore[attr-defined]
