"""The workflow under thousands of seeded failure schedules (`sim.py` says what each holds).

`SIMULATION_SCHEDULES` sets how many (10,000 by default); `SIMULATION_SEED` replays one and
prints its steps:

    SIMULATION_SEED=4711 .venv/bin/python -m pytest tests/simulation -s -k replays
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.simulation.sim import Simulation, Violation, simulate

SCHEDULES = int(os.environ.get("SIMULATION_SCHEDULES", "10000"))
WORKERS = 2


def _run(seeds: range) -> tuple[Counter[str], list[str]]:
    """Run `seeds`; what they exercised, and the first failures."""
    logging.disable(logging.CRITICAL)  # thousands of schedules' state changes
    seen: Counter[str] = Counter()
    failures: list[str] = []
    for seed in seeds:
        try:
            sim = simulate(seed)
        except Violation as exc:
            failures.append(str(exc))
            continue
        seen["schedules"] += 1
        seen["hires"] += len(sim.hires)
        seen["seat changes sent"] += len(sim.stellr.ops)
        seen["seat changes landed"] += len(sim.stellr.changes)
        seen["crashes"] += sim.crashes
        for hire in sim.hires:
            for row, _ in sim.ledger.list_licenses(hire.event_id):
                seen[f"ended {row.state}"] += 1
                seen["resent after the settle window"] += max(0, row.sends - 1)
    return seen, failures[:3]


class TestSimulation:
    def test_every_schedule_keeps_every_guarantee(self, capsys: pytest.CaptureFixture[str]) -> None:
        """10,000 schedules: guarantees 1-8, no lowered quantity, every licence final by its
        deadline, nothing held or reserved left behind, at most one result per final state."""
        started = time.monotonic()
        chunks = [range(start, SCHEDULES, WORKERS) for start in range(WORKERS)]
        seen: Counter[str] = Counter()
        failures: list[str] = []
        with ProcessPoolExecutor(WORKERS) as pool:
            for counts, failed in pool.map(_run, chunks):
                seen.update(counts)
                failures += failed
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
        with capsys.disabled():  # in the run's output, not captured
            print(f"\nsimulation: {seen['schedules']} of {SCHEDULES} schedules checked in "
                  f"{elapsed:.0f}s ({summary})")
        assert not failures, failures[0]
        assert seen["schedules"] == SCHEDULES
        # The schedules reach what they are meant to: purchases, crashes, resends, refusals.
        for what in ("seat changes landed", "crashes", "resent after the settle window",
                     "ended purchased_and_assigned", "ended failed", "ended dry_run"):
            assert seen[what] > 0, f"no schedule had {what}"

    def test_a_seed_replays_the_same_schedule(self) -> None:
        """The same seed gives the same steps, so that a failing one can be replayed."""
        seed = int(os.environ.get("SIMULATION_SEED", "4711"))
        first, second = Simulation(seed), Simulation(seed)
        for sim in (first, second):
            sim.run()
        assert first.trace == second.trace
        assert len(first.trace) > 50
        if "SIMULATION_SEED" in os.environ:
            print("\n".join(first.steps()))

    def test_a_broken_invariant_names_its_seed_and_steps(self) -> None:
        """A violation says which seed failed and the steps that led to it."""
        sim = Simulation(7)
        sim.run()
        with pytest.raises(Violation, match=r"(?s)seed 7: quantity raised.*steps \(last"):
            sim.stellr.quantity += 1  # a seat bought behind the app's back
            sim.check_end(sim.clock.now())
