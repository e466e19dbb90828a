"""The contract suite: one behaviour suite per repository, run on the real one and its fake."""
from __future__ import annotations

import pytest


def repository(real, fake, *, indexes: bool = True):
    """A fixture of the repository under test: `real(db)` or `fake()`, with its indexes
    ensured (`indexes=False` for the repositories that declare none).

        slots = repository(SlotRepository, FakeSlotRepository)
    """
    @pytest.fixture
    async def fixture(make):
        repo = make(real, fake)
        if indexes:
            await repo.ensure_indexes()
        return repo
    return fixture
