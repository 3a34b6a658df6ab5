"""The form backend's journey over real sockets: credentials, lookups, onboarding events.

Everything goes through the HTTP API (httpx against the local runner) or the real Azurite
queue `onboarding-events`; the simulators are read only to see what the app did upstream.
Each test starts from the simulators' seeded world.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.simulators import seed
from shared import names
from tests.e2e.conftest import App

pytestmark = pytest.mark.e2e

CONTOSO = "contoso.com"
SPB = seed.SPB_SKU_ID
E3 = seed.ENTERPRISEPACK_SKU_ID
SPB_ANNUAL = seed.SPB_ANNUAL_SUBSCRIPTION_ID
CUSTOMER = seed.CONTOSO_CUSTOMER_NO
CHANGE_SEATS = "POST /api/v1/customers/{customer_no}/subscriptions/{subscription_id}/changeSeats"


@pytest.fixture(autouse=True)
def seeded_world(app: App) -> Iterator[None]:
    """The simulators as seeded, once the work of an earlier test has settled."""
    app.wait_until_idle()
    app.simulators.reset()
    # Resetting Synnex lowers quantities, as a person in the portal would: the floors the
    # app keeps for a settle window after each purchase must not outlive that here.
    app.clear_table(names.SUBSCRIPTION_LOCKS_TABLE)
    yield


def event_id() -> str:
    return f"hire-e2e-{uuid.uuid4().hex[:12]}"


def onboarding(
    event: str, user: str, sku_id: str, subscription_id: str | None = None
) -> dict[str, Any]:
    """An onboarding event for one licence, as the form backend sends it."""
    item: dict[str, Any] = {"sku_id": sku_id}
    if subscription_id is not None:
        item["synnex_subscription_id"] = subscription_id
    return {
        "event_id": event,
        "org_id": "contoso",
        "user": user,
        "usage_location": "US",
        "licenses": [item],
    }


def seat_changes(app: App) -> int:
    """`changeSeats` calls Stellr received since the test began."""
    return app.simulators.request_counts()["stellr"].get(CHANGE_SEATS, 0)


class TestSynnexCredentials:
    def test_saves_credentials_that_work_and_counts_the_customers(self, app: App) -> None:
        """PUT with the sandbox credential answers 200, valid, and the 205 visible customers."""
        answer = app.http.put(
            "/orgs/northwind/synnex-credentials",
            json={
                "environment": "sandbox",
                "region": "us",
                "client_id": seed.SANDBOX_CLIENT_ID,
                "client_secret": seed.SANDBOX_CLIENT_SECRET,
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "valid": True,
            "environment": "sandbox",
            "region": "us",
            "customers_visible": seed.NORTHWIND_CUSTOMER_COUNT,
        }
        assert seed.SANDBOX_CLIENT_SECRET not in answer.text

    def test_tests_the_stored_credentials_again(self, app: App) -> None:
        """POST .../test answers 200 and valid for what is stored."""
        answer = app.http.post("/orgs/northwind/synnex-credentials/test")
        assert answer.status_code == 200, answer.text
        assert answer.json()["valid"] is True
        assert answer.json()["customers_visible"] == seed.NORTHWIND_CUSTOMER_COUNT

    def test_refuses_a_wrong_secret_and_stores_nothing(self, app: App) -> None:
        """A wrong secret: 422 invalid_credentials, and a later test finds nothing stored."""
        assert app.http.put("/orgs/woodgrove", json={"name": "Woodgrove IT"}).status_code in (
            200,
            201,
        )
        answer = app.http.put(
            "/orgs/woodgrove/synnex-credentials",
            json={
                "environment": "sandbox",
                "client_id": seed.SANDBOX_CLIENT_ID,
                "client_secret": "not-the-secret-of-this-client",
            },
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["valid"] is False
        assert answer.json()["reason"] == "invalid_credentials"
        assert "not-the-secret-of-this-client" not in answer.text
        assert app.http.post("/orgs/woodgrove/synnex-credentials/test").status_code == 404


class TestFormLookups:
    def test_lists_only_active_microsoft_subscriptions_in_the_dropdown(self, app: App) -> None:
        """Contoso's dropdown: no Cisco line, no suspended line; the blank status counts."""
        answer = app.http.get("/orgs/contoso/subscriptions")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["org_id"] == "contoso"
        assert body["enabled"] is True
        ids = {item["id"] for item in body["subscriptions"]}
        assert ids == {
            seed.SPB_ANNUAL_SUBSCRIPTION_ID,
            seed.SPB_MONTHLY_SUBSCRIPTION_ID,
            seed.E3_SUBSCRIPTION_ID,
            seed.EXCHANGE_SUBSCRIPTION_ID,
            seed.SPB_M365_SUBSCRIPTION_ID,
            seed.PILOT_BUNDLE_SUBSCRIPTION_ID,
        }
        assert seed.WEBEX_SUBSCRIPTION_ID not in ids
        assert seed.BASIC_SUSPENDED_SUBSCRIPTION_ID not in ids

    def test_labels_each_subscription_for_the_dropdown(self, app: App) -> None:
        """The label names the product, term, billing and seats."""
        body = app.http.get("/orgs/contoso/subscriptions").json()
        labels = {item["id"]: item["label"] for item in body["subscriptions"]}
        assert labels[SPB_ANNUAL] == (
            "Microsoft 365 Business Premium · Annual (NCE) · monthly billing · 12 seats"
        )
        assert labels[seed.E3_SUBSCRIPTION_ID] == (
            "Office 365 E3 · Annual (NCE) · annual billing · 5 seats"
        )

    def test_lists_the_tenant_licences_with_free_seats(self, app: App) -> None:
        """ENTERPRISEPACK shows 1 of 5 free; SPB none."""
        answer = app.http.get("/orgs/contoso/licenses")
        assert answer.status_code == 200, answer.text
        licenses = {item["sku_part_number"]: item for item in answer.json()["licenses"]}
        assert licenses["ENTERPRISEPACK"]["sku_id"] == E3
        assert (
            licenses["ENTERPRISEPACK"]["total"],
            licenses["ENTERPRISEPACK"]["consumed"],
            licenses["ENTERPRISEPACK"]["available"],
        ) == (5, 4, 1)
        assert licenses["SPB"]["available"] == 0
        assert licenses["ENTERPRISEPACK"]["label"] == "Office 365 E3 · 1 of 5 free"
        assert licenses["SPB"]["product_name"] == "Microsoft 365 Business Premium"

    def test_ranks_the_business_premium_subscriptions_first_for_a_business_premium_hire(
        self, app: App
    ) -> None:
        """?sku_id=SPB: the three decorated SPB lines exact and first, Exchange `none`."""
        answer = app.http.get("/orgs/contoso/subscriptions", params={"sku_id": SPB})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        matches = {item["id"]: item["match"] for item in body["subscriptions"]}
        first_three = [item["id"] for item in body["subscriptions"][:3]]
        assert set(first_three) == {
            SPB_ANNUAL,
            seed.SPB_MONTHLY_SUBSCRIPTION_ID,
            seed.SPB_M365_SUBSCRIPTION_ID,
        }
        assert {matches[i] for i in first_three} == {"exact"}
        assert matches[seed.EXCHANGE_SUBSCRIPTION_ID] == "none"
        assert matches[seed.PILOT_BUNDLE_SUBSCRIPTION_ID] == "unknown"
        # Several exact matches: the one bought through last, once a purchase is recorded.
        assert body["suggested_id"] in (None, *first_three)

    def test_refuses_a_malformed_sku_id(self, app: App) -> None:
        """?sku_id=SPB (a part number, not a GUID): 422 naming sku_id."""
        answer = app.http.get("/orgs/contoso/subscriptions", params={"sku_id": "SPB"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "sku_id"


class TestOnboardingEvent:
    def test_buys_one_seat_and_assigns_it_when_none_is_free(self, app: App) -> None:
        """SPB via 411833_1 for new.hire: 12 → 13 seats, the licence held, one result sent."""
        stellr, graph = app.simulators.stellr, app.simulators.graph
        assert stellr.subscription_quantity(CUSTOMER, SPB_ANNUAL) == 12
        event = event_id()

        app.drop_event(onboarding(event, "new.hire@contoso.com", SPB, SPB_ANNUAL))

        status = app.wait_for_event(event)
        assert status["status"] == "completed", status
        [license_] = status["licenses"]
        assert license_["state"] == "purchased_and_assigned", status
        assert stellr.subscription_quantity(CUSTOMER, SPB_ANNUAL) == 13
        assert stellr.seat_change_count(CUSTOMER) == 1
        assert seat_changes(app) == 1
        assert SPB in graph.assigned_licenses(CONTOSO, "new.hire@contoso.com")
        assert graph.usage_location(CONTOSO, "new.hire@contoso.com") == "US"
        assert app.results_for(event) == [app.http.get(f"/onboarding/{event}").json()]

    def test_assigns_a_free_seat_from_a_base64_message_without_buying(self, app: App) -> None:
        """ENTERPRISEPACK has a seat free: `assigned`, and Stellr sees no seat change."""
        user = f"e3.hire.{uuid.uuid4().hex[:8]}@contoso.com"
        app.simulators.graph.add_user(CONTOSO, user, usage_location="US")
        event = event_id()

        app.drop_event(onboarding(event, user, E3), encode_base64=True)

        status = app.wait_for_event(event)
        assert [item["state"] for item in status["licenses"]] == ["assigned"], status
        assert E3 in app.simulators.graph.assigned_licenses(CONTOSO, user)
        assert seat_changes(app) == 0
        assert app.simulators.stellr.seat_change_count() == 0
        assert len(app.results_for(event)) == 1

    def test_records_an_invalid_event_with_the_field_and_buys_nothing(self, app: App) -> None:
        """No licences at all: failed, `invalid_event`, field `licenses`; nothing bought."""
        event = event_id()
        bad = onboarding(event, "new.hire@contoso.com", SPB, SPB_ANNUAL)
        bad["licenses"] = []

        app.drop_event(bad)

        status = app.wait_for_event(event)
        assert status["status"] == "failed", status
        assert status["reason"] == "invalid_event"
        assert status["field"] == "licenses"
        app.wait_until_idle()
        assert seat_changes(app) == 0
        assert SPB not in app.simulators.graph.assigned_licenses(CONTOSO, "new.hire@contoso.com")

    def test_records_a_message_that_is_not_json_under_its_message_id(self, app: App) -> None:
        """Text that is not JSON: failed `invalid_event` under `invalid-<message id>`."""
        message_id = app.drop_event("this is not an onboarding event")

        status = app.wait_for_event(f"invalid-{message_id}")
        assert status["status"] == "failed", status
        assert status["reason"] == "invalid_event"
        assert status["field"]

    def test_buys_exactly_one_seat_for_an_event_delivered_three_times(self, app: App) -> None:
        """The same event dropped 3 times: one `changeSeats`, 12 → 13, the licence held."""
        user = f"spb.hire.{uuid.uuid4().hex[:8]}@contoso.com"
        app.simulators.graph.add_user(CONTOSO, user, usage_location="US")
        event = onboarding(event_id(), user, SPB, SPB_ANNUAL)

        for encode_base64 in (False, True, False):
            app.drop_event(event, encode_base64=encode_base64)

        status = app.wait_for_event(event["event_id"])
        assert [item["state"] for item in status["licenses"]] == ["purchased_and_assigned"]
        app.wait_until_idle()
        assert seat_changes(app) == 1
        assert app.simulators.stellr.subscription_quantity(CUSTOMER, SPB_ANNUAL) == 13
        assert SPB in app.simulators.graph.assigned_licenses(CONTOSO, user)
