"""Start Azurite for the tests, on free ports, in memory; or use the one named by the env."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Azurite's published development account; not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    connection_string: str
    process: subprocess.Popen[bytes] | None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def connection_string(blob: int, queue: int, table: int, host: str = "127.0.0.1") -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{blob}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue}/{DEV_ACCOUNT};"
        f"TableEndpoint=http://{host}:{table}/{DEV_ACCOUNT};"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Azurite did not start listening on port {port}")


def start_azurite() -> Azurite:
    """Azurite for a test session. Raises (so tests fail, never skip) when none can be had."""
    given = os.environ.get("AZURITE_CONNECTION_STRING")
    if given:
        return Azurite(given, None)
    binary = ROOT / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        found = shutil.which("azurite")
        if not found:
            raise RuntimeError(
                "Azurite is needed for these tests: run `npm ci` in the repository "
                "(or set AZURITE_CONNECTION_STRING)"
            )
        binary = Path(found)
    blob, queue, table = _free_port(), _free_port(), _free_port()
    process = subprocess.Popen(
        [
            str(binary), "--silent", "--inMemoryPersistence", "--skipApiVersionCheck",
            "--disableTelemetry", "--loose",
            "--blobHost", "127.0.0.1", "--blobPort", str(blob),
            "--queueHost", "127.0.0.1", "--queuePort", str(queue),
            "--tableHost", "127.0.0.1", "--tablePort", str(table),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    try:
        for port in (blob, queue, table):
            _wait_for(port, deadline)
    except RuntimeError:
        process.kill()
        raise
    return Azurite(connection_string(blob, queue, table), process)


def unique_name(prefix: str) -> str:
    """A throwaway table name: letters and digits only, starting with a letter."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"
