"""Capture the operator console at a laptop's and a phone's width: docs/console-1280.png and
docs/console-390.png. Development only.

Starts the local stack (Azurite in memory, the simulators, the functions on free ports),
makes a few hires happen (a seat bought and assigned, a free seat assigned, one failed
because buying is switched off, one whose bought licence is then taken away again, which the
reconciliation reports as "can still be reduced"), then opens the console in headless
Chromium and saves the whole page at each width.

    python -m devtools.screenshots [--out docs]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx

from devtools.browser import chromium, console_errors, full_page_screenshot
from devtools.simulators import seed
from devtools.stack import run_stack

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"LICENSE_WAIT_INITIAL_SECONDS": "1", "LICENSE_WAIT_MAX_SECONDS": "3",
            "LICENSE_WAIT_DEADLINE_HOURS": "1", "USER_LOOKUP_DEADLINE_SECONDS": "10"}
CHOICE = "/orgs/contoso/variables/licencing_choose_subscription"
WIDTHS = (1280, 390)


def _hire(http: httpx.Client, sims: Any, event_id: str, upn: str, sku: str,
          subscription: str | None = seed.SPB_ANNUAL_SUBSCRIPTION_ID) -> dict[str, Any]:
    sims.graph.add_user(seed.CONTOSO_TENANT_ID, upn, usage_location="US")
    licence: dict[str, Any] = {"sku_id": sku}
    if subscription:
        licence["synnex_subscription_id"] = subscription
    answer = http.post("/onboarding", json={"event_id": event_id, "org_id": "contoso",
                                            "user": upn, "licenses": [licence]})
    answer.raise_for_status()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get(f"/onboarding/{event_id}").json()
        if status["status"] != "in_progress":
            return status
        time.sleep(0.5)
    raise RuntimeError(f"{event_id} did not end")


def _take_back(sims: Any, upn: str, sku: str) -> None:
    """Someone removes the licence in the admin centre (the simulator's state, directly)."""
    graph = sims.graph
    with graph._scheduler.lock:
        tenant = graph._tenant_or_raise(seed.CONTOSO_TENANT_ID)
        user = graph._user(tenant, upn, include_hidden=True)
        user.assigned_licenses.pop(sku.lower(), None)


def capture(out: Path) -> list[Path]:
    with run_stack(port=0, sim_port=None, in_memory=True, settings=SETTINGS, host="runner",
                   free_storage_ports=True, provisioning_delay=2.0,
                   seat_change_delay=1.0) as stack, \
            httpx.Client(base_url=stack.api, timeout=30) as http:
        sims = stack.simulators
        _hire(http, sims, "hire-2026-000121", "sara.davis@contoso.com", seed.SPB_SKU_ID)
        _hire(http, sims, "hire-2026-000122", "jordan.miller@contoso.com",
              seed.ENTERPRISEPACK_SKU_ID, subscription=None)
        _hire(http, sims, "hire-2026-000123", "kai.carter@contoso.com", seed.SPB_SKU_ID)
        http.put(CHOICE, json={"value": "0"}).raise_for_status()
        _hire(http, sims, "hire-2026-000124", "rowan.price@contoso.com", seed.SPB_SKU_ID)
        http.delete(CHOICE).raise_for_status()
        _take_back(sims, "kai.carter@contoso.com", seed.SPB_SKU_ID)
        http.post("/reconciliation").raise_for_status()
        saved = []
        with chromium(WIDTHS[0], 900) as browser:
            for width in WIDTHS:
                browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": 900, "deviceScaleFactor": 1,
                    "mobile": width < 600})
                browser.get(f"{stack.api}/console?code=local-screenshot-key")
                time.sleep(2.5)  # the events, then each org's purchases
                if width == WIDTHS[0]:  # one event's history open, as after a click
                    browser.find_element("css selector",
                                         '[data-failure] button[data-history]').click()
                    time.sleep(1.0)
                errors = console_errors(browser)
                if errors:
                    raise RuntimeError(f"the console logged errors: {errors}")
                path = out / f"console-{width}.png"
                full_page_screenshot(browser, path, width)
                saved.append(path)
        return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    for path in capture(args.out):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
