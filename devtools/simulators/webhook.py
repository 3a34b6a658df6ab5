"""A webhook receiver for the app's notifications: prints each one and checks its signature.

Development only. Plain HTTP on 127.0.0.1 (the app accepts an http URL for this machine only).
`python -m devtools.simulators.webhook --secret <NOTIFY_WEBHOOK_SECRET>` runs it alone;
`scripts/run-local` starts one and points NOTIFY_WEBHOOK_URL at it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/notify"


class WebhookReceiver:
    """Receives POSTs on PATH; keeps each as (signature_ok, body) and prints a line."""

    def __init__(self, *, secret: str | None, host: str = "127.0.0.1", port: int = 0,
                 echo: Callable[[str], None] = print) -> None:
        self.secret = secret
        self.received: list[tuple[bool, dict[str, Any]]] = []
        self._echo = echo
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                ok = receiver.verify(raw, self.headers.get("X-Signature"))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unreadable": raw[:200].decode(errors="replace")}
                receiver.record(ok, body)
                self.send_response(204 if self.path == PATH else 404)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per notification is printed instead

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="webhook-receiver")

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}{PATH}"

    def verify(self, raw: bytes, header: str | None) -> bool:
        """Whether `X-Signature` is sha256=<hex HMAC-SHA256 of the body with the secret>."""
        if not self.secret or not header:
            return False
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)

    def record(self, ok: bool, body: dict[str, Any]) -> None:
        with self._lock:
            self.received.append((ok, body))
        check = "signature ok" if ok else "SIGNATURE MISSING OR WRONG"
        if body.get("type") == "message":  # NOTIFY_FORMAT=teams: an Adaptive Card
            texts = [b.get("text", "") for a in body.get("attachments", [])
                     for b in a.get("content", {}).get("body", []) if b.get("type") == "TextBlock"]
            line = " | ".join(texts)
        else:
            line = f"{body.get('kind')} event={body.get('event_id')}: {body.get('summary')}"
            for name, url in sorted((body.get("links") or {}).items()):
                line += f"\n    {name}: POST {url}"
        self._echo(f"[webhook] {check}: {line}")

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the app's webhook notifications.")
    parser.add_argument("--port", type=int, default=7199)
    parser.add_argument("--secret", help="NOTIFY_WEBHOOK_SECRET, to check X-Signature")
    args = parser.parse_args(argv)
    with WebhookReceiver(secret=args.secret, port=args.port) as receiver:
        print(f"webhook receiver on {receiver.url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
