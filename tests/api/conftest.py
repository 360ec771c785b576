"""API tests: every query a test sends through `app` is also a differential check of its compiled plan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from schema.execution import DIFFERENTIAL
from tests.harness import Harness


@pytest.fixture
async def app(app: Harness) -> AsyncIterator[Harness]:
    """The live server, recording every planned query; once the test is done (its server and
    database still up) each runs again through its plan and through graphql-core, and the answers
    must be equal byte for byte."""
    DIFFERENTIAL.recorded.clear()
    DIFFERENTIAL.recording = True
    try:
        yield app
    finally:
        DIFFERENTIAL.recording = False
    mismatches = await DIFFERENTIAL.replay()
    assert not mismatches, "compiled plans answered differently:\n\n" + "\n\n".join(mismatches)
