"""Notifications (contract section 6): what a webhook receives, signed, and when a failed
delivery is tried again. No I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any, Literal

NotificationKind = Literal["purchase", "failure", "approval_needed", "reconciliation"]
KINDS: frozenset[str] = frozenset({"purchase", "failure", "approval_needed", "reconciliation"})
NotifyFormat = Literal["json", "teams"]

# A delivery that keeps failing is tried again after 30 s, doubling up to an hour between
# tries, and given up (logged) once this long has passed since the notification was raised.
RETRY_FIRST_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
GIVE_UP_AFTER = timedelta(hours=24)

_TITLES = {
    "purchase": "Licence seat bought",
    "failure": "Licence onboarding failed",
    "approval_needed": "Licence purchase awaits approval",
    "reconciliation": "Licence reconciliation",
}


def generic_body(message: dict[str, Any]) -> dict[str, Any]:
    """The generic JSON of the contract; `links` (approve, deny) only for approval_needed."""
    body = {key: message.get(key) for key in ("kind", "event_id", "org_id", "summary",
                                               "status")}
    if message.get("links"):
        body["links"] = message["links"]
    return body


def teams_body(message: dict[str, Any]) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (for an incoming webhook or a Workflows
    'post to a channel when a webhook request is received' flow)."""
    kind = str(message.get("kind"))
    facts = [{"title": "Event", "value": str(message.get("event_id") or "-")},
             {"title": "Org", "value": str(message.get("org_id") or "-")}]
    status = message.get("status")
    if isinstance(status, dict):
        facts.append({"title": "Status", "value": str(status.get("status"))})
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
         "text": _TITLES.get(kind, kind)},
        {"type": "TextBlock", "wrap": True, "text": str(message.get("summary") or "")},
        {"type": "FactSet", "facts": facts},
    ]
    links = message.get("links") or {}
    for action, url in sorted(links.items()):
        # The routes take a POST with a function key: the card says how, it cannot do it.
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                     "text": f"{action.capitalize()}: POST {url} (function key)"})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


def signature(secret: str, body: bytes) -> str:
    """The `X-Signature` header: `sha256=` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before try `attempt + 1` of a delivery (honouring the receiver's Retry-After)."""
    delay: float = min(RETRY_FIRST_SECONDS * 2.0 ** min(attempt, 20), RETRY_MAX_SECONDS)
    return min(max(delay, retry_after or 0.0), RETRY_MAX_SECONDS)
