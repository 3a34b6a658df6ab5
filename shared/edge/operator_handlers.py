"""The operator's functions: the listings, retry, the reconciliation and the console
page. Like `shared.edge.handlers`, imported on a function's first call."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote

import azure.functions as func

from shared.bootstrap import container
from shared.edge.web import handles_errors, json_response, problem
from shared.use_cases import operator, reconcile, retry

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"


def _param(req: func.HttpRequest, name: str) -> str | None:
    """A query parameter; absent and blank are the same."""
    value = req.params.get(name)
    return value if value is not None and value.strip() else None


@handles_errors
def list_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    page = operator.list_events(
        ledger=c.ledger, orgs=c.orgs, org_id=_param(req, "org_id"),
        status=_param(req, "status"), since=_param(req, "since"), limit=_param(req, "limit"),
        page=_param(req, "next"), executor=c.lookup_executor,
    )
    return json_response(page)


@handles_errors
def retry_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    event_id = req.route_params["event_id"]
    try:
        status = retry.retry_event(container().workflow.deps, event_id)
    except retry.RetryConflict as exc:
        return problem(409, str(exc), kind="conflict")
    return json_response(status, status=202,
                         headers={"Location": f"/api/onboarding/{quote(event_id, safe='')}"})


@handles_errors
def get_purchases(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(operator.list_purchases(
        ledger=c.ledger, orgs=c.orgs, org_id=req.route_params["org_id"],
        first=_param(req, "from"), last=_param(req, "to"), now=datetime.now(UTC),
    ))


@handles_errors
def run_reconciliation(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    found = reconcile.reconcile(ledger=c.ledger, orgs=c.orgs, graph=lambda: c.graph,
                                now=datetime.now(UTC), notifications=c.notifications)
    return json_response(found)


def reconcile_purchases(timer: func.TimerRequest) -> None:
    c = container()
    if timer.past_due:
        log.info("reconcile: the timer is past due; running now")
    reconcile.reconcile(ledger=c.ledger, orgs=c.orgs, graph=lambda: c.graph,
                        now=datetime.now(UTC), notifications=c.notifications)


# --- the console page ----------------------------------------------------------------------


@cache
def _console_parts() -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]  # three files, three strings
        (CONSOLE_DIR / name).read_text(encoding="utf-8")
        for name in ("index.html", "console.css", "console.js")
    )


def console_page(nonce: str) -> str:
    """The page with its style and script inlined (one request, nothing else to authorise),
    each allowed by this response's nonce only. It holds no key: the script takes the one
    the page was opened with from the address bar."""
    html, css, js = _console_parts()
    return (html.replace("{{nonce}}", nonce)
            .replace("/*{{style}}*/", css)
            .replace("/*{{script}}*/", js))


def get_console(req: func.HttpRequest) -> func.HttpResponse:
    nonce = secrets.token_urlsafe(18)
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
              "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return func.HttpResponse(
        console_page(nonce), status_code=200, mimetype="text/html", charset="utf-8",
        headers={
            "Content-Security-Policy": policy,
            # The key may be in the address (?code=): never send it on to anyone.
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )
