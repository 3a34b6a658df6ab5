"""Lookup latency over the upstream time, with every upstream answering after 100 ms (item 3).

    .venv/bin/python -m benchmarks.lookup_latency [--runs 15]

The whole app runs on this machine (`devtools.stack.run_stack`), and the simulators delay
every answer by 100 ms (their `latency_ms` fault knob), tokens and discovery included. Tokens
are warm (one lookup of each kind first); data is cold (the freshness window is cleared before
each timed `/subscriptions`, plain and ranked for Business Premium with `?sku_id=`). Each
function is called as the host calls it, in this process, and timed; so is the upstream call
it cannot do without, made directly through the app's own client (same connection pool, same
token): `StellrClient.list_subscriptions` for `/subscriptions`,
`GraphClient.list_subscribed_skus` for `/licenses`. The two alternate, and the ratio is median
over median.

Then the freshness window: a repeated `/subscriptions` within it (no Synnex call), and a
purchase through the queue workflow (Contoso buys one Business Premium seat through 411833_1),
after which the next `/subscriptions` must call Synnex again and show the new quantity.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import azure.functions as func

from benchmarks._common import app_stack, enqueue_event, header, verdict, wait_for_outcome

COMMAND = ".venv/bin/python -m benchmarks.lookup_latency"
UPSTREAM_LATENCY_MS = 100
TARGET = 1.2
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
SPB_ANNUAL = "411833_1"
LIST_ROUTE = "GET /api/v1/customers/{customer_no}/subscriptions"


def call(handler: Callable[[func.HttpRequest], func.HttpResponse], route: str,
         org_id: str, params: dict[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    """Seconds the function took, and its JSON answer (which must be a 200)."""
    request = func.HttpRequest("GET", f"http://localhost/api/orgs/{org_id}/{route}",
                               route_params={"org_id": org_id}, params=params or {}, body=b"")
    started = time.perf_counter()
    response = handler(request)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{route}: {response.status_code} {response.get_body()!r}")
    return seconds, dict(json.loads(response.get_body()))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def spb_quantity(answer: dict[str, Any]) -> int:
    return int(next(s["quantity"] for s in answer["subscriptions"] if s["id"] == SPB_ANNUAL))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed calls of each kind")
    args = parser.parse_args(argv)
    header(f"Lookup latency, every upstream answering after {UPSTREAM_LATENCY_MS} ms", COMMAND)
    results: list[bool] = []

    with app_stack() as stack:
        from devtools.simulators import FaultRule, seed
        from shared.bootstrap import container
        from shared.edge import handlers
        from shared.use_cases.credentials import load_credentials

        sims = stack.simulators
        slow = [FaultRule(route="/", latency_ms=UPSTREAM_LATENCY_MS)]
        sims.set_faults(stellr=slow, graph=slow)
        app = container()
        window = app.listing_window
        credentials = load_credentials(app.secrets, "northwind")
        assert credentials is not None
        stellr = app.stellr_for(credentials)

        def subscriptions() -> tuple[float, dict[str, Any]]:
            return call(handlers.get_subscriptions, "subscriptions", "contoso")

        def ranked() -> tuple[float, dict[str, Any]]:
            return call(handlers.get_subscriptions, "subscriptions", "contoso", {"sku_id": SPB})

        def licenses() -> tuple[float, dict[str, Any]]:
            return call(handlers.get_licenses, "licenses", "contoso")

        subscriptions()  # warm-up: tables, connections, the Stellr token
        licenses()  # warm-up: OIDC discovery, the Graph token
        lookups: dict[str, tuple[list[float], list[float]]] = {
            "subscriptions": ([], []), "subscriptions?sku_id=<SPB>": ([], []),
            "licenses": ([], [])}
        for _ in range(args.runs):
            for route, lookup in (("subscriptions", subscriptions),
                                  ("subscriptions?sku_id=<SPB>", ranked)):
                window.clear()
                lookups[route][0].append(lookup()[0])
                lookups[route][1].append(
                    timed(lambda: stellr.list_subscriptions(seed.CONTOSO_CUSTOMER_NO)))
            lookups["licenses"][0].append(licenses()[0])
            lookups["licenses"][1].append(
                timed(lambda: app.graph.list_subscribed_skus(seed.CONTOSO_TENANT_ID)))
        for route, (app_times, upstream_times) in lookups.items():
            ratio = statistics.median(app_times) / statistics.median(upstream_times)
            results.append(ratio <= TARGET)
            print(f"/orgs/contoso/{route}: app {statistics.median(app_times) * 1000:.1f} ms, "
                  f"upstream {statistics.median(upstream_times) * 1000:.1f} ms (medians of "
                  f"{args.runs}); ratio {ratio:.2f}   target <= {TARGET}: "
                  f"{verdict(ratio <= TARGET)}")

        # --- the freshness window
        window.clear()
        before = sims.request_counts()["stellr"].get(LIST_ROUTE, 0)
        cold_time, cold = subscriptions()
        repeat_time, repeat = subscriptions()
        listings = sims.request_counts()["stellr"].get(LIST_ROUTE, 0) - before
        ok = listings == 1 and repeat == cold
        results.append(ok)
        print(f"repeated /subscriptions within the window: {listings - 1} Synnex calls, "
              f"{repeat_time * 1000:.1f} ms ({repeat_time / cold_time:.2f} of the cold lookup)"
              f"   target 0 calls: {verdict(ok)}")

        sims.set_faults(stellr=[], graph=[])
        enqueue_event(stack.storage, {
            "event_id": "bench-window-buy", "org_id": "contoso",
            "user": "new.hire@contoso.com", "usage_location": "US",
            "licenses": [{"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}],
        })
        outcome = wait_for_outcome(stack.api, "bench-window-buy")
        before = sims.request_counts()["stellr"].get(LIST_ROUTE, 0)
        _, after = subscriptions()
        listings = sims.request_counts()["stellr"].get(LIST_ROUTE, 0) - before
        state = outcome["licenses"][0]["state"]
        ok = listings == 1 and spb_quantity(after) == spb_quantity(cold) + 1
        results.append(ok)
        print(f"/subscriptions right after the app bought a seat ({state}): {listings} Synnex "
              f"call(s), quantity {spb_quantity(cold)} -> {spb_quantity(after)}   "
              f"target window cleared: {verdict(ok)}")

    print(f"lookup latency: {verdict(all(results))} ({sum(results)} of {len(results)} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
