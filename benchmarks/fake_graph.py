"""A lean Entra + Graph over HTTPS for the throughput benchmark: every answer after a fixed delay.

The full simulator (`devtools/simulators`) models seat accounting faithfully but looks users
up by scanning the tenant, so with thousands of hires its own cost would grow with the run and
blur what is measured. This one answers the four calls a free-seat onboarding makes (OIDC
discovery, a client-credentials token, `GET /users/{id}`, `POST .../assignLicense`) from
dicts, after `--latency-ms`, with plenty of seats. It runs in its own process, so its CPU is
not the app's, and counts requests per route (`GET /_fake/stats`).

    python -m benchmarks.fake_graph --latency-ms 10 --pki .local/pki
    # prints one JSON line: {"url": "https://127.0.0.1:PORT", "ca_bundle": "..."}
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

from devtools.simulators.entra import discovery_document
from devtools.simulators.pki import ensure_pki
from devtools.simulators.transport import (
    Request,
    Response,
    SimServer,
    json_response,
    server_ssl_context,
)

SEATS = 1_000_000
_NAMESPACE = uuid.UUID("4f1d2c3b-5a69-4e7f-8a1b-2c3d4e5f6a7b")


class FakeGraph:
    """Users appear on first lookup (usage location US, no licences); seats never run out."""

    def __init__(self, latency_seconds: float) -> None:
        self.latency = latency_seconds
        self.counts: Counter[str] = Counter()
        self._users: dict[str, dict[str, Any]] = {}
        self._assigned: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["_fake", "stats"]:
            with self._lock:
                return json_response(200, {"requests": dict(self.counts)})
        key = self._route(request.method, parts)
        with self._lock:
            self.counts[key] += 1
        if self.latency:
            time.sleep(self.latency)
        base = f"https://{request.header('host') or '127.0.0.1'}"
        if key == "GET discovery":
            return json_response(200, discovery_document(base, parts[0], base[8:]))
        if key == "POST token":
            return json_response(200, {"token_type": "Bearer", "expires_in": 3599,
                                       "ext_expires_in": 3599,
                                       "access_token": f"fake-{uuid.uuid4().hex}"})
        if key == "GET user":
            return json_response(200, self._user(parts[2]))
        if key == "POST assignLicense":
            return self._assign(request, parts[2])
        if key == "GET subscribedSkus":
            return json_response(200, {"value": self._skus()})
        return json_response(404, {"error": {"code": "NotFound", "message": request.path}})

    @staticmethod
    def _route(method: str, parts: list[str]) -> str:
        if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return f"{method} discovery"
        if parts[1:] == ["oauth2", "v2.0", "token"]:
            return f"{method} token"
        if parts[:2] == ["v1.0", "users"] and len(parts) == 3:
            return f"{method} user"
        if parts[:2] == ["v1.0", "users"] and parts[3:] == ["assignLicense"]:
            return f"{method} assignLicense"
        if parts == ["v1.0", "subscribedSkus"]:
            return f"{method} subscribedSkus"
        return f"{method} (unmatched)"

    def _user(self, key: str) -> dict[str, Any]:
        with self._lock:
            user = self._users.get(key)
            if user is None:
                user_id = str(uuid.uuid5(_NAMESPACE, key))
                user = {"id": user_id, "userPrincipalName": key, "usageLocation": "US",
                        "assignedLicenses": []}
                self._users[key] = self._users[user_id] = user
            return user

    def _assign(self, request: Request, user_key: str) -> Response:
        body = request.json()
        user = self._user(user_key)
        with self._lock:
            for item in body.get("addLicenses", []):
                sku = str(item["skuId"]).lower()
                if not any(held["skuId"] == sku for held in user["assignedLicenses"]):
                    user["assignedLicenses"].append({"skuId": sku, "disabledPlans": []})
                    self._assigned[sku] += 1
        return json_response(200, user)

    def _skus(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"skuId": sku, "skuPartNumber": "SPB", "appliesTo": "User",
                 "capabilityStatus": "Enabled", "consumedUnits": used,
                 "prepaidUnits": {"enabled": SEATS, "suspended": 0, "warning": 0, "lockedOut": 0}}
                for sku, used in self._assigned.items()
            ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pki", default=".local/pki")
    args = parser.parse_args(argv)
    pki = ensure_pki(args.pki)
    server = SimServer("127.0.0.1", args.port, FakeGraph(args.latency_ms / 1000),
                       server_ssl_context(str(pki.cert_file), str(pki.key_file)), "fake-graph")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(json.dumps({"url": f"https://127.0.0.1:{server.port}",
                      "ca_bundle": str(pki.bundle_file)}), flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
