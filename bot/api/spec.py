"""Building blocks of the OpenAPI path declarations that the API modules share
(the document itself is assembled in `bot.api.openapi`)."""
from __future__ import annotations

from typing import Any

# Every route behind the token can answer these.
COMMON: dict[str, Any] = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/RateLimited"},
}
BAD_REQUEST: dict[str, Any] = {"400": {"$ref": "#/components/responses/BadRequest"}}


def json_body(schema: str, description: str) -> dict[str, Any]:
    """A response whose JSON body is `#/components/schemas/<schema>`."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def error(description: str) -> dict[str, Any]:
    """An error response (the shared `Error` body) with its own description."""
    return json_body("Error", description)


def ok(schema: str, description: str = "成功", status: str = "200") -> dict[str, Any]:
    return {status: json_body(schema, description)}
