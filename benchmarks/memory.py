"""Memory over a long run: peak RSS after 1,000 and after 5,000 events (issue item 5).

    .venv/bin/python -m benchmarks.memory [--events 1000] [--total 5000]

A child process runs the app alone (the real queue function under the local runner, host.json
concurrency, a fresh in-memory Azurite, the Graph fake answering after 10 ms) and reports its
peak resident set size (`getrusage` `ru_maxrss`, which never goes down) once `--events` results
are out and once `--total` are; growth between the two is the figure. This process only feeds
the queue, a thousand events at a time a little ahead of the results, so that neither the
feeding nor a long queue in Azurite weighs on what is measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

from benchmarks._common import ROOT, Fake, fake_graph, fresh_azurite, header, peak_rss_mib, verdict
from benchmarks.throughput import GRAPH_LATENCY_MS, Results, app_env, enqueue, local_host, seed_orgs

COMMAND = ".venv/bin/python -m benchmarks.memory"
TARGET_GROWTH = 0.10
FEED_CHUNK = 1000
FEED_AHEAD = 500


def child(storage: str, graph: Fake, first: int, total: int) -> dict[str, Any]:
    """The app alone through `total` events; its peak RSS after `first` and after all."""
    import function_app
    from devtools.stack import app_settings

    with app_settings(app_env(storage, graph)):
        seed_orgs()
        results = Results(storage)
        started = time.monotonic()
        with local_host(function_app.app, storage):
            results.wait_for(first)
            after_first = peak_rss_mib()
            results.wait_for(total)
            after_total = peak_rss_mib()
        seconds = time.monotonic() - started
    return {"rss_first_mib": after_first, "rss_total_mib": after_total, "seconds": seconds}


def run(graph: Fake, first: int, total: int) -> dict[str, Any]:
    """The child on a fresh Azurite that this process feeds."""
    with fresh_azurite() as storage:
        results = Results(storage.connection)
        queued = min(FEED_CHUNK, total)
        enqueue(storage.connection, "memory", 0, queued)
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.memory", "--child",
             json.dumps({"storage": storage.connection, "graph": asdict(graph)}),
             "--events", str(first), "--total", str(total)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        while process.poll() is None:
            if queued < total and results.count() >= queued - FEED_AHEAD:
                more = min(FEED_CHUNK, total - queued)
                enqueue(storage.connection, "memory", queued, more)
                queued += more
            time.sleep(0.2)
        output = process.communicate()[0]
        if process.returncode:
            raise RuntimeError(f"the memory run failed ({process.returncode})")
    return dict(json.loads(output.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="first measurement")
    parser.add_argument("--total", type=int, default=5000, help="second measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # The local runner's and the SDKs' "connection pool is full" notices (docs/performance.md).
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    if args.child:
        given = json.loads(args.child)
        print(json.dumps(child(given["storage"], Fake(**given["graph"]), args.events,
                               args.total)))
        return 0

    header("Memory: peak RSS of the app over a long run", COMMAND)
    with fake_graph(GRAPH_LATENCY_MS) as graph:
        memory = run(graph, args.events, args.total)
    growth = memory["rss_total_mib"] / memory["rss_first_mib"] - 1
    print(f"   free-seat events through the real queue function, own process, "
          f"{memory['seconds']:.0f} s")
    print(f"   peak RSS {memory['rss_first_mib']:.1f} MiB after {args.events} events, "
          f"{memory['rss_total_mib']:.1f} MiB after {args.total} events")
    print(f"memory growth ({args.events} -> {args.total} events): {growth * 100:+.1f}%   "
          f"target < {TARGET_GROWTH * 100:.0f}%: {verdict(growth < TARGET_GROWTH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
