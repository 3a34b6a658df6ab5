"""HTTPS plumbing shared by the simulators: request and response values, a router, a server.

The simulators are written as plain functions from `Request` to `Response` so that their rules
can be read (and reasoned about) without the socket code; this module is the only place that
knows about `http.server` and `ssl`.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)


class BadRequestBody(ValueError):
    """The request body is not the JSON or form the route expects."""


@dataclass(frozen=True)
class Request:
    """One HTTP request as the simulators see it (header names lower-cased)."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """First value of a query parameter, or None when absent."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON; raises `BadRequestBody` when it is not."""
        try:
            return json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequestBody(str(exc)) from exc

    def form(self) -> dict[str, str]:
        """The body parsed as `application/x-www-form-urlencoded` (first value per key)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestBody(str(exc)) from exc
        return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, json.dumps(payload).encode("utf-8"), merged)


# --- routing -------------------------------------------------------------------------------

RouteHandler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    surfaces: frozenset[str]
    handler: RouteHandler
    regex: re.Pattern[str]
    admin: bool = False

    @property
    def key(self) -> str:
        """The name requests are counted under, e.g. `GET /api/v1/cloud/customers`."""
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    params: dict[str, str]


class Router:
    """Maps (surface, method, path) to a handler; `{name}` in a template is one path segment."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: RouteHandler,
        *,
        surfaces: frozenset[str],
        admin: bool = False,
    ) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append(
            Route(method, template, surfaces, handler, re.compile(f"^{pattern}$"), admin)
        )

    def match(self, surface: str, method: str, path: str) -> RouteMatch | None:
        for route in self._routes:
            if surface not in route.surfaces or route.method != method:
                continue
            found = route.regex.match(path)
            if found:
                # Segments are matched raw and decoded afterwards, so an encoded "/" inside a
                # UPN can never change which route is chosen.
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return RouteMatch(route, params)
        return None


# --- server --------------------------------------------------------------------------------

App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services and httpx's pool expect
    server_version = "simulator"
    sys_version = ""
    # Idle keep-alive connections give their thread back instead of holding it forever.
    timeout = 30
    # Headers and body leave in separate writes; with Nagle on, each answer would wait for
    # the client's delayed ACK (~40 ms), which would dwarf every benchmark.
    disable_nagle_algorithm = True
    server: SimServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception:  # a simulator bug must show up as a 500, not a dropped connection
            logger.exception(
                "event=simulator_error server=%s path=%s", self.server.name, split.path
            )
            response = json_response(500, {"error": "simulator_error"})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("server=%s %s", self.server.name, format % args)


class SimServer(ThreadingHTTPServer):
    """A TLS `ThreadingHTTPServer` that serves one app on one port in a background thread."""

    daemon_threads = True

    def __init__(
        self, host: str, port: int, app: App, ssl_context: ssl.SSLContext, name: str
    ) -> None:
        super().__init__((host, port), _Handler)
        # The handshake is left to the per-connection thread (do_handshake_on_connect=False),
        # so a client that stalls or rejects the certificate cannot block accept().
        self.socket = ssl_context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.app = app
        self.name = name
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sim-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject the certificate or drop a keep-alive connection are routine here.
        logger.debug("server=%s connection error from %s", self.name, client_address, exc_info=True)


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
