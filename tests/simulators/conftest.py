"""Fixtures for the simulator tests: one running set of simulators per module, reset per test."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from devtools.simulators import Simulators, start_simulators

SEAT_CHANGE_DELAY = 0.2
PROVISIONING_DELAY = 0.3
FAULT_SEED = 7


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulators]:
    """Both simulators on free ports with short delays, for the whole module."""
    with start_simulators(
        tmp_path_factory.mktemp("pki"),
        seat_change_delay=SEAT_CHANGE_DELAY,
        provisioning_delay=PROVISIONING_DELAY,
        seed=FAULT_SEED,
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_world(sims: Simulators) -> None:
    """Every test starts from the seeded world, with no faults and zeroed counters."""
    sims.reset()


@pytest.fixture(scope="module")
def tls(sims: Simulators) -> ssl.SSLContext:
    """Trusts the simulators' private CA only."""
    return ssl.create_default_context(cafile=str(sims.ca_file))


@pytest.fixture
def http(tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(verify=tls, timeout=5.0) as client:
        yield client
