"""Upstream calls per onboarding event and per lookup, counted at the HTTP layer (item 2).

    .venv/bin/python -m benchmarks.upstream_calls

The whole app runs on this machine (`devtools.stack.run_stack`: Azurite, the HTTPS simulators
of Stellr, Entra and Graph, the functions under the local runner); the simulators count every
request they receive, by route. Each scenario is run once to warm up (clients, discovery,
tokens), then measured as the difference of the counters around it:

- free-seat path: events whose licence has a free seat (Contoso's FLOW_FREE), per event;
- purchase path: one event with no free seat (Contoso's Business Premium through 411833_1),
  end to end to `purchased_and_assigned`;
- lookups: `GET /subscriptions` for a customer with one page of lines (Contoso) and one with
  two (Adventure Works, 150 lines), with the freshness window cleared (cold data, warm
  tokens), and once more within the window.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

import httpx

from benchmarks._common import app_stack, enqueue_event, header, verdict, wait_for_outcome

COMMAND = ".venv/bin/python -m benchmarks.upstream_calls"

FLOW_FREE = "f30db892-07e9-47e9-837c-80727f46fd3d"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
SPB_ANNUAL = "411833_1"
ADVENTURE_WORKS_NO = "100237"

STELLR_TOKEN = "POST /oauth2/v1/token"
STELLR_READ = "GET /api/v1/customers/{customer_no}/subscriptions/{subscription_id}"
STELLR_LIST = "GET /api/v1/customers/{customer_no}/subscriptions"
STELLR_CHANGE = "POST /api/v1/customers/{customer_no}/subscriptions/{subscription_id}/changeSeats"
STELLR_OPERATION = "GET /api/v1/subscriptions/operations/{operation_id}"
GRAPH_TOKEN = "POST /{tenant}/oauth2/v2.0/token"
GRAPH_DISCOVERY = "GET /{tenant}/v2.0/.well-known/openid-configuration"


class Counts:
    """Requests the simulators received during a `with` block, by service and route."""

    def __init__(self, simulators: Any) -> None:
        self._simulators = simulators
        self.stellr: Counter[str] = Counter()
        self.graph: Counter[str] = Counter()

    def __enter__(self) -> Counts:
        self._before = self._simulators.request_counts()
        return self

    def __exit__(self, *_: object) -> None:
        after = self._simulators.request_counts()
        for service, counter in (("stellr", self.stellr), ("graph", self.graph)):
            counter.update(after[service])
            counter.subtract(self._before[service])
            for key in [k for k, v in counter.items() if v == 0]:
                del counter[key]

    def graph_api(self) -> int:
        return sum(v for k, v in self.graph.items() if k not in (GRAPH_TOKEN, GRAPH_DISCOVERY))

    def graph_tokens(self) -> int:
        return self.graph[GRAPH_TOKEN] + self.graph[GRAPH_DISCOVERY]

    def stellr_api(self) -> int:
        return sum(v for k, v in self.stellr.items() if k != STELLR_TOKEN)


def free_seat_event(stack: Any, index: int) -> dict[str, Any]:
    from devtools.simulators import seed

    upn = f"bench.hire{index:04d}@contoso.com"
    stack.simulators.graph.add_user(seed.CONTOSO_TENANT_ID, upn, usage_location="US")
    event_id = f"bench-free-{index:04d}"
    enqueue_event(stack.storage, {"event_id": event_id, "org_id": "contoso", "user": upn,
                                  "licenses": [{"sku_id": FLOW_FREE}]})
    return wait_for_outcome(stack.api, event_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10, help="free-seat events measured")
    args = parser.parse_args(argv)
    header("Upstream calls per event and per lookup (HTTP layer)", COMMAND)
    results: list[bool] = []

    with app_stack() as stack:
        sims = stack.simulators
        api = stack.api

        # --- free-seat path
        free_seat_event(stack, 0)  # warm-up: clients, OIDC discovery, first token
        with Counts(sims) as free:
            outcomes = [free_seat_event(stack, i) for i in range(1, args.events + 1)]
        assert all(o["licenses"][0]["state"] == "assigned" for o in outcomes), outcomes
        graph_per_event = free.graph_api() / args.events
        tokens_per_event = free.graph_tokens() / args.events
        ok = graph_per_event <= 2 and tokens_per_event == 0 and free.stellr_api() == 0
        results.append(ok)
        print(f"free-seat path ({args.events} events, warm): {graph_per_event:.1f} Graph calls "
              f"and {tokens_per_event:.1f} token requests per event, "
              f"{free.stellr_api()} Synnex calls   target <= 2 and 0: {verdict(ok)}")
        print(f"   Graph routes: {dict(free.graph)}")

        # --- purchase path
        with Counts(sims) as buy:
            enqueue_event(stack.storage, {
                "event_id": "bench-buy-0001", "org_id": "contoso",
                "user": "new.hire@contoso.com", "usage_location": "US",
                "licenses": [{"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}],
            })
            outcome = wait_for_outcome(api, "bench-buy-0001")
        state = outcome["licenses"][0]["state"]
        reads, changes = buy.stellr[STELLR_READ], buy.stellr[STELLR_CHANGE]
        polls = buy.stellr[STELLR_OPERATION]
        ok = state == "purchased_and_assigned" and reads <= 1 and changes == 1
        results.append(ok)
        print(f"purchase path (one event, {state}): {reads} Synnex read before the change, "
              f"{changes} seat change, {polls} operation polls, "
              f"{buy.stellr[STELLR_TOKEN]} Synnex token requests; {buy.graph_api()} Graph "
              f"calls, {buy.graph_tokens()} Graph token requests   "
              f"target <= 1 read and 1 change: {verdict(ok)}")
        print(f"   Synnex routes: {dict(buy.stellr)}")
        print(f"   Graph routes: {dict(buy.graph)}")

        # --- lookups
        with httpx.Client(base_url=api, timeout=30) as http:
            http.put("/orgs/adventure-works", json={
                "name": "Adventure Works Cycles", "parent_id": "northwind",
                "synnex_customer_no": ADVENTURE_WORKS_NO,
            }).raise_for_status()
            from shared.bootstrap import container

            for org_id, pages in (("contoso", 1), ("adventure-works", 2)):
                container().listing_window.clear()
                http.get(f"/orgs/{org_id}/subscriptions").raise_for_status()  # warm-up
                container().listing_window.clear()
                with Counts(sims) as cold:
                    answer = http.get(f"/orgs/{org_id}/subscriptions")
                answer.raise_for_status()
                with Counts(sims) as repeat:
                    http.get(f"/orgs/{org_id}/subscriptions").raise_for_status()
                ok = (cold.stellr[STELLR_LIST] <= pages and cold.stellr[STELLR_TOKEN] == 0
                      and repeat.stellr_api() == 0)
                results.append(ok)
                print(f"lookup /orgs/{org_id}/subscriptions ({pages} page(s) of lines): "
                      f"{cold.stellr[STELLR_LIST]} Synnex calls, {cold.stellr[STELLR_TOKEN]} "
                      f"token requests cold; {repeat.stellr_api()} Synnex calls repeated within "
                      f"the window   target <= {pages} and 0: {verdict(ok)}")

    print(f"upstream calls: {verdict(all(results))} ({sum(results)} of {len(results)} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
