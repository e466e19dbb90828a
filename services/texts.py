"""Chinese texts from jinja2 templates: `renderer(directory)` gives a `render(name, **context)`.
The dialogue's replies (handlers/templates) and the notices services send themselves
(services/templates, e.g. a report's status change) are rendered the same way."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, StrictUndefined

Render = Callable[..., str]


def renderer(directory: Path) -> Render:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain chat text, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )

    def render(name: str, **context: Any) -> str:
        return env.get_template(f"{name}.txt.j2").render(**context).strip()

    return render


render = renderer(Path(__file__).parent / "templates")  # the services' own notices
