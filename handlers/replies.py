"""Reply texts, rendered from the jinja2 templates in handlers/templates (all Chinese)."""
from __future__ import annotations

from pathlib import Path

from services.texts import renderer

render = renderer(Path(__file__).parent / "templates")
