"""What the Functions host indexes: every route of contract section 4, from a light import.

The worker imports `function_app` and calls `app.get_functions()` once; so does each test
process here, in a fresh interpreter with no settings and no network, so that nothing another
test imported or configured can hide a slow or failing import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: refuses every connection and name lookup, imports the app,
# indexes it once, and prints what the host would receive.
_INDEX_SCRIPT = """
import json, socket, sys

def _refuse(*args, **kwargs):
    raise OSError("network used while importing function_app")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse

import function_app

functions = function_app.app.get_functions()
print(json.dumps({
    "functions": [
        {"name": f.get_function_name(), **f.get_dict_repr()} for f in functions
    ],
    "modules": sorted(sys.modules),
}, default=str))
"""

# Contract section 4, without the `/api` prefix the host adds.
CONTRACT_ROUTES: list[tuple[str, str]] = [
    ("PUT", "orgs/{org_id}"),
    ("GET", "orgs/{org_id}"),
    ("PUT", "orgs/{org_id}/variables/{name}"),
    ("GET", "orgs/{org_id}/variables/{name}"),
    ("DELETE", "orgs/{org_id}/variables/{name}"),
    ("GET", "orgs/{org_id}/variables"),
    ("PUT", "orgs/{org_id}/synnex-credentials"),
    ("POST", "orgs/{org_id}/synnex-credentials/test"),
    ("GET", "orgs/{org_id}/synnex-customers"),
    ("GET", "orgs/{org_id}/subscriptions"),
    ("GET", "orgs/{org_id}/licenses"),
    ("GET", "onboarding/{event_id}"),
    ("POST", "onboarding/{event_id}/licenses/{sku_id}/approve"),
    ("POST", "onboarding/{event_id}/licenses/{sku_id}/deny"),
    ("GET", "openapi.json"),
]
ANONYMOUS_ROUTES = {"openapi.json"}

# SDKs that cost seconds to import, or build credentials: loaded on first use only.
HEAVY_MODULES = ("azure.identity", "azure.keyvault", "msal")

# Every setting prefix the app reads (contract section 2) and the Azure host's own.
_SETTING_PREFIXES = (
    "AzureWebJobs",
    "KEY_VAULT_",
    "GRAPH_",
    "SYNNEX_",
    "LICENSE_WAIT_",
    "USER_LOOKUP_",
    "WEBSITE_",
    "AZURITE_",
)


@dataclass(frozen=True)
class Index:
    """What one fresh import and one `get_functions()` produced."""

    functions: list[dict[str, Any]]
    modules: frozenset[str]

    def http_functions(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, trigger binding) of every HTTP-triggered function."""
        found = []
        for function in self.functions:
            for binding in function["bindings"]:
                if binding["type"] == "httpTrigger":
                    found.append((function["name"], binding))
        return found

    def serving(self, method: str, route: str) -> list[tuple[str, dict[str, Any]]]:
        """The HTTP functions bound to `method` on `route`."""
        return [
            (name, binding)
            for name, binding in self.http_functions()
            if binding.get("route") == route and method in binding.get("methods", [])
        ]


def index_app(extra_env: dict[str, str] | None = None) -> Index:
    """Import function_app in a fresh interpreter without settings or network, and index it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, "-c", _INDEX_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    return Index(functions=printed["functions"], modules=frozenset(printed["modules"]))


@pytest.fixture(scope="module")
def index() -> Index:
    """The app indexed once for this module, as the worker does at start-up."""
    return index_app()


class TestFunctionAppIndexing:
    @pytest.mark.parametrize(("method", "route"), CONTRACT_ROUTES)
    def test_binds_each_contract_route_to_one_http_function(
        self, index: Index, method: str, route: str
    ) -> None:
        """Each method and route of section 4 is served by exactly one HTTP function."""
        serving = index.serving(method, route)
        assert len(serving) == 1, f"{method} {route}: {[name for name, _ in serving]}"

    @pytest.mark.parametrize(("method", "route"), CONTRACT_ROUTES)
    def test_asks_for_a_function_key_on_every_route_but_the_openapi_document(
        self, index: Index, method: str, route: str
    ) -> None:
        """Auth level FUNCTION everywhere; the OpenAPI document is ANONYMOUS."""
        [(_, binding)] = index.serving(method, route)
        expected = "ANONYMOUS" if route in ANONYMOUS_ROUTES else "FUNCTION"
        assert binding["authLevel"] == expected

    def test_gives_every_http_function_one_method_an_input_trigger_and_an_http_output(
        self, index: Index
    ) -> None:
        """Each HTTP function: an `httpTrigger` in, one method, and an `http` answer out."""
        for function in index.functions:
            triggers = [b for b in function["bindings"] if b["type"] == "httpTrigger"]
            if not triggers:
                continue  # a queue trigger: its bindings are checked elsewhere
            [trigger] = triggers
            outputs = [b for b in function["bindings"] if b["type"] == "http"]
            assert trigger["direction"] == "IN", function["name"]
            assert len(trigger["methods"]) == 1, function["name"]
            assert [o["direction"] for o in outputs] == ["OUT"], function["name"]

    def test_serves_no_method_and_route_twice(self, index: Index) -> None:
        """No two HTTP functions claim the same method on the same route."""
        pairs = [
            (method, binding["route"])
            for _, binding in index.http_functions()
            for method in binding["methods"]
        ]
        assert len(pairs) == len(set(pairs))

    def test_keeps_the_api_route_prefix(self) -> None:
        """host.json leaves the `/api` prefix of section 4 as it is."""
        host = json.loads((ROOT / "host.json").read_text())
        prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        assert prefix == "api"


class TestQueueTriggerIndexing:
    @pytest.mark.parametrize(
        "queue", ["onboarding-events", "license-purchases", "license-waits", "notifications"]
    )
    def test_binds_one_function_to_each_workflow_queue_on_the_host_storage(
        self, index: Index, queue: str
    ) -> None:
        """Each workflow queue has one trigger, reading AzureWebJobsStorage."""
        triggers = [
            binding
            for function in index.functions
            for binding in function["bindings"]
            if binding["type"] == "queueTrigger" and binding["queueName"] == queue
        ]
        assert len(triggers) == 1, queue
        assert triggers[0]["connection"] == "AzureWebJobsStorage"
        assert triggers[0]["direction"] == "IN"

    def test_lets_the_function_see_plain_and_base64_messages(self) -> None:
        """host.json hands message text over as it is, so the app can accept both forms."""
        host = json.loads((ROOT / "host.json").read_text())
        assert host["extensions"]["queues"]["messageEncoding"] == "none"


class TestFunctionAppImport:
    @pytest.mark.parametrize("module", HEAVY_MODULES)
    def test_leaves_heavy_sdks_unimported(self, index: Index, module: str) -> None:
        """Identity, Key Vault and MSAL load on first use, not when the host imports the app."""
        loaded = sorted(m for m in index.modules if m == module or m.startswith(module + "."))
        assert loaded == []

    def test_does_not_read_settings_while_importing(self) -> None:
        """A malformed setting does not stop indexing: it is read on first use."""
        broken = index_app(
            {"LICENSE_WAIT_MAX_SECONDS": "fifteen minutes", "KEY_VAULT_URI": "not a vault"}
        )
        assert broken.serving("GET", "openapi.json")


# Issue 12: the operator's routes (host key; never the form's) and the reconciliation timer.
OPERATOR_ROUTES = [
    ("GET", "onboarding", "list_onboarding"),
    ("POST", "onboarding/{event_id}/retry", "retry_onboarding"),
    ("GET", "orgs/{org_id}/purchases", "get_purchases"),
    ("POST", "reconciliation", "run_reconciliation"),
    ("GET", "console", "get_console"),
]


class TestOperatorIndexing:
    @pytest.mark.parametrize(("method", "route", "name"), OPERATOR_ROUTES)
    def test_binds_each_operator_route_behind_a_key(
        self, index: Index, method: str, route: str, name: str
    ) -> None:
        """One function per operator route, auth level FUNCTION."""
        [(function, binding)] = index.serving(method, route)
        assert (function, binding["authLevel"]) == (name, "FUNCTION")

    def test_runs_the_reconciliation_daily_and_not_at_start_up(self, index: Index) -> None:
        """A timer trigger, once a day, never on start-up (each scale-out would run it)."""
        [timer] = [b for f in index.functions for b in f["bindings"]
                   if b["type"] == "timerTrigger"]
        assert timer["runOnStartup"] is False
        seconds, minutes, hours, *rest = timer["schedule"].split()
        assert seconds.isdigit() and minutes.isdigit() and hours.isdigit()
        assert rest == ["*", "*", "*"]
