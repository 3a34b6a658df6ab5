"""Start both simulators on four HTTPS ports, one per real host, and expose them in-process.

Each simulated host keeps its real paths, so the app needs nothing but its usual settings:

| setting | serves |
|---|---|
| `SYNNEX_API_BASE_URL` | Stellr API: `/api/v1/...` |
| `SYNNEX_TOKEN_URL` | Stellr SSO: `/oauth2/v1/token` |
| `GRAPH_AUTHORITY_HOST` | Entra: `/{tenant}/v2.0/.well-known/...`, `/{tenant}/oauth2/v2.0/token` |
| `GRAPH_BASE_URL` | Graph: `/v1.0/...` |

Every port also answers the simulator-only admin routes (`/_sim/...`) of its simulator.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import TypeAdapter

from .faults import FaultRule
from .graph import GraphSimulator
from .pki import PkiFiles, ensure_pki
from .scheduler import Scheduler
from .seed import World, build_world
from .stellr import StellrSimulator
from .transport import SimServer, server_ssl_context

logger = logging.getLogger(__name__)

STATE_FILE_VERSION = 1
_WORLD = TypeAdapter(World)


@dataclass(frozen=True)
class SimulatorUrls:
    synnex_api_base_url: str
    synnex_token_url: str
    graph_authority_host: str
    graph_base_url: str

    def as_env(self) -> dict[str, str]:
        """The app settings that point the app at the simulators."""
        return {
            "SYNNEX_API_BASE_URL": self.synnex_api_base_url,
            "SYNNEX_TOKEN_URL": self.synnex_token_url,
            "GRAPH_AUTHORITY_HOST": self.graph_authority_host,
            "GRAPH_BASE_URL": self.graph_base_url,
        }


class Simulators:
    """Running simulators: URLs, state accessors (`.stellr`, `.graph`), faults, shutdown."""

    def __init__(
        self,
        *,
        stellr: StellrSimulator,
        graph: GraphSimulator,
        scheduler: Scheduler,
        servers: Sequence[SimServer],
        urls: SimulatorUrls,
        pki: PkiFiles,
        state_file: Path | None,
    ) -> None:
        self.stellr = stellr
        self.graph = graph
        self.scheduler = scheduler
        self.urls = urls
        self.pki = pki
        self._servers = list(servers)
        self._state_file = state_file
        self._closed = False

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    def env(self) -> dict[str, str]:
        """App settings plus `SSL_CERT_FILE` (certifi's roots + the simulator CA)."""
        return {**self.urls.as_env(), "SSL_CERT_FILE": str(self.pki.bundle_file)}

    def set_faults(
        self,
        *,
        stellr: Iterable[FaultRule] | None = None,
        graph: Iterable[FaultRule] | None = None,
        seed: int | None = None,
    ) -> None:
        """Replace the fault rules of the simulators named (an empty list clears them)."""
        if stellr is not None:
            self.stellr.set_faults(stellr, seed=seed)
        if graph is not None:
            self.graph.set_faults(graph, seed=seed)

    def request_counts(self) -> dict[str, dict[str, int]]:
        return {"stellr": self.stellr.request_counts(), "graph": self.graph.request_counts()}

    def reset(self) -> None:
        """Both simulators back to their initial world, counters and faults cleared."""
        self.stellr.reset()
        self.graph.reset()

    def close(self) -> None:
        """Stop every server; with a state file, apply pending changes and save first."""
        if self._closed:
            return
        self._closed = True
        # In parallel: each stop waits up to one poll interval for its serving loop.
        stoppers = [threading.Thread(target=server.stop) for server in self._servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if self._state_file is not None:
            save_state(self._state_file, self)
            logger.info("event=state_saved path=%s", self._state_file)

    def __enter__(self) -> Simulators:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_simulators(
    pki_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    ports: int | Sequence[int] = 0,
    provisioning_delay: float = 5.0,
    seat_change_delay: float = 2.0,
    seed: int = 0,
    environment: str = "sandbox",
    state_file: str | os.PathLike[str] | None = None,
    world: World | None = None,
    stellr_faults: Iterable[FaultRule] = (),
    graph_faults: Iterable[FaultRule] = (),
) -> Simulators:
    """Start the Stellr and Entra/Graph simulators and return once they accept connections.

    `ports`: 0 for four free ports, a base port P for P..P+3 (Stellr API, Stellr SSO, Entra,
    Graph), or four explicit ports. `seat_change_delay`: seconds until a `changeSeats`
    operation completes; `provisioning_delay`: seconds from then until the tenant shows the
    seats. `seed` drives fault injection. `world` replaces the seeded world; `state_file`
    loads the world from that file when it exists and saves it there on `close()`.
    Raises OSError when a port is taken.
    """
    pki = ensure_pki(pki_dir)
    state_path = Path(state_file) if state_file is not None else None
    if world is None:
        world = load_state(state_path) if state_path and state_path.is_file() else build_world()

    scheduler = Scheduler()
    graph = GraphSimulator(
        world.graph,
        seat_provisioning_delay_seconds=provisioning_delay,
        scheduler=scheduler,
        faults=graph_faults,
        seed=seed,
    )
    stellr = StellrSimulator(
        world.stellr,
        environment=environment,
        seat_change_delay_seconds=seat_change_delay,
        on_seat_change=graph.provision_seats,
        scheduler=scheduler,
        faults=stellr_faults,
        seed=seed,
    )

    port_list = _ports(ports)
    context = server_ssl_context(str(pki.cert_file), str(pki.key_file))
    plan: list[tuple[str, StellrSimulator | GraphSimulator, str]] = [
        ("stellr-api", stellr, "api"),
        ("stellr-sso", stellr, "sso"),
        ("entra", graph, "entra"),
        ("graph", graph, "graph"),
    ]
    servers: list[SimServer] = []
    try:
        for (name, simulator, surface), port in zip(plan, port_list, strict=True):
            servers.append(SimServer(host, port, _app(simulator, surface), context, name))
    except BaseException:
        for server in servers:
            server.server_close()
        raise

    public_host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    base = [f"https://{public_host}:{server.port}" for server in servers]
    urls = SimulatorUrls(
        synnex_api_base_url=base[0],
        synnex_token_url=f"{base[1]}/oauth2/v1/token",
        graph_authority_host=base[2],
        graph_base_url=base[3],
    )
    graph.graph_base_url = urls.graph_base_url
    for server in servers:
        server.start()
    settings = " ".join(f"{name}={value}" for name, value in urls.as_env().items())
    logger.info("event=simulators_started %s", settings)
    return Simulators(
        stellr=stellr,
        graph=graph,
        scheduler=scheduler,
        servers=servers,
        urls=urls,
        pki=pki,
        state_file=state_path,
    )


def _app(simulator: StellrSimulator | GraphSimulator, surface: str) -> Any:
    return lambda request: simulator.handle(surface, request)


def _ports(ports: int | Sequence[int]) -> list[int]:
    if isinstance(ports, int):
        return [0] * 4 if ports == 0 else [ports + offset for offset in range(4)]
    if len(ports) != 4:
        raise ValueError("ports: 0, a base port, or four ports (api, sso, entra, graph)")
    return list(ports)


# --- state file ----------------------------------------------------------------------------


def save_state(path: Path, simulators: Simulators) -> None:
    """Write both worlds as JSON; queued changes (seat changes, provisioning) land first."""
    with simulators.scheduler.lock:
        simulators.scheduler.run_all()
        world = World(simulators.stellr.snapshot(), simulators.graph.snapshot())
    payload = {"version": STATE_FILE_VERSION, "world": _WORLD.dump_python(world, mode="json")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    tmp.replace(path)


def load_state(path: Path) -> World:
    """Read a state file written by `save_state`; raises ValueError when it is not one."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(payload, dict) or payload.get("version") != STATE_FILE_VERSION:
        raise ValueError(f"{path} is not a version {STATE_FILE_VERSION} simulator state file")
    return _WORLD.validate_python(payload["world"])
