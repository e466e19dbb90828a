"""Every JSON body the API answers in any test matches /api/v1/openapi.json.

`ResponseChecker` hooks into the apps the tests build (tests/conftest.py `make_client`):
each /api/v1 answer is recorded as it is sent, and when the test ends every recorded body
whose status the document describes for that operation is validated against the schema
given there (OpenAPI 3.0 `nullable` read as JSON Schema's null type). A mismatch fails
the test that produced the answer. The tests below check the checker itself.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from bot.api import PREFIX
from bot.api.openapi import build_document


def _nullable_to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_json_schema(value) for key, value in node.items()}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class Seen:
    method: str
    path: str  # the route's template, "/api/v1/reports/{ticket}"
    status: int
    body: Any


CHECKER = web.AppKey("openapi_response_checker", object)
_DOCUMENT: dict[str, Any] = {}


def _document() -> dict[str, Any]:
    if not _DOCUMENT:
        _DOCUMENT.update(_nullable_to_json_schema(copy.deepcopy(build_document())))
    return _DOCUMENT


@dataclass
class ResponseChecker:
    document: dict[str, Any] = field(default_factory=_document)
    seen: list[Seen] = field(default_factory=list)

    def install(self, app: web.Application) -> None:
        app[CHECKER] = self
        app.on_response_prepare.append(self._record)

    async def _record(self, request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith(PREFIX + "/") or not isinstance(response, web.Response):
            return
        if response.content_type != "application/json" or response.body is None:
            return
        route = request.match_info.route
        template = route.resource.canonical if route.resource is not None else request.path
        try:
            body = json.loads(bytes(response.body))
        except (TypeError, ValueError):
            body = bytes(response.body).decode("utf-8", "replace")
        self.seen.append(Seen(request.method, template, response.status, body))

    def _schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        operation = self.document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            return None
        answer = operation["responses"].get(str(status))
        if answer is None:
            return None
        while "$ref" in answer:  # "#/components/responses/NotFound"
            section, name = answer["$ref"].split("/")[-2:]
            answer = self.document["components"][section][name]
        return answer.get("content", {}).get("application/json", {}).get("schema")

    def problems(self) -> list[str]:
        out = []
        for seen in self.seen:
            schema = self._schema(seen.method, seen.path, seen.status)
            if schema is None:
                continue
            resolver = jsonschema.RefResolver.from_schema(self.document)
            try:
                jsonschema.validate(seen.body, schema, resolver=resolver)
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path)
                out.append(f"{seen.method} {seen.path} {seen.status}: at '{where}': {exc.message}")
        return out

    def check(self) -> None:
        problems = self.problems()
        self.seen.clear()
        if problems:
            pytest.fail("API answers that do not match /api/v1/openapi.json:\n" + "\n".join(problems[:20]))


def test_nullable_becomes_a_null_alternative():
    schema = _nullable_to_json_schema({"type": "object", "properties": {"x": {"type": "string", "nullable": True}}})
    jsonschema.validate({"x": None}, schema)
    jsonschema.validate({"x": "a"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"x": 1}, schema)


def test_the_checker_finds_a_body_that_breaks_the_document():
    checker = ResponseChecker()
    checker.seen.append(Seen("GET", f"{PREFIX}/communities", 200, {"communities": "not a list"}))
    checker.seen.append(Seen("GET", f"{PREFIX}/communities", 200, {"communities": []}))
    problems = checker.problems()
    assert len(problems) == 1 and "communities" in problems[0]


def test_error_bodies_are_checked_through_shared_responses():
    checker = ResponseChecker()
    checker.seen.append(Seen("POST", f"{PREFIX}/auth/logout", 401, {"error": {"code": "unauthorized"}}))
    checker.seen.append(Seen("POST", f"{PREFIX}/auth/logout", 401,
                             {"error": {"code": "unauthorized", "message": "请先登录", "detail": "no token"}}))
    assert len(checker.problems()) == 1


async def test_answers_of_the_running_api_are_recorded_and_match(make_client):
    client = await make_client()
    resp = await client.get(f"{PREFIX}/communities")
    assert resp.status == 200
    resp = await client.get(f"{PREFIX}/reports")  # no token: 401 with the error body
    assert resp.status == 401
    checker = client.app.get(CHECKER)
    assert checker is not None and {(s.path, s.status) for s in checker.seen} >= {
        (f"{PREFIX}/communities", 200), (f"{PREFIX}/reports", 401)}
    assert checker.problems() == []
