"""GET /api/v1/openapi.json: the OpenAPI 3 document, written from the operations the API
modules declare (`bot.api.spec`) and the pydantic models they name, with the shared
components here."""
from __future__ import annotations

import copy
import functools
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.schema import schema as pydantic_schema

from bot.api import PREFIX, api_modules, dumps
from bot.api.auth import is_public, public
from bot.api.spec import error, operation_object, operation_of, operations, template

routes = web.RouteTableDef()


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/login 返回的 token"}
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "detail"],
                    "properties": {
                        "code": {"type": "string", "example": "invalid_phone"},
                        "message": {"type": "string", "description": "给用户看的中文说明"},
                        "detail": {"type": "string", "description": "English detail for developers"},
                    },
                }
            },
        }
    },
    "responses": {
        "BadRequest": error("请求格式不正确（invalid_json / invalid_body / invalid_<字段>）"),
        "Unauthorized": error("没有令牌、令牌无效或已过期"),
        "Forbidden": error("没有权限"),
        "NotFound": error("找不到（或不属于当前用户）"),
        "PayloadTooLarge": error("请求内容太大"),
        "RateLimited": {
            **error("请求太频繁（按用户限流），见 Retry-After"),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "秒"}},
        },
        "BadGateway": error("微信接口出错"),
        "ServiceUnavailable": {
            **error("暂时不可用，见 Retry-After"),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
}

op = operations("meta")


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """The components' schemas of `models` and the models they hold, by class name."""
    unique = list(dict.fromkeys(models))
    definitions = pydantic_schema(unique, ref_prefix="#/components/schemas/").get("definitions", {})
    names = [model.__name__ for model in unique]
    if len(set(names)) != len(names) or any(name not in definitions for name in names):
        raise ValueError(f"two API models share a name: {sorted(names)}")
    return definitions


def build_document() -> dict[str, Any]:
    """The whole document; a path+method documented twice is a programming error."""
    paths: dict[str, dict[str, Any]] = {}
    components = copy.deepcopy(COMPONENTS)
    models: list[type[BaseModel]] = []

    def add(path: str, method: str, operation: dict[str, Any], where: str) -> None:
        target = paths.setdefault(path, {})
        if method in target:
            raise ValueError(f"{method.upper()} {path} documented twice ({where})")
        target[method] = operation

    for module in api_modules():
        for route in module.routes:
            declared = operation_of(route.handler) if isinstance(route, web.RouteDef) else None
            if declared is None:
                continue
            path = template(route.path)
            add(path, route.method.lower(), operation_object(declared, path, is_public(route.handler)), module.__name__)
            models += declared.models()
    generated = _schemas(models)
    if "Error" in generated:
        raise ValueError("the model name Error is the shared error body's")
    components["schemas"] = dict(sorted({**components["schemas"], **generated}.items()))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "邻里 Linli 小程序接口",
            "version": "1.0.0",
            "description": "除登录、本文档和公开目录外，所有接口都需要 Authorization: Bearer <token>。"
            "错误统一为 {\"error\": {\"code\", \"message\"（中文）, \"detail\"（English）}}。",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


@routes.get(f"{PREFIX}/openapi.json")
@op("openapi", "本接口文档（OpenAPI 3）", answers={
    200: {"description": "OpenAPI 文档", "content": {"application/json": {"schema": {"type": "object"}}}}})
@public
async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=_document_text(), content_type="application/json")


@functools.cache
def _document_text() -> str:
    """The served document, written once per process (it only changes with the code)."""
    return dumps(build_document())
