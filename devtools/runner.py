"""A development stand-in for the Azure Functions host, for machines without Core Tools.

It imports `function_app`, serves every HTTP function at http://127.0.0.1:7071/api/<route> with
the same routes and methods, and runs every queue trigger against the storage account of
AzureWebJobsStorage (Azurite) as the host would, honouring host.json: batch size and
newBatchThreshold (how many run at once), visibilityTimeout after a failure, maxDequeueCount
then `<queue>-poison`, maxPollingInterval, and messageEncoding.

Not a production host: function keys are not checked (neither does `func start`), and there is
no scale-out, no Application Insights and no lease renewal for long-running functions.

    python -m devtools.runner [--port 7071]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import re
import signal
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from azure.functions.queue import QueueMessage

log = logging.getLogger("devtools.runner")

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class QueueOptions:
    """The `extensions.queues` section of host.json, with the host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 2.0
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, path: Path) -> QueueOptions:
        queues = json.loads(path.read_text()).get("extensions", {}).get("queues", {})
        return cls(
            batch_size=int(queues.get("batchSize", 16)),
            new_batch_threshold=int(queues.get("newBatchThreshold", 8)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=_timespan(queues.get("visibilityTimeout", "00:00:00")),
            max_polling_interval=_timespan(queues.get("maxPollingInterval", "00:00:02")),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        )


def _timespan(value: str | int | float) -> float:
    """Seconds in a host.json timespan ("hh:mm:ss") or a number of milliseconds."""
    if isinstance(value, int | float):
        return float(value) / 1000
    hours, minutes, seconds = value.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds)).total_seconds()


@dataclass(frozen=True)
class HttpRoute:
    name: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Callable[[func.HttpRequest], func.HttpResponse]


def _route_pattern(template: str) -> re.Pattern[str]:
    """`orgs/{org_id}/variables/{name}` → a regex with one named group per parameter."""
    parts = re.split(r"(\{[^}]+\})", template.strip("/"))
    regex = "".join(
        f"(?P<{part[1:-1].split(':')[0]}>[^/]+)" if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^/api/{regex}/?$")


_indexed: weakref.WeakKeyDictionary[func.FunctionApp, list[func.Function]] = (
    weakref.WeakKeyDictionary()
)
_indexed_lock = threading.Lock()


def indexed_functions(app: func.FunctionApp) -> list[func.Function]:
    """`app.get_functions()`, called once per app and process and then reused.

    The worker indexes an app once; azure-functions (1.26) raises ValueError ("does not have a
    unique function name") on a second `get_functions()`, so a process that starts the runner
    twice (a test session with several stacks) or also indexes the app itself goes through here.
    """
    with _indexed_lock:
        functions = _indexed.get(app)
        if functions is None:
            functions = app.get_functions()
            _indexed[app] = functions
        return functions


class LocalHost:
    """Indexes `function_app` like the worker does, then serves and polls."""

    def __init__(self, app: func.FunctionApp, options: QueueOptions, connection: str) -> None:
        self.options = options
        self.routes: list[HttpRoute] = []
        self.queue_functions: dict[str, Callable[[func.QueueMessage], None]] = {}
        for function in indexed_functions(app):
            trigger = function.get_bindings()[0].get_dict_repr()
            name = str(function.get_function_name())
            if trigger["type"] == "httpTrigger":
                self.routes.append(
                    HttpRoute(
                        name=name,
                        methods=frozenset(
                            str(getattr(m, "value", m)).upper()
                            for m in trigger.get("methods") or ["GET", "POST"]
                        ),
                        pattern=_route_pattern(str(trigger.get("route") or name)),
                        handler=function.get_user_function(),
                    )
                )
            elif trigger["type"] == "queueTrigger":
                self.queue_functions[trigger["queueName"]] = function.get_user_function()
        self._connection = connection
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pollers: list[threading.Thread] = []
        self._pools: list[tuple[ThreadPoolExecutor, threading.Semaphore, int]] = []
        self._server: ThreadingHTTPServer | None = None

    # --- HTTP ----------------------------------------------------------------------------

    def serve_http(self, host: str, port: int) -> ThreadingHTTPServer:
        local = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                local._dispatch(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle

            def __getattr__(self, name: str) -> Callable[[], None]:
                # Any other method (OPTIONS, TRACE, ...) gets the same 404/405 problem answer
                # as a known one, not http.server's HTML 501 (a 5xx the host never gives).
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s", format % args)

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
        thread.start()
        self._server = server
        self._threads.append(thread)
        return server

    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        path = unquote(split.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        matched = [(route, m) for route in self.routes if (m := route.pattern.match(path))]
        allowed = [(route, m) for route, m in matched if request.command in route.methods]
        if not allowed:
            status = 405 if matched else 404
            self._write(
                request,
                func.HttpResponse(
                    json.dumps(
                        {
                            "type": "about:blank",
                            "title": "Not Found" if status == 404 else "Method Not Allowed",
                            "status": status,
                            "detail": f"no function for {request.command} {path}",
                        }
                    ),
                    status_code=status,
                    mimetype="application/problem+json",
                ),
            )
            return
        route, match = allowed[0]
        req = func.HttpRequest(
            method=request.command,
            url=f"http://{request.headers.get('Host', 'localhost')}{request.path}",
            headers=dict(request.headers.items()),
            params=dict(parse_qsl(split.query, keep_blank_values=True)),
            route_params=match.groupdict(),
            body=body,
        )
        try:
            response = route.handler(req)
        except Exception:
            log.exception("function %s raised", route.name)
            response = func.HttpResponse("", status_code=500)
        self._write(request, response)

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, response: func.HttpResponse) -> None:
        payload = response.get_body() or b""
        request.send_response(response.status_code)
        headers = {k.lower(): v for k, v in dict(response.headers).items()}
        if payload and "content-type" not in headers:
            request.send_header("Content-Type", f"{response.mimetype}; charset={response.charset}")
        for name, value in dict(response.headers).items():
            if name.lower() != "content-length":
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)

    # --- queues --------------------------------------------------------------------------

    def start_queues(self) -> None:
        from azure.storage.queue import QueueServiceClient

        service = QueueServiceClient.from_connection_string(self._connection)
        # The host runs up to batchSize + newBatchThreshold messages of one queue at once.
        workers = self.options.batch_size + self.options.new_batch_threshold
        for queue_name, function in self.queue_functions.items():
            pool = ThreadPoolExecutor(workers, thread_name_prefix=queue_name)
            in_flight = threading.Semaphore(workers)
            thread = threading.Thread(
                target=self._poll,
                args=(service, queue_name, function, pool, in_flight),
                name=f"poll-{queue_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            self._pollers.append(thread)
            self._pools.append((pool, in_flight, workers))

    def _poll(
        self,
        service: Any,
        queue_name: str,
        function: Callable[[func.QueueMessage], None],
        pool: ThreadPoolExecutor,
        in_flight: threading.Semaphore,
    ) -> None:
        from azure.core.exceptions import AzureError, ResourceExistsError

        queue = service.get_queue_client(queue_name)
        poison = service.get_queue_client(f"{queue_name}-poison")
        for client in (queue, poison):
            try:
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
            except AzureError as exc:
                log.warning("create queue %s failed: %s", client.queue_name, exc)
        idle = 0.1
        while not self._stop.is_set():
            try:
                # The host keeps a message invisible while it runs (10 minutes, renewed).
                messages = list(
                    queue.receive_messages(
                        messages_per_page=self.options.batch_size,
                        visibility_timeout=600,
                        max_messages=self.options.batch_size,
                    )
                )
            except AzureError as exc:
                log.warning("poll %s failed: %s", queue_name, exc)
                messages = []
            if not messages:
                self._stop.wait(idle)
                idle = min(idle * 2, self.options.max_polling_interval)
                continue
            idle = 0.1
            for message in messages:
                if not self._take_slot(in_flight):
                    self._hand_back(queue, message)
                    continue
                try:
                    pool.submit(
                        self._run_one, queue, poison, queue_name, function, message, in_flight
                    )
                except RuntimeError:  # the pool was shut down: the host is stopping
                    in_flight.release()
                    self._hand_back(queue, message)

    def _take_slot(self, in_flight: threading.Semaphore) -> bool:
        """Wait for a free worker; False once the host is stopping."""
        while not self._stop.is_set():
            if in_flight.acquire(timeout=0.2):
                return True
        return False

    @staticmethod
    def _hand_back(queue: Any, message: Any) -> None:
        """A message received but not run: visible again at once, not after its lease."""
        from azure.core.exceptions import AzureError

        with contextlib.suppress(AzureError):
            queue.update_message(message, pop_receipt=message.pop_receipt, visibility_timeout=0)

    def _run_one(
        self,
        queue: Any,
        poison: Any,
        queue_name: str,
        function: Callable[[func.QueueMessage], None],
        message: Any,
        in_flight: threading.Semaphore,
    ) -> None:
        try:
            if self._stop.is_set():
                self._hand_back(queue, message)
                return
            text = message.content
            body = text.encode() if isinstance(text, str) else bytes(text)
            if self.options.message_encoding == "base64":
                try:
                    body = base64.b64decode(body, validate=True)
                except ValueError:
                    log.error(
                        "message %s on %s is not base64: moved to poison", message.id, queue_name
                    )
                    self._to_poison(queue, poison, message)
                    return
            queue_message = QueueMessage(  # type: ignore[no-untyped-call]  # untyped SDK
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                pop_receipt=message.pop_receipt,
            )
            try:
                function(queue_message)
            except Exception:
                log.exception(
                    "function on %s failed (dequeue count %s)", queue_name, message.dequeue_count
                )
                if message.dequeue_count >= self.options.max_dequeue_count:
                    log.error(
                        "message %s moved to %s-poison after %s attempts",
                        message.id,
                        queue_name,
                        message.dequeue_count,
                    )
                    self._to_poison(queue, poison, message)
                else:
                    queue.update_message(
                        message,
                        pop_receipt=message.pop_receipt,
                        visibility_timeout=int(self.options.visibility_timeout),
                    )
                return
            queue.delete_message(message)
        except Exception:
            log.exception("runner could not settle message %s on %s", message.id, queue_name)
        finally:
            in_flight.release()

    @staticmethod
    def _to_poison(queue: Any, poison: Any, message: Any) -> None:
        poison.send_message(message.content)
        queue.delete_message(message)

    def stop(self, drain_seconds: float = 15.0) -> None:
        """Stop serving and polling, then wait up to `drain_seconds` for running functions.

        Waiting matters in a process that starts another host afterwards (a test session):
        a function still running would otherwise read the next host's settings.
        """
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        deadline = time.monotonic() + drain_seconds
        for thread in self._pollers:
            thread.join(max(0.0, deadline - time.monotonic()))
        for pool, in_flight, workers in self._pools:
            pool.shutdown(wait=False)
            for _ in range(workers):
                if not in_flight.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    log.warning("functions still running after %ss; not waiting", drain_seconds)
                    return


def load_local_settings(path: Path) -> None:
    """Put local.settings.json `Values` into the environment, as Core Tools does, without
    overriding what the environment already sets."""
    if not path.exists():
        return
    values = json.loads(path.read_text()).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    load_local_settings(args.settings)
    connection = os.environ.get("AzureWebJobsStorage")
    if not connection:
        raise SystemExit("AzureWebJobsStorage is not set (local.settings.json or the environment)")

    import function_app

    local = LocalHost(function_app.app, QueueOptions.from_host_json(ROOT / "host.json"), connection)
    local.serve_http(args.host, args.port)
    local.start_queues()
    print(
        f"functions listening on http://{args.host}:{args.port}/api/ "
        f"({len(local.routes)} HTTP, {len(local.queue_functions)} queue)",
        flush=True,
    )

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    local.stop()


if __name__ == "__main__":
    main()
