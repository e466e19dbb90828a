"""Each contract test runs twice: on the real repository (the MongoDB-compatible server of
tests/conftest.py) and on its in-memory fake in tests/fakes/."""
from __future__ import annotations

import pytest

IMPLEMENTATIONS = ["mongo", "fake"]


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request) -> str:
    return request.param


@pytest.fixture
def make(impl, request):
    """make(real_factory, fake_factory) -> the repository under test (the database is only
    started for the real one)."""
    db = request.getfixturevalue("db") if impl == "mongo" else None

    def build(real, fake):
        return real(db) if db is not None else fake()
    return build


