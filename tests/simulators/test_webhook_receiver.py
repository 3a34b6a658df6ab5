"""The local stack's webhook receiver (devtools/simulators/webhook.py)."""

from __future__ import annotations

import httpx

from devtools.simulators.webhook import WebhookReceiver
from shared.core.notifications import signature

SECRET = "local-webhook-secret-NOT-A-REAL-SECRET"


class TestWebhookReceiver:
    def test_prints_a_notification_and_accepts_its_signature(self) -> None:
        """A body signed with the secret: 204, recorded as signed, one line printed."""
        lines: list[str] = []
        body = b'{"kind":"purchase","event_id":"hire-2026-000123","summary":"bought"}'
        with WebhookReceiver(secret=SECRET, echo=lines.append) as receiver:
            answer = httpx.post(receiver.url, content=body,
                                headers={"X-Signature": signature(SECRET, body)})
        assert answer.status_code == 204
        assert receiver.received == [(True, {"kind": "purchase", "event_id": "hire-2026-000123",
                                             "summary": "bought"})]
        assert lines == ["[webhook] signature ok: purchase event=hire-2026-000123: bought"]

    def test_flags_a_wrong_or_missing_signature(self) -> None:
        """Signed with another key, or not at all: recorded as not signed."""
        body = b'{"kind":"failure"}'
        with WebhookReceiver(secret=SECRET, echo=lambda line: None) as receiver:
            httpx.post(receiver.url, content=body,
                       headers={"X-Signature": signature("another", body)})
            httpx.post(receiver.url, content=body)
        assert [ok for ok, _ in receiver.received] == [False, False]
