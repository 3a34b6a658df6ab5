"""`python -m devtools.simulators`: run the Stellr and Entra/Graph simulators until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from . import seed
from .server import start_simulators


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.simulators",
        description="Development-only HTTPS simulators of TD SYNNEX Stellr, Entra and Graph.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8443,
        help="first of four ports: Stellr API, Stellr SSO, Entra, Graph; 0 = any free ports "
        "(default %(default)s)",
    )
    parser.add_argument("--pki", default=".local/pki", help="CA and certificate directory")
    parser.add_argument(
        "--seat-change-delay",
        type=float,
        default=2.0,
        help="seconds until a changeSeats operation completes (default %(default)s)",
    )
    parser.add_argument(
        "--provisioning-delay",
        type=float,
        default=5.0,
        help="seconds from a completed seat change until the tenant shows the seats "
        "(default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="fault-injection seed")
    parser.add_argument(
        "--environment",
        choices=("sandbox", "production"),
        default="sandbox",
        help="which Stellr credentials are accepted (default %(default)s)",
    )
    parser.add_argument(
        "--state-file", help="load the world from this JSON file if present; save it on exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGINT too: a shell starts background jobs with SIGINT ignored, which Python inherits.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    simulators = start_simulators(
        args.pki,
        host=args.host,
        ports=args.port,
        provisioning_delay=args.provisioning_delay,
        seat_change_delay=args.seat_change_delay,
        seed=args.seed,
        environment=args.environment,
        state_file=args.state_file,
    )
    try:
        print("Simulators running (development only, never production). App settings:")
        for name, value in simulators.env().items():
            print(f"  {name}={value}")
        print(f"  CA certificate: {simulators.ca_file}")
        sandbox = args.environment == "sandbox"
        client_id = seed.SANDBOX_CLIENT_ID if sandbox else seed.PRODUCTION_CLIENT_ID
        secret = seed.SANDBOX_CLIENT_SECRET if sandbox else seed.PRODUCTION_CLIENT_SECRET
        print("Simulator-only credentials (see devtools/README.md for the seeded world):")
        print(f"  Stellr {args.environment}: client_id={client_id} client_secret={secret}")
        print(f"  GRAPH_CLIENT_ID={seed.GRAPH_CLIENT_ID}")
        print(f"  GRAPH_CLIENT_SECRET={seed.GRAPH_CLIENT_SECRET}")
        print("Stop with Ctrl-C or SIGTERM.", flush=True)
        # wait() with a timeout keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        simulators.close()
        print("Simulators stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
