"""Notifications (contract section 6): the signed webhook, the Teams card, retries, settings."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

import function_app  # noqa: F401  # quiets the httpx and azure loggers, as in production
from shared import names
from shared.adapters.webhook import WebhookClient
from shared.core.notifications import GIVE_UP_AFTER, retry_delay
from shared.settings import Settings
from shared.use_cases import notify

HOOK = "https://hooks.northwind-it.test/notify/canary-url-token-7c1e"
SECRET = "canary-webhook-secret-94ab"
RAISED = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
STATUS = {"event_id": "hire-2026-000123", "org_id": "contoso", "status": "in_progress",
          "licenses": [{"sku_id": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
                        "state": "awaiting_approval"}]}


class Queue:
    """A sender that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], float]] = []

    def send(self, queue: str, body: dict[str, Any], *, delay_seconds: float = 0) -> None:
        self.sent.append((queue, body, delay_seconds))


def _message(kind: str = "approval_needed", **overrides: Any) -> bytes:
    queue = Queue()
    links = {"approve": "https://app.test/approve", "deny": "https://app.test/deny"}
    notify.enqueue(queue, kind, event_id="hire-2026-000123", org_id="contoso",  # type: ignore[arg-type]
                   summary="A seat for new.hire@contoso.com waits for approval", now=RAISED,
                   status=STATUS, links=links if kind == "approval_needed" else None)
    [(_, body, _)] = queue.sent
    return json.dumps({**body, **overrides}).encode()


def _client(fmt: str = "json", secret: str | None = SECRET) -> WebhookClient:
    return WebhookClient(http=httpx.Client(), url=HOOK, secret=secret,
                         format=fmt)  # type: ignore[arg-type]


def _deliver(body: bytes, client: WebhookClient | None, now: datetime = RAISED) -> Queue:
    queue = Queue()
    notify.deliver(body, webhook=client, sender=queue, now=lambda: now)
    return queue


class TestEnqueue:
    def test_puts_the_notification_on_its_own_queue(self) -> None:
        """One message on `notifications`, never on a workflow queue, at once."""
        queue = Queue()
        notify.enqueue(queue, "reconciliation", event_id=None, org_id="contoso",
                       summary="2 seats bought and never assigned", now=RAISED)
        [(name, body, delay)] = queue.sent
        assert (name, delay) == (names.NOTIFICATIONS_QUEUE, 0)
        assert body["kind"] == "reconciliation" and body["attempt"] == 0


class TestGenericWebhook:
    @respx.mock(assert_all_called=True)
    def test_posts_the_contract_body_signed_with_the_secret(self, respx_mock: Any) -> None:
        """JSON {kind, event_id, org_id, summary, status, links}; X-Signature checks out."""
        route = respx_mock.post(HOOK).mock(return_value=httpx.Response(204))
        assert _deliver(_message(), _client()).sent == []
        request = route.calls.last.request
        body = json.loads(request.content)
        assert {"kind", "event_id", "org_id", "summary", "status"} <= body.keys()
        assert body["kind"] == "approval_needed" and body["status"] == STATUS
        assert body["links"]["approve"] == "https://app.test/approve"
        expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
        assert request.headers["X-Signature"] == f"sha256={expected}"
        assert request.headers["Content-Type"] == "application/json"

    @respx.mock(assert_all_called=True)
    def test_sends_no_signature_without_a_secret(self, respx_mock: Any) -> None:
        """NOTIFY_WEBHOOK_SECRET unset: delivered, unsigned."""
        route = respx_mock.post(HOOK).mock(return_value=httpx.Response(200))
        _deliver(_message("purchase"), _client(secret=None))
        assert "X-Signature" not in route.calls.last.request.headers


class TestTeamsWebhook:
    @respx.mock(assert_all_called=True)
    def test_posts_an_adaptive_card_message(self, respx_mock: Any) -> None:
        """NOTIFY_FORMAT=teams: a message with one Adaptive Card naming the event and links."""
        route = respx_mock.post(HOOK).mock(return_value=httpx.Response(202))
        _deliver(_message(), _client("teams"))
        body = json.loads(route.calls.last.request.content)
        assert body["type"] == "message"
        [attachment] = body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        text = json.dumps(card)
        assert "hire-2026-000123" in text and "https://app.test/approve" in text
        assert route.calls.last.request.headers["X-Signature"].startswith("sha256=")


class TestRetries:
    @pytest.mark.parametrize("answer", [httpx.Response(503), httpx.Response(429),
                                        httpx.Response(408), httpx.ConnectError("refused")])
    @respx.mock(assert_all_called=True)
    def test_sends_a_delayed_copy_when_the_webhook_fails(self, respx_mock: Any,
                                                         answer: Any) -> None:
        """5xx, 429, 408, network: the message again, later, one attempt more."""
        if isinstance(answer, Exception):
            respx_mock.post(HOOK).mock(side_effect=answer)
        else:
            respx_mock.post(HOOK).mock(return_value=answer)
        [(queue, body, delay)] = _deliver(_message(), _client()).sent
        assert queue == names.NOTIFICATIONS_QUEUE
        assert body["attempt"] == 1 and body["raised_at"] == RAISED.isoformat()
        assert delay == retry_delay(0)

    @respx.mock(assert_all_called=True)
    def test_honours_retry_after(self, respx_mock: Any) -> None:
        """A 429 with Retry-After 600 waits that long."""
        respx_mock.post(HOOK).mock(return_value=httpx.Response(429, headers={
            "Retry-After": "600"}))
        [(_, _, delay)] = _deliver(_message(), _client()).sent
        assert delay == 600

    def test_backs_off_doubling_up_to_an_hour(self) -> None:
        """30 s, 60 s, 120 s, ... at most 3600 s."""
        assert [retry_delay(n) for n in range(4)] == [30, 60, 120, 240]
        assert retry_delay(30) == 3600

    @respx.mock(assert_all_called=True)
    def test_gives_up_after_a_bounded_time_and_logs_it(
        self, respx_mock: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Past GIVE_UP_AFTER since it was raised: no copy, a warning."""
        respx_mock.post(HOOK).mock(return_value=httpx.Response(500))
        with caplog.at_level(logging.INFO):
            queue = _deliver(_message(attempt=12), _client(), now=RAISED + GIVE_UP_AFTER)
        assert queue.sent == []
        assert any("given up" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)

    @respx.mock(assert_all_called=True)
    def test_drops_what_the_webhook_refuses(self, respx_mock: Any) -> None:
        """A 400 will not get better: dropped, not retried."""
        respx_mock.post(HOOK).mock(return_value=httpx.Response(400))
        assert _deliver(_message(), _client()).sent == []

    @respx.mock(assert_all_called=True)
    def test_never_logs_the_url_or_the_secret(
        self, respx_mock: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Neither the URL (it carries a token) nor the secret in any log line."""
        respx_mock.post(HOOK).mock(side_effect=[httpx.ConnectError(f"cannot reach {HOOK}"),
                                                httpx.Response(401), httpx.Response(200)])
        with caplog.at_level(logging.DEBUG):
            for _ in range(3):
                _deliver(_message(), _client())
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "canary" not in text and "hooks.northwind-it.test" not in text


class TestWithoutWebhook:
    def test_drops_the_message_when_no_url_is_set(self) -> None:
        """NOTIFY_WEBHOOK_URL unset: nothing sent, nothing retried."""
        assert _deliver(_message(), None).sent == []

    def test_drops_an_unreadable_message(self) -> None:
        """Not JSON, or an unknown kind: dropped."""
        assert _deliver(b"not json", _client()).sent == []
        assert _deliver(_message(kind="gossip"), _client()).sent == []


class TestSettings:
    @pytest.mark.parametrize(("value", "usable"), [
        (HOOK, True), ("http://localhost:7099/hook", True), ("http://example.com/h", False),
        ("@Microsoft.KeyVault(VaultName=kv;SecretName=notify-webhook-url)", False),
        ("", False), (None, False),
    ])
    def test_uses_only_an_https_or_local_url(self, value: str | None, usable: bool) -> None:
        """An unresolved Key Vault reference or a plain-http host turns notifications off."""
        settings = Settings(NOTIFY_WEBHOOK_URL=value)  # type: ignore[call-arg]
        assert (settings.notify_webhook_url is not None) == usable

    def test_keeps_the_url_and_secret_out_of_the_repr(self) -> None:
        """Both are secrets: never in a repr (and so in no error or log line)."""
        settings = Settings(NOTIFY_WEBHOOK_URL=HOOK,  # type: ignore[call-arg]
                            NOTIFY_WEBHOOK_SECRET=SECRET)
        assert "canary" not in repr(settings)

    def test_reads_the_format_in_any_case(self) -> None:
        """NOTIFY_FORMAT=Teams is teams; default json."""
        assert Settings(NOTIFY_FORMAT="Teams").NOTIFY_FORMAT == "teams"  # type: ignore[call-arg]
        assert Settings().NOTIFY_FORMAT == "json"  # type: ignore[call-arg]

    def test_links_to_the_platforms_host_name(self) -> None:
        """WEBSITE_HOSTNAME set: https links to it; else the local host."""
        settings = Settings(WEBSITE_HOSTNAME="msplic-func.azurewebsites.net")  # type: ignore[call-arg]
        assert settings.public_base_url == "https://msplic-func.azurewebsites.net"
        assert Settings().public_base_url == "http://localhost:7071"  # type: ignore[call-arg]


def test_gives_up_after_a_day() -> None:
    """The bound is a day."""
    assert timedelta(hours=24) == GIVE_UP_AFTER
