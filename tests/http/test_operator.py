"""HTTP: the operator's routes through the real function objects, on Azurite."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import function_app
from tests.http.conftest import Answer, Api

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


def _list(api: Api, **params: str) -> Answer:
    return api.call(function_app.list_onboarding, "GET", "onboarding", {}, params=params)


def _retry(api: Api, event_id: str) -> Answer:
    return api.call(function_app.retry_onboarding, "POST", f"onboarding/{event_id}/retry",
                    {"event_id": event_id})


def _purchases(api: Api, org_id: str, **params: str) -> Answer:
    return api.call(function_app.get_purchases, "GET", f"orgs/{org_id}/purchases",
                    {"org_id": org_id}, params=params)


def _submit(api: Api, org_id: str) -> str:
    event_id = f"hire-2026-{uuid.uuid4().hex[:10]}"
    body: dict[str, Any] = {"event_id": event_id, "org_id": org_id,
                            "user": "new.hire@contoso.com",
                            "licenses": [{"sku_id": SPB, "synnex_subscription_id": "411833_1"}]}
    assert api.call(function_app.post_onboarding, "POST", "onboarding", {}, body).status == 202
    return event_id


@pytest.fixture
def org(api: Api, new_id: Callable[[str], str]) -> str:
    org_id = new_id("fabrikam")
    assert api.put_org(org_id, {"name": "Fabrikam"}).status == 201
    return org_id


class TestListOnboarding:
    def test_lists_an_org_s_events_newest_first_in_pages(self, api: Api, org: str) -> None:
        """Three events, limit 2: two newest, then the first, then no token."""
        ids = [_submit(api, org) for _ in range(3)]
        first = _list(api, org_id=org, limit="2")
        assert first.status == 200, first.text
        assert [e["event_id"] for e in first.json["events"]] == [ids[2], ids[1]]
        token = first.json["next"]
        assert isinstance(token, str) and token
        second = _list(api, org_id=org, limit="2", next=token)
        assert [e["event_id"] for e in second.json["events"]] == [ids[0]]
        assert second.json["next"] is None
        assert second.json["events"][0]["status"] == "in_progress"

    def test_filters_by_status(self, api: Api, org: str) -> None:
        """status=failed: none of the org's events in progress."""
        _submit(api, org)
        assert _list(api, org_id=org, status="failed").json["events"] == []
        assert len(_list(api, org_id=org, status="in_progress").json["events"]) == 1

    @pytest.mark.parametrize(("name", "value"), [
        ("limit", "0"), ("limit", "500"), ("status", "pending"), ("since", "last week"),
        ("next", "garbage"),
    ])
    def test_a_malformed_parameter_is_a_422_naming_it(self, api: Api, name: str,
                                                      value: str) -> None:
        """422 problem whose field is the parameter."""
        answer = _list(api, **{name: value})
        assert answer.is_problem(422)
        assert answer.json["field"] == name

    def test_an_unknown_org_is_a_404(self, api: Api) -> None:
        """org_id of no org: 404."""
        assert _list(api, org_id="nobody-here").is_problem(404)


class TestRetry:
    def test_an_unknown_event_is_a_404(self, api: Api) -> None:
        """No such event: 404."""
        assert _retry(api, "hire-unknown-0001").is_problem(404)

    def test_an_event_in_progress_is_a_409(self, api: Api, org: str) -> None:
        """Accepted, not yet worked: 409 conflict naming why."""
        event_id = _submit(api, org)
        answer = _retry(api, event_id)
        assert answer.is_problem(409)
        assert "in progress" in answer.detail


class TestPurchases:
    def test_answers_the_contract_shape_for_an_org_without_purchases(
        self, api: Api, org: str
    ) -> None:
        """No seat bought: an empty list, caps 0 of 5 today and 0 of unlimited this month."""
        answer = _purchases(api, org)
        assert answer.status == 200, answer.text
        assert answer.json == {"purchases": [], "cap": {"day": {"used": 0, "limit": 5},
                                                        "month": {"used": 0, "limit": None}}}

    @pytest.mark.parametrize(("params", "field"), [
        ({"from": "01/12/2026"}, "from"), ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
    ])
    def test_a_bad_date_is_a_422_naming_it(self, api: Api, org: str, params: dict[str, str],
                                           field: str) -> None:
        """422 naming from or to."""
        answer = _purchases(api, org, **params)
        assert answer.is_problem(422)
        assert answer.json["field"] == field

    def test_an_unknown_org_is_a_404(self, api: Api) -> None:
        """No such org: 404."""
        assert _purchases(api, "nobody-here").is_problem(404)


class TestReconciliationRoute:
    def test_runs_on_demand_and_reports_what_it_found(self, api: Api) -> None:
        """POST /api/reconciliation: 200 with what was checked and found."""
        answer = api.call(function_app.run_reconciliation, "POST", "reconciliation", {})
        assert answer.status == 200, answer.text
        assert set(answer.json) == {"checked", "unheld"}


class TestConsole:
    def test_serves_one_self_contained_page_with_a_strict_policy(self, api: Api) -> None:
        """HTML with its script and style inlined under a per-response nonce, no key."""
        answer = api.call(function_app.get_console, "GET", "console", {})
        assert answer.status == 200
        assert answer.mimetype == "text/html"
        policy = answer.headers["Content-Security-Policy"]
        [nonce] = set(re.findall(r"'nonce-([^']+)'", policy))
        assert f'<script nonce="{nonce}">' in answer.text
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "{{" not in answer.text and "http://" not in answer.text.replace(
            "http://www.w3.org", "")
        assert "https://" not in answer.text

    def test_a_new_nonce_for_each_answer(self, api: Api) -> None:
        """Two answers, two nonces."""
        first = api.call(function_app.get_console, "GET", "console", {})
        second = api.call(function_app.get_console, "GET", "console", {})
        assert (first.headers["Content-Security-Policy"]
                != second.headers["Content-Security-Policy"])
