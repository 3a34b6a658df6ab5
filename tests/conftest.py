"""Fixtures shared by every test: retries that never sleep, and one Azurite per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import stamina

from shared.settings import AZURE_MARKERS
from tests.azurite import Azurite, start_azurite

# Retries keep their logic in tests (up to three attempts) but never sleep.
stamina.set_testing(True, attempts=3, cap=True)

# Tests never run in Azure, but a container host may set CONTAINER_NAME (some CI runners and
# sandboxes do), which the app reads as Azure and then refuses the devsecrets table. A test
# that means "in Azure" sets the variable itself.
for _marker in AZURE_MARKERS:
    os.environ.pop(_marker, None)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite for the session; a test that needs it fails when it cannot start."""
    instance = start_azurite()
    yield instance
    instance.stop()
