"""Fixtures shared by every test: retries that never sleep, and one Azurite per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina

from tests.azurite import Azurite, start_azurite

# Retries keep their logic in tests (up to three attempts) but never sleep.
stamina.set_testing(True, attempts=3, cap=True)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite for the session; a test that needs it fails when it cannot start."""
    instance = start_azurite()
    yield instance
    instance.stop()
