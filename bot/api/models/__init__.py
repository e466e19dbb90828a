"""Pydantic (1.10) models of the mini-program API: what a request may carry and what a
response holds. `/api/v1/openapi.json` is generated from them (bot.api.spec), so the
document and the validation cannot drift apart.

- `base`: `Body` (a JSON request body: unknown fields refused, strings stripped, NUL
  refused, an empty string counts as missing), `Query` (query parameters), `Out` (a
  response body: every key sent, `None`-able fields `nullable`), `Variants` (one of several
  answers) and the one mapping of a `ValidationError` to the API's 400 (`invalid_<field>`,
  `invalid_body`).
- `fields`: the field types (`text`, `integer`, `number`, `items`, `one_of`, `Day`; for
  query strings `query_integer`, `query_number`, `QueryFlag`) and `FieldProblem`.
- one module per capability (`points`, `reports`, ...) with its requests and responses.
"""
