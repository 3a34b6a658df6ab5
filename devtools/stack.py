"""The whole app on this machine, on embedded defaults: Azurite, the Stellr/Entra/Graph
simulators over HTTPS, and the functions (under `func start` where Core Tools is installed,
else the local runner), seeded with a demo MSP and customer. Ctrl-C stops everything.

    scripts/run-local            # what the README's run command does
    python -m devtools.stack     # the same, once scripts/setup has run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from devtools import azurite as devtools_azurite
from devtools.azurite import free_port, port_free, wait_for_port
from devtools.simulators import seed
from devtools.simulators.server import Simulators, start_simulators
from devtools.simulators.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"


# Short waits so a demo purchase completes in seconds, not the production minutes.
DEMO_SETTINGS = {
    "LICENSE_WAIT_INITIAL_SECONDS": "5",
    "LICENSE_WAIT_MAX_SECONDS": "20",
    "LICENSE_WAIT_DEADLINE_HOURS": "1",
    "USER_LOOKUP_DEADLINE_SECONDS": "60",
}
# The local webhook receiver (notifications) checks signatures with this development-only key.
DEMO_WEBHOOK_SECRET = "local-webhook-secret-NOT-A-REAL-SECRET"
WEBHOOK_PORT = 7199


def azurite(*, in_memory: bool, free_ports: bool = False) -> AbstractContextManager[str]:
    """Azurite on 10000-10002 when free (where Storage Explorer looks), else on free ports;
    `free_ports` always takes free ones (tests). Raises RuntimeError when it cannot start."""
    location = None if in_memory else LOCAL / "azurite"
    return devtools_azurite.azurite(location=location, free_ports=free_ports)


@dataclass
class Stack:
    api: str
    storage: str
    simulators: Simulators
    env: dict[str, str]
    webhook: WebhookReceiver | None = None


Host = Literal["auto", "func", "runner"]


def app_environment(
    storage: str, simulators: Simulators, settings: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every setting the app reads, pointed at this machine's stand-ins; `settings` overrides
    the demo waits (or adds any other setting)."""
    return {
        "AzureWebJobsStorage": storage,
        **simulators.env(),
        "GRAPH_CLIENT_ID": seed.GRAPH_CLIENT_ID,
        "GRAPH_CLIENT_SECRET": seed.GRAPH_CLIENT_SECRET,
        **DEMO_SETTINGS,
        **(settings or {}),
    }


@contextmanager
def app_settings(env: Mapping[str, str]) -> Iterator[None]:
    """The process environment as the app reads it: `env` set, every other setting of the app
    unset, and the process-wide container rebuilt from it; all restored on exit."""
    from shared.bootstrap import reset_container
    from shared.settings import Settings

    names = set(Settings.model_fields) | set(env)
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(env)
    reset_container()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_container()


@contextmanager
def functions(env: dict[str, str], port: int, *, host: Host = "auto") -> Iterator[str]:
    """The functions, serving at the URL yielded: under `func start` (host "func", or "auto"
    where Core Tools is installed), else in this process on the local runner. `port` 0 takes
    a free port (runner only). The environment is restored on exit."""
    use_func = host == "func" or (host == "auto" and shutil.which("func") is not None)
    with app_settings(env):
        if use_func:
            yield from _func_start(env, port or free_port())
            return

        import function_app
        from devtools.runner import LocalHost, QueueOptions

        local = LocalHost(
            function_app.app,
            QueueOptions.from_host_json(ROOT / "host.json"),
            env["AzureWebJobsStorage"],
        )
        server = local.serve_http("127.0.0.1", port)
        local.start_queues()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/api"
        finally:
            local.stop()


def project_venv() -> Path:
    """The virtual environment the functions run in: the checkout's .venv (scripts/setup makes
    it), else the one this process runs in."""
    venv = ROOT / ".venv"
    return venv if (venv / "bin" / "python").exists() else Path(sys.prefix)


def func_environment(
    base: Mapping[str, str], app_env: Mapping[str, str], venv: Path
) -> dict[str, str]:
    """The environment of `func start`: `base` (this process's), the app's settings, and the
    venv's Python for the worker.

    Core Tools keeps a variable already in its environment over the same name in
    local.settings.json ("Skipping ... already defined in current environment variables"), so
    the stack's settings win without that file being written. The worker is started with
    `languageWorkers__python__defaultExecutablePath`, else the first `python` on PATH: both
    point at the venv. The Azure markers are left out: the local stack is not Azure.
    """
    from shared.settings import AZURE_MARKERS

    env = {name: value for name, value in base.items() if name not in AZURE_MARKERS}
    env.pop("PYTHONHOME", None)  # would pull the worker out of the venv
    env.update(app_env)
    bin_dir = venv / "bin"
    env["FUNCTIONS_WORKER_RUNTIME"] = "python"
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join(filter(None, [str(bin_dir), base.get("PATH", "")]))
    env["languageWorkers__python__defaultExecutablePath"] = str(bin_dir / "python")
    return env


def local_settings_notes(existing: Path, app_env: Mapping[str, str], copy: Path) -> list[str]:
    """What to tell the developer about local.settings.json, which the stack never writes.

    Values of an existing file that the app reads and the stack does not set still reach the
    app (Core Tools applies them), so they are named.
    """
    from shared.settings import Settings

    if not existing.exists():
        return [
            f"{existing.name}: none. The stack's settings go to func as environment variables; "
            f"a copy is in {_shown(copy)}.",
        ]
    notes = [
        f"{existing.name}: yours, left as it is. The stack's settings go to func as environment "
        f"variables, which win over its Values of the same name; a copy is in {_shown(copy)}.",
    ]
    try:
        values = json.loads(existing.read_text(encoding="utf-8")).get("Values", {})
    except (ValueError, AttributeError):
        return [*notes, f"{existing.name} is not valid JSON: func may refuse to start."]
    kept = sorted(
        name for name in values
        if name in Settings.model_fields and name not in app_env and str(values[name]).strip()
    )
    if kept:
        notes.append(f"Its Values {', '.join(kept)} are not set by the stack and still apply.")
    return notes


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def write_settings_copy(path: Path, app_env: Mapping[str, str]) -> None:
    """The stack's settings in local.settings.json's shape, for reference (never read back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {"FUNCTIONS_WORKER_RUNTIME": "python", **app_env}
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}, indent=2) + "\n")


def _func_start(env: dict[str, str], port: int) -> Iterator[str]:
    copy = LOCAL / "local.settings.json"
    write_settings_copy(copy, env)
    for note in local_settings_notes(ROOT / "local.settings.json", env, copy):
        print(note, flush=True)
    venv = project_venv()
    print(f"func start runs the functions with {venv / 'bin' / 'python'}", flush=True)
    process = subprocess.Popen(
        ["func", "start", "--port", str(port)], cwd=ROOT,
        env=func_environment(os.environ, env, venv),
    )
    try:
        wait_for_port(port, seconds=120)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def seed_demo(api: str) -> None:
    """Northwind IT (the MSP, sandbox credentials, subscription choice on for every customer)
    over Contoso Ltd (a customer with a tenant and a Synnex customer number)."""
    with httpx.Client(base_url=api, timeout=30) as client:
        # Credentials before the customer org, so that its Synnex customer number is checked
        # as it would be in Azure.
        steps = [
            ("PUT", "/orgs/northwind", {"name": "Northwind IT"}),
            (
                "PUT",
                "/orgs/northwind/synnex-credentials",
                {
                    "environment": "sandbox",
                    "region": "us",
                    "client_id": seed.SANDBOX_CLIENT_ID,
                    "client_secret": seed.SANDBOX_CLIENT_SECRET,
                },
            ),
            (
                "PUT",
                "/orgs/contoso",
                {
                    "name": "Contoso Ltd",
                    "parent_id": "northwind",
                    "m365_tenant_id": seed.CONTOSO_TENANT_ID,
                    "synnex_customer_no": seed.CONTOSO_CUSTOMER_NO,
                },
            ),
            (
                "PUT",
                "/orgs/northwind/variables/licencing_choose_subscription",
                {"value": "1", "cascade": True},
            ),
        ]
        for method, path, body in steps:
            response = client.request(method, path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(
                    f"seeding {method} {path}: {response.status_code} {response.text}"
                )


def seed_history(storage: str) -> None:
    """Contoso's earlier purchase of Business Premium through its annual subscription, as the
    app records it, so that the dropdown has a subscription to suggest among three matches."""
    from azure.data.tables import TableServiceClient

    from shared import names
    from shared.adapters.purchase_history import TablePurchaseHistory
    from shared.adapters.storage import Tables

    tables = Tables(TableServiceClient.from_connection_string(storage))
    history = TablePurchaseHistory(table=lambda: tables.get(names.PURCHASE_LEDGER_TABLE))
    history.record("contoso", seed.SPB_SKU_ID, seed.SPB_ANNUAL_SUBSCRIPTION_ID)


@contextmanager
def run_stack(
    *,
    port: int = 7071,
    sim_port: int | None = 8443,
    in_memory: bool = False,
    seed_data: bool = True,
    provisioning_delay: float = 5.0,
    seat_change_delay: float = 2.0,
    settings: Mapping[str, str] | None = None,
    host: Host = "auto",
    free_storage_ports: bool = False,
    pki_dir: Path | None = None,
) -> Iterator[Stack]:
    """Azurite, the simulators and the functions, seeded; everything stopped on exit.

    `port` 0 and `sim_port` None or 0 take free ports; `free_storage_ports` does the same for
    Azurite. `settings` overrides app settings (e.g. shorter LICENSE_WAIT_*). `host` "runner"
    keeps the functions in this process even where Core Tools is installed (tests). Raises
    RuntimeError when Azurite cannot start.
    """
    LOCAL.mkdir(exist_ok=True)
    with ExitStack() as stack:
        storage = stack.enter_context(azurite(in_memory=in_memory, free_ports=free_storage_ports))
        sim_ports: int = (
            sim_port if sim_port and all(port_free(sim_port + i) for i in range(4)) else 0
        )
        simulators = stack.enter_context(
            start_simulators(
                pki_dir or LOCAL / "pki",
                ports=sim_ports,
                provisioning_delay=provisioning_delay,
                seat_change_delay=seat_change_delay,
            )
        )
        webhook = stack.enter_context(WebhookReceiver(
            secret=DEMO_WEBHOOK_SECRET,
            port=WEBHOOK_PORT if sim_port and port_free(WEBHOOK_PORT) else 0))
        env = app_environment(storage, simulators, {
            "NOTIFY_WEBHOOK_URL": webhook.url, "NOTIFY_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
            **(settings or {})})
        api = stack.enter_context(functions(env, port, host=host))
        if seed_data:
            seed_demo(api)
            seed_history(storage)
        yield Stack(api=api, storage=storage, simulators=simulators, env=env, webhook=webhook)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the app locally on embedded defaults.")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument(
        "--in-memory",
        action="store_true",
        help="keep Azurite's data in memory instead of .local/azurite",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore", "azure", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with run_stack(port=args.port, in_memory=args.in_memory) as stack:
        urls = stack.simulators.urls
        print(
            f"""
MSP licensing is running on this machine (Ctrl-C stops everything).

  functions     {stack.api}/   (host: {"func start" if shutil.which("func") else "local runner"})
  OpenAPI       {stack.api}/openapi.json
  Console       {stack.api}/console
  Azurite       {stack.storage.split("QueueEndpoint=")[1].split(";")[0]} (queues)
  Stellr sim    {urls.synnex_api_base_url}   token {urls.synnex_token_url}
  Entra sim     {urls.graph_authority_host}
  Graph sim     {urls.graph_base_url}
  webhook       {stack.webhook.url if stack.webhook else "-"}   (prints each notification)
  CA            {stack.simulators.ca_file}

Seeded: MSP org 'northwind' (sandbox Synnex credentials, licencing_choose_subscription=1
cascading) and customer org 'contoso' (tenant {seed.CONTOSO_TENANT_ID}, Synnex customer
{seed.CONTOSO_CUSTOMER_NO}, an earlier Business Premium purchase through
{seed.SPB_ANNUAL_SUBSCRIPTION_ID}). The README walks through every route from here.
""",
            flush=True,
        )
        stopped.wait()
        print("stopping...", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
