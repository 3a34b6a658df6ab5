"""A private CA and a localhost server certificate for the simulators, made with trustme.

Files written to the directory (reused when already there):

- `ca.pem`: the CA certificate. Trust it (e.g. `httpx.Client(verify=ssl_context_from(ca.pem))`).
- `server.pem`, `server-key.pem`: the certificate for `localhost`, `127.0.0.1` and `::1`.
- `bundle.pem`: certifi's public roots followed by `ca.pem`. `SSL_CERT_FILE` *replaces* the
  default trust store, so pointing it at `ca.pem` alone would break calls to real hosts; point
  it at `bundle.pem` instead.

The CA's private key is never written: once the server certificate is issued nobody needs it,
and not keeping it means trusting `ca.pem` can never let anyone mint certificates for other
hosts. To re-issue, delete the directory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import certifi
import trustme

SERVER_IDENTITIES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class PkiFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path
    bundle_file: Path


def ensure_pki(directory: str | os.PathLike[str]) -> PkiFiles:
    """Create (or reuse) the CA, server certificate and bundle in `directory`."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    files = PkiFiles(
        ca_file=root / "ca.pem",
        cert_file=root / "server.pem",
        key_file=root / "server-key.pem",
        bundle_file=root / "bundle.pem",
    )
    if not (files.ca_file.is_file() and files.cert_file.is_file() and files.key_file.is_file()):
        _issue(files)
    # Rebuilt every time so that a certifi upgrade reaches the bundle.
    certifi_roots = Path(certifi.where()).read_bytes()
    _write(files.bundle_file, certifi_roots.rstrip(b"\n") + b"\n" + files.ca_file.read_bytes())
    return files


def _issue(files: PkiFiles) -> None:
    ca = trustme.CA(organization_name="MSP licensing simulators (development only)")
    leaf = ca.issue_cert(*SERVER_IDENTITIES)
    _write(files.key_file, leaf.private_key_pem.bytes(), private=True)
    _write(files.cert_file, b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    # ca.pem goes last: its presence is what marks the set as complete.
    _write(files.ca_file, ca.cert_pem.bytes())


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write atomically, so a reader never sees half a PEM file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes files owner-only; only the key needs to stay that way.
        os.chmod(tmp, 0o600 if private else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
