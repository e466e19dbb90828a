"""How an API handler says what it is: `@op(...)` declares the operation (summary, request
model, query model, answers), and `bot.api.openapi` writes the OpenAPI 3 document from
these declarations and the pydantic models they name.

    op = operations("points")

    @routes.post(f"{PREFIX}/points/redemptions")
    @op("redeem", "兑换积分商品", body=RedeemRequest,
        answers={201: (Redemption, "已预留，凭领取码领取"), 404: NOT_FOUND, 409: "积分不够或已兑完"})
    async def redeem(request): ...

An answer is a model (its JSON body; a `Variants` model for one of several), `(model,
description)`, a string (an error
response with that description), a shared response (`NOT_FOUND`, ...), a raw OpenAPI
response object, or None (drop an answer added by default). Every operation behind the
token answers 401 and 429 (public ones 429); one with a body or query model answers 400.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

from pydantic import BaseModel

H = TypeVar("H", bound=Callable[..., Any])
Answer = Union[type[BaseModel], tuple[type[BaseModel], str], str, dict[str, Any], None]

OPERATION_ATTR = "__linli_operation__"


def response_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


NOT_FOUND = response_ref("NotFound")
FORBIDDEN = response_ref("Forbidden")
BAD_REQUEST_REF = response_ref("BadRequest")
TOO_LARGE = response_ref("PayloadTooLarge")
BAD_GATEWAY = response_ref("BadGateway")
UNAVAILABLE = response_ref("ServiceUnavailable")


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: str, description: str) -> dict[str, Any]:
    """A response whose JSON body is `#/components/schemas/<schema>`."""
    return {"description": description, "content": {"application/json": {"schema": schema_ref(schema)}}}


def error(description: str) -> dict[str, Any]:
    """An error response (the shared `Error` body) with its own description."""
    return json_body("Error", description)


@dataclass(frozen=True)
class Operation:
    """One documented operation (the route gives its method and path)."""

    operation_id: str
    summary: str
    tag: str
    description: str | None = None
    body: type[BaseModel] | None = None  # the JSON request body
    body_optional: bool = False  # the body may be left out (the model's defaults apply)
    query: type[BaseModel] | None = None  # query parameters
    path: dict[str, dict[str, Any]] = field(default_factory=dict)  # path parameter schemas by name
    answers: dict[int, Answer] = field(default_factory=dict)
    request_body: dict[str, Any] | None = None  # a raw requestBody (multipart forms; give `body` too
    # when it names the model, so that the model's schema is in the components)

    def models(self) -> list[type[BaseModel]]:
        """The models whose schemas the document's components must hold."""
        found = [self.body] if self.body is not None else []
        for answer in self.answers.values():
            model = answer[0] if isinstance(answer, tuple) else answer
            if isinstance(model, type) and issubclass(model, BaseModel):
                found.append(model)
        return found


def operations(tag: str) -> Callable[..., Callable[[H], H]]:
    """The `@op(...)` decorator of one capability's handlers (all tagged `tag`)."""

    def op(operation_id: str, summary: str, **details: Any) -> Callable[[H], H]:
        operation = Operation(operation_id, summary, tag, **details)

        def mark(handler: H) -> H:
            setattr(handler, OPERATION_ATTR, operation)
            return handler

        return mark

    return op


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, OPERATION_ATTR, None)


_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def template(path: str) -> str:
    """An aiohttp route path as an OpenAPI path: `{id:[^/]+}` -> `{id}`."""
    return _PARAM.sub(r"{\1}", path)


def _answer(answer: Answer) -> dict[str, Any]:
    if isinstance(answer, str):
        return error(answer)
    if isinstance(answer, tuple):
        model, description = answer
        return json_body(model.__name__, description)
    if isinstance(answer, type) and issubclass(answer, BaseModel):
        return json_body(answer.__name__, "成功")
    assert isinstance(answer, dict), answer
    return answer


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.schema()
    out = []
    for name, model_field in model.__fields__.items():
        prop = dict(schema["properties"][model_field.alias])
        prop.pop("nullable", None)  # an absent parameter is the None
        description = prop.pop("description", None)
        param: dict[str, Any] = {"name": model_field.alias, "in": "query", "required": model_field.required,
                                 "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out


def operation_object(operation: Operation, path: str, public: bool) -> dict[str, Any]:
    """The OpenAPI operation object of one declaration at `path` (an OpenAPI template)."""
    answers: dict[int, Answer] = {}
    if operation.body is not None or operation.request_body is not None or operation.query is not None:
        answers[400] = BAD_REQUEST_REF
    if not public:
        answers[401] = response_ref("Unauthorized")
    answers[429] = response_ref("RateLimited")
    answers.update(operation.answers)
    out: dict[str, Any] = {"tags": [operation.tag], "summary": operation.summary,
                           "operationId": operation.operation_id}
    if operation.description:
        out["description"] = operation.description
    if public:
        out["security"] = []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": operation.path.get(name, {"type": "string"})}
        for name in _PARAM.findall(path)
    ]
    if operation.query is not None:
        parameters += _query_parameters(operation.query)
    if parameters:
        out["parameters"] = parameters
    if operation.request_body is not None:
        out["requestBody"] = operation.request_body
    elif operation.body is not None:
        out["requestBody"] = {"required": not operation.body_optional, "content": {"application/json": {
            "schema": schema_ref(operation.body.__name__)}}}
    out["responses"] = {str(status): _answer(answer)
                        for status, answer in sorted(answers.items()) if answer is not None}
    return out
