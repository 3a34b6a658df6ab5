"""The notification webhook (NOTIFY_WEBHOOK_URL): one POST per notification, signed.

The URL may carry a token (Teams and Workflows URLs do) and the secret signs the body: neither
is ever logged or put in an error; errors name the HTTP status or the kind of network failure.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from shared.adapters.retry import retry_after_seconds
from shared.core.notifications import NotifyFormat, generic_body, signature, teams_body
from shared.errors import Throttled, Unavailable, UpstreamRejected

SERVICE = "webhook"


class WebhookClient:
    def __init__(self, *, http: httpx.Client, url: str, secret: str | None,
                 format: NotifyFormat = "json") -> None:
        self._http = http
        self._url = url
        self._secret = secret
        self._format = format

    def post(self, message: dict[str, Any]) -> None:
        """Deliver one notification. Raises Throttled (429), Unavailable (408, 5xx, timeout,
        network), UpstreamRejected (any other answer than 2xx)."""
        payload = teams_body(message) if self._format == "teams" else generic_body(message)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers["X-Signature"] = signature(self._secret, body)
        try:
            answer = self._http.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise Unavailable(SERVICE, f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:  # the message may name the host: say only the kind
            raise Unavailable(SERVICE, f"not reachable ({type(exc).__name__})") from None
        if answer.is_success:
            return
        code = answer.status_code
        if code == 429:
            raise Throttled(SERVICE, "answered 429", status_code=code,
                            retry_after=retry_after_seconds(answer.headers.get("Retry-After")))
        if code == 408 or code >= 500:
            raise Unavailable(SERVICE, f"answered {code}", status_code=code)
        raise UpstreamRejected(SERVICE, f"answered {code}", status_code=code)
