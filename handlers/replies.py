"""Reply texts, rendered from the jinja2 templates in handlers/templates (all Chinese)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,  # plain chat text, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    undefined=StrictUndefined,
)


def render(name: str, **context: Any) -> str:
    return _env.get_template(f"{name}.txt.j2").render(**context).strip()
