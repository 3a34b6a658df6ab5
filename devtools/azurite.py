"""Azurite, started one way for the tests, the local stack, the benchmarks and CI.

    .venv/bin/python -m devtools.azurite     # in memory, free ports; prints its connection
                                             # string, then runs until stopped

Azurite comes from `node_modules` (`npm ci`, which `scripts/setup` runs), else from PATH.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's published development key; not a secret.
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# Where Storage Explorer looks for a local Azurite.
DEFAULT_PORTS = (10000, 10001, 10002)


def connection_string(blob: int, queue: int, table: int, host: str = "127.0.0.1") -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{blob}/{ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue}/{ACCOUNT};"
        f"TableEndpoint=http://{host}:{table}/{ACCOUNT};"
    )


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, seconds: float = 30, *, process: subprocess.Popen[bytes] | None = None,
    errors: IO[bytes] | None = None,
) -> None:
    """Wait until something listens on `port`; RuntimeError after `seconds`, or at once when
    `process` (the one meant to listen) has exited, with the end of its `errors` output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not port_free(port):
            return
        if process is not None and process.poll() is not None:
            error = ""
            if errors is not None:
                errors.seek(0)
                error = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"process {process.pid} exited with {process.returncode} "
                               f"before listening on port {port}: {error.strip()}")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds}s")


def binary() -> Path:
    """The Azurite command; RuntimeError (never a skip) when there is none."""
    local = ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return local
    found = shutil.which("azurite")
    if found:
        return Path(found)
    raise RuntimeError("Azurite is missing: run scripts/setup (it runs npm ci)")


@dataclass
class RunningAzurite:
    connection_string: str
    process: subprocess.Popen[bytes]
    _errors: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._errors.close()


def start(*, location: Path | None = None, free_ports: bool = True) -> RunningAzurite:
    """Start Azurite: in memory unless `location` is given; on free ports, or (not
    `free_ports`) on Storage Explorer's 10000-10002 when those are free. Raises RuntimeError
    when it cannot start."""
    ports = list(DEFAULT_PORTS)
    if free_ports or not all(port_free(p) for p in ports):
        ports = [free_port() for _ in range(3)]
    command = [str(binary()), "--silent", "--skipApiVersionCheck", "--disableTelemetry",
               "--loose"]
    command += ["--location", str(location)] if location else ["--inMemoryPersistence"]
    for service, port in zip(("blob", "queue", "table"), ports, strict=True):
        command += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
    # Its errors go to a file, not a pipe: a pipe nobody reads would block Azurite once full.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for Azurite's lifetime; closed by stop)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    running = RunningAzurite(connection_string(*ports), process, errors)
    try:
        for port in ports:
            wait_for_port(port, process=process, errors=errors)
    except BaseException:
        running.stop()
        raise
    return running


@contextmanager
def azurite(*, location: Path | None = None, free_ports: bool = True) -> Iterator[str]:
    """`start`, as a context that stops it; yields the connection string."""
    running = start(location=location, free_ports=free_ports)
    try:
        yield running.connection_string
    finally:
        running.stop()


def main() -> None:
    running = start()
    print(running.connection_string, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        running.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
