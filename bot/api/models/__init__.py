"""Pydantic (1.10) models of the mini-program API: what a request may carry and what a
response holds. `/api/v1/openapi.json` is generated from them (bot.api.spec), so the
document and the validation cannot drift apart.

- `base`: `Body` (a JSON request body: unknown fields refused, strict types, strings
  stripped, NUL refused, an empty string counts as missing), `Query` (query parameters,
  parsed from strings), `Out` (a response body; `None`-able fields are `nullable`), the
  constrained types (`text`, `integer`, `number`, ...) and the one mapping of a
  `ValidationError` to the API's 400 (`invalid_<field>`, `invalid_body`).
- one module per capability (`points`, `reports`, ...) with its requests and responses.
"""
