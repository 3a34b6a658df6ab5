"""What the benchmark scripts share: the stand-ins they start, the demo orgs, and reporting."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from devtools.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / ".local" / "pki"

# The seeded world's ids (devtools/simulators/seed.py), reused so the fakes agree with it.
MSP_ORG = "northwind"
CUSTOMER_ORG = "contoso"
SPB_SKU_ID = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
GRAPH_CLIENT_ID = "5d3c7a2e-6b1f-4c8e-9a40-2f7b8e1c9d03"
GRAPH_CLIENT_SECRET = "sim~graph-app-secret-NOT-A-REAL-SECRET"  # simulator value, not a secret
BENCH_TENANT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


@dataclass(frozen=True)
class Fake:
    """A fake upstream running in a child process."""

    url: str
    ca_bundle: str
    pid: int = 0

    def stats(self) -> dict[str, int]:
        import ssl

        verify = ssl.create_default_context(cafile=self.ca_bundle)
        with httpx.Client(verify=verify, timeout=10) as client:
            counts = client.get(f"{self.url}/_fake/stats").json()["requests"]
        return {str(k): int(v) for k, v in counts.items()}


@contextmanager
def fake_graph(latency_ms: float) -> Iterator[Fake]:
    """`benchmarks.fake_graph` in its own process, answering after `latency_ms`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_graph", "--latency-ms", str(latency_ms),
         "--pki", str(PKI)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("benchmarks.fake_graph exited before it listened")
        info = json.loads(line)
        yield Fake(url=info["url"], ca_bundle=info["ca_bundle"], pid=process.pid)
    finally:
        stop(process)


@dataclass(frozen=True)
class Storage:
    """A running Azurite: its connection string and process id."""

    connection: str
    pid: int


@contextmanager
def fresh_azurite() -> Iterator[Storage]:
    """A new in-memory Azurite on free ports (never a shared one: each run starts empty)."""
    from devtools import azurite

    running = azurite.start()
    try:
        yield Storage(running.connection_string, running.pid)
    finally:
        running.stop()


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def header(title: str, command: str) -> None:
    print(f"== {title}")
    print(f"   command: {command}")
    print(f"   machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")


# --- the whole app on this machine, in this process -------------------------------------------


@contextmanager
def app_stack(
    *, seat_change_delay: float = 0.3, provisioning_delay: float = 0.3
) -> Iterator[Stack]:
    """`devtools.stack.run_stack` on free ports, in memory, functions in this process (the
    local runner), seeded with Northwind IT over Contoso; yields the `Stack`."""
    from devtools.stack import run_stack

    fast_waits = {"LICENSE_WAIT_INITIAL_SECONDS": "1", "LICENSE_WAIT_MAX_SECONDS": "2"}
    with run_stack(
        port=0, sim_port=None, in_memory=True, free_storage_ports=True, host="runner",
        seat_change_delay=seat_change_delay, provisioning_delay=provisioning_delay,
        settings=fast_waits, pki_dir=PKI,
    ) as stack:
        yield stack


def enqueue_event(storage: str, body: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    from shared import names

    queue = QueueClient.from_connection_string(storage, names.ONBOARDING_EVENTS_QUEUE)
    with suppress(ResourceExistsError):
        queue.create_queue()
    queue.send_message(json.dumps(body))


def wait_for_outcome(api: str, event_id: str, *, seconds: float = 60) -> dict[str, Any]:
    """Poll `GET /api/onboarding/{event_id}` until the event is no longer in progress."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=api, timeout=10) as client:
        while time.monotonic() < deadline:
            answer = client.get(f"/onboarding/{event_id}")
            if answer.status_code == 200 and answer.json()["status"] != "in_progress":
                return dict(answer.json())
            time.sleep(0.1)
    raise RuntimeError(f"event {event_id} still in progress after {seconds}s")
