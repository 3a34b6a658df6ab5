"""HTTP: the form's lookups, Synnex subscriptions and tenant licences (contract section 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import respx

from shared.bootstrap import Container
from tests.http.conftest import (
    CONTOSO_CUSTOMER_NO,
    GRAPH_SECRET,
    GRAPH_TOKEN,
    SYNNEX_SECRET,
    SYNNEX_TOKEN,
    Api,
    Graph,
    Stellr,
    everything_logged,
    restart,
    stellr_pages,
)

CHOOSE = "licencing_choose_subscription"

ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
WINDOWS_STORE = "6470687e-a428-4b7a-bef2-8a291ad947c9"
FLOW_FREE = "f30db892-07e9-47e9-837c-80727f46fd3d"
EXCHANGESTANDARD = "4b9405b0-7788-4568-add1-99614e613b69"
UNLISTED_SKU = "0b2d6f3e-7a41-4c58-9e1f-2a3b4c5d6e7f"  # in no copy of Microsoft's table


def line(**fields: Any) -> dict[str, Any]:
    """A Stellr subscription line of Contoso."""
    return {
        "contractNo": fields["id"].split("_")[0],
        "customerNo": CONTOSO_CUSTOMER_NO,
        "vendorName": "Microsoft",
        "status": "active",
        "billingFrequency": "month",
        "renewalDate": "2027-03-01",
        **fields,
    }


BUSINESS_PREMIUM = line(
    id="411833_1",
    productName="Microsoft 365 Business Premium (NCE Annual)",
    mfgPartNo="CFQ7TTC0LCHC:0002",
    quantity=12,
    term="annual",
)
OFFICE_E3_BLANK_STATUS = line(
    id="411840_1",
    productName="Office 365 E3",
    mfgPartNo="CFQ7TTC0LF8Q:0001",
    quantity=25,
    status="",
    term="P1M",
    billingFrequency="monthly",
    renewalDate="2026-07-15",
)
E5_SUSPENDED = line(
    id="411835_1",
    productName="Microsoft 365 E5 (NCE Annual)",
    mfgPartNo="CFQ7TTC0LFLZ:0002",
    quantity=3,
    status="suspended",
    term="annual",
)
CISCO_WEBEX = line(
    id="502211_1",
    vendorName="Cisco",
    productName="Webex Meetings Business",
    mfgPartNo="A-FLEX-3-MS",
    quantity=40,
)
# Enough other lines to fill Stellr's first page of 100 and push the E3 line to page 2.
ADOBE_FILLER = [
    line(id=f"6{n:05d}_1", vendorName="Adobe", productName="Acrobat Pro", quantity=1)
    for n in range(97)
]
CONTOSO_LINES = [BUSINESS_PREMIUM, CISCO_WEBEX, E5_SUSPENDED, *ADOBE_FILLER, OFFICE_E3_BLANK_STATUS]

# Names as Synnex decorates them: three Business Premium lines, a shortened one, Exchange, and
# a product Microsoft's table does not know.
BUSINESS_PREMIUM_COM_MTH = line(
    id="411834_1",
    productName="Microsoft 365 Business Premium (NCE COM MTH)",
    mfgPartNo="CFQ7TTC0LCHC:0002",
    quantity=3,
)
BUSINESS_PREMIUM_M365 = line(
    id="411839_1",
    productName="M365 Business Premium - Annual",
    mfgPartNo="CFQ7TTC0LCHC:0002",
    quantity=2,
)
BUSINESS_PREMIUM_SHORT = line(
    id="411841_1", productName="Business Premium (NCE)", mfgPartNo="CFQ7TTC0LCHC:0002", quantity=1
)
EXCHANGE = line(
    id="411837_1",
    productName="Exchange Online (Plan 1) (NCE Annual)",
    mfgPartNo="CFQ7TTC0LH16:0001",
    quantity=4,
    term="annual",
)
PILOT_BUNDLE = line(
    id="411842_1",
    productName="Microsoft 365 Pilot Bundle (NCE Annual)",
    mfgPartNo="CFQ7TTC0ZZZZ:0001",
    quantity=1,
)
DECORATED_LINES = [
    PILOT_BUNDLE, EXCHANGE, BUSINESS_PREMIUM, BUSINESS_PREMIUM_SHORT, CISCO_WEBEX,
    BUSINESS_PREMIUM_COM_MTH, E5_SUSPENDED, BUSINESS_PREMIUM_M365,
]  # fmt: skip


def sku(sku_id: str, part: str, enabled: int, consumed: int, **extra: Any) -> dict[str, Any]:
    """A Graph subscribedSku record."""
    return {
        "skuId": sku_id,
        "skuPartNumber": part,
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": consumed,
        "prepaidUnits": {"enabled": enabled, "warning": 0, "suspended": 0, "lockedOut": 0},
        **extra,
    }


CONTOSO_SKUS = [
    sku(SPB.upper(), "SPB", enabled=10, consumed=12),
    sku(ENTERPRISEPACK, "ENTERPRISEPACK", enabled=25, consumed=22),
    sku(WINDOWS_STORE, "WINDOWS_STORE", enabled=1, consumed=0, appliesTo="Company"),
    sku(FLOW_FREE, "FLOW_FREE", enabled=10000, consumed=4, capabilityStatus="Suspended"),
]


def choose_subscription(api: Api, org_id: str, value: str = "1", *, cascade: bool = True) -> None:
    assert api.put_variable(org_id, CHOOSE, {"value": value, "cascade": cascade}).status == 200


class TestGetSubscriptions:
    def test_offers_nothing_and_calls_no_one_when_the_choice_is_unset(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """No licencing_choose_subscription anywhere: disabled, empty, zero Synnex calls."""
        subscriptions = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        answer = api.subscriptions(customer)
        assert answer.status == 200
        assert answer.json == {"org_id": customer, "enabled": False, "subscriptions": []}
        assert (stellr.token.call_count, subscriptions.call_count) == (0, 0)
        assert stellr.call_count() == 0

    @pytest.mark.parametrize(
        ("value", "cascade"), [("0", True), ("yes", True), ("true", True), ("1", False)]
    )
    def test_offers_nothing_and_calls_no_one_when_the_choice_is_off(
        self,
        api: Api,
        msp_with_credentials: str,
        customer: str,
        stellr: Stellr,
        value: str,
        cascade: bool,
    ) -> None:
        """Anything but "1", or "1" at the MSP without cascade: disabled, zero Synnex calls."""
        choose_subscription(api, msp_with_credentials, value, cascade=cascade)
        subscriptions = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        answer = api.subscriptions(customer)
        assert answer.json == {"org_id": customer, "enabled": False, "subscriptions": []}
        assert subscriptions.call_count == 0
        assert stellr.call_count() == 0

    def test_offers_the_active_microsoft_lines_across_pages(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Choice on at the MSP: Microsoft active lines of both pages; Cisco and suspended go."""
        choose_subscription(api, msp_with_credentials)
        subscriptions = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        answer = api.subscriptions(customer)
        assert answer.status == 200
        assert answer.json == {
            "org_id": customer,
            "enabled": True,
            "subscriptions": [
                {
                    "id": "411833_1",
                    "name": "Microsoft 365 Business Premium",
                    "term": "annual",
                    "billing_cycle": "monthly",
                    "quantity": 12,
                    "status": "active",
                    "renewal_date": "2027-03-01",
                    "label": (
                        "Microsoft 365 Business Premium · Annual (NCE) · monthly billing · 12 seats"
                    ),
                },
                {
                    "id": "411840_1",
                    "name": "Office 365 E3",
                    "term": "monthly",
                    "billing_cycle": "monthly",
                    "quantity": 25,
                    "status": "active",
                    "renewal_date": "2026-07-15",
                    "label": "Office 365 E3 · Monthly (NCE) · monthly billing · 25 seats",
                },
            ],
        }
        pages = sorted(int(call.request.url.params["pageNo"]) for call in subscriptions.calls)
        assert pages == [1, 2]
        assert {call.request.headers["Authorization"] for call in subscriptions.calls} == {
            f"Bearer {SYNNEX_TOKEN}"
        }

    def test_answers_a_repeat_within_the_freshness_window_without_calling_synnex(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """The form opened again within the window: the same answer, no Synnex call."""
        choose_subscription(api, msp_with_credentials)
        subscriptions = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        first = api.subscriptions(customer)
        calls = stellr.call_count()
        second = api.subscriptions(customer)
        assert (first.status, second.status) == (200, 200)
        assert second.json == first.json
        assert stellr.call_count() == calls
        assert subscriptions.call_count == 2  # the two pages of the first lookup

    def test_asks_synnex_again_once_the_customer_is_invalidated(
        self, app: Container, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """After a seat change clears the customer's window, the next lookup reads Synnex."""
        choose_subscription(api, msp_with_credentials)
        subscriptions = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        api.subscriptions(customer)
        app.listing_window.invalidate(CONTOSO_CUSTOMER_NO)
        assert api.subscriptions(customer).status == 200
        assert subscriptions.call_count == 4

    def test_uses_the_msp_roots_credentials_below_a_reseller(
        self, api: Api, msp_with_credentials: str, stellr: Stellr, new_id: Callable[[str], str]
    ) -> None:
        """MSP > reseller > customer: the MSP's cascade and credentials serve the customer."""
        reseller, customer = new_id("northwind-east"), new_id("contoso")
        api.put_org(reseller, {"name": "Northwind East", "parent_id": msp_with_credentials})
        api.put_org(
            customer,
            {
                "name": "Contoso Ltd",
                "parent_id": reseller,
                "synnex_customer_no": CONTOSO_CUSTOMER_NO,
            },
        )
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages([BUSINESS_PREMIUM]))
        answer = api.subscriptions(customer)
        assert answer.status == 200
        assert [s["id"] for s in answer.json["subscriptions"]] == ["411833_1"]

    def test_answers_503_with_retry_after_when_synnex_throttles(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Synnex 429 with Retry-After 120: 503 with Retry-After 120."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().respond(429, headers={"Retry-After": "120"})
        answer = api.subscriptions(customer)
        assert answer.is_problem(503)
        assert answer.headers["Retry-After"] == "120"

    def test_answers_503_when_synnex_is_down(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Synnex 503 on every try: 503 with Retry-After."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().respond(503)
        answer = api.subscriptions(customer)
        assert answer.is_problem(503)
        assert int(answer.headers["Retry-After"]) >= 1

    def test_answers_502_when_synnex_does_not_know_the_customer(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Synnex 404 for the customer number: 502, an upstream fault."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().respond(404, json={"message": "Customer not found"})
        assert api.subscriptions(customer).is_problem(502)

    def test_refuses_an_org_without_a_synnex_customer_number_with_422(
        self, api: Api, msp_with_credentials: str, stellr: Stellr, new_id: Callable[[str], str]
    ) -> None:
        """Choice on but no synnex_customer_no: 422 naming it, Synnex not called."""
        org_id = new_id("fabrikam")
        api.put_org(org_id, {"name": "Fabrikam", "parent_id": msp_with_credentials})
        choose_subscription(api, msp_with_credentials)
        answer = api.subscriptions(org_id)
        assert answer.is_problem(422)
        assert "synnex_customer_no" in answer.detail
        assert stellr.call_count() == 0

    def test_refuses_when_the_msp_has_no_credentials_with_422(
        self, api: Api, msp: str, customer: str, stellr: Stellr
    ) -> None:
        """Choice on, but the MSP root stored no credentials: 422 saying so."""
        choose_subscription(api, msp)
        answer = api.subscriptions(customer)
        assert answer.is_problem(422)
        assert "credentials" in answer.detail
        assert stellr.call_count() == 0

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404."""
        assert api.subscriptions(new_id("nobody")).is_problem(404)

    def test_answers_400_for_a_malformed_org_id(self, api: Api) -> None:
        """A malformed org id: 400 naming org_id."""
        answer = api.subscriptions("contoso.ltd")
        assert answer.is_problem(400)
        assert "org_id" in answer.detail


class TestGetSubscriptionsForASku:
    def test_ranks_the_skus_product_first_and_says_how_each_line_matches(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """sku_id=SPB: the three Business Premium lines, then likely, none, unknown."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        answer = api.subscriptions(customer, {"sku_id": SPB})
        assert answer.status == 200, answer.text
        body = answer.json
        assert [(s["id"], s["match"]) for s in body["subscriptions"]] == [
            ("411839_1", "exact"),  # M365 Business Premium - Annual
            ("411834_1", "exact"),  # Microsoft 365 Business Premium (NCE COM MTH), monthly
            ("411833_1", "exact"),  # Microsoft 365 Business Premium (NCE Annual)
            ("411841_1", "likely"),  # Business Premium (NCE)
            ("411837_1", "none"),  # Exchange Online (Plan 1)
            ("411842_1", "unknown"),  # Microsoft 365 Pilot Bundle
        ]
        assert body["suggested_id"] is None  # three exact, and no purchase recorded yet
        assert body["subscriptions"][1]["label"] == (
            "Microsoft 365 Business Premium · Monthly (NCE) · monthly billing · 3 seats"
        )
        assert body["subscriptions"][0]["label"] == (
            "M365 Business Premium · Annual (NCE) · monthly billing · 2 seats"
        )

    def test_suggests_the_only_exact_match(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """sku_id=EXCHANGESTANDARD: the Exchange line comes first and is suggested."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        body = api.subscriptions(customer, {"sku_id": EXCHANGESTANDARD}).json
        assert body["subscriptions"][0]["id"] == "411837_1"
        assert [s["match"] for s in body["subscriptions"]][:2] == ["exact", "none"]
        assert body["suggested_id"] == "411837_1"

    def test_suggests_the_subscription_the_org_bought_through_last_among_several(
        self, app: Container, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Three exact Business Premium lines; the org last bought SPB through 411834_1."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        app.purchase_history.record(customer, SPB, "411834_1")
        body = api.subscriptions(customer, {"sku_id": SPB}).json
        assert body["suggested_id"] == "411834_1"

    def test_suggests_nothing_when_the_last_one_is_no_longer_an_exact_match(
        self, app: Container, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Bought last through the (now suspended) E5 line: several exact, none suggested."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        app.purchase_history.record(customer, SPB, "411835_1")
        assert api.subscriptions(customer, {"sku_id": SPB}).json["suggested_id"] is None

    def test_reads_an_upper_case_sku_id(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """The GUID in upper case, as Graph sometimes gives it, ranks the same."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        upper = api.subscriptions(customer, {"sku_id": SPB.upper()}).json
        lower = api.subscriptions(customer, {"sku_id": SPB}).json
        assert upper == lower

    def test_calls_every_line_unknown_for_a_sku_missing_from_microsofts_table(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """A SKU whose product is not known: nothing matches or differs; the plain order."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        plain = api.subscriptions(customer).json["subscriptions"]
        body = api.subscriptions(customer, {"sku_id": UNLISTED_SKU}).json
        assert [s["match"] for s in body["subscriptions"]] == ["unknown"] * len(plain)
        assert [s["id"] for s in body["subscriptions"]] == [s["id"] for s in plain]
        assert body["suggested_id"] is None

    def test_answers_as_before_without_a_sku_id(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """No sku_id: neither `match` nor `suggested_id`, the order by name and term."""
        choose_subscription(api, msp_with_credentials)
        stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        body = api.subscriptions(customer).json
        assert set(body) == {"org_id", "enabled", "subscriptions"}
        assert all("match" not in s for s in body["subscriptions"])
        assert [s["name"] for s in body["subscriptions"]] == [
            "Business Premium",
            "Exchange Online (Plan 1)",
            "M365 Business Premium",
            "Microsoft 365 Business Premium",
            "Microsoft 365 Business Premium",
            "Microsoft 365 Pilot Bundle",
        ]

    def test_ranks_a_listing_from_the_freshness_window_without_calling_synnex(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Plain, then for SPB, then for Exchange: one Synnex listing serves all three."""
        choose_subscription(api, msp_with_credentials)
        route = stellr.subscriptions().mock(side_effect=stellr_pages(DECORATED_LINES))
        api.subscriptions(customer)
        spb = api.subscriptions(customer, {"sku_id": SPB}).json
        exchange = api.subscriptions(customer, {"sku_id": EXCHANGESTANDARD}).json
        assert route.call_count == 1
        assert (spb["subscriptions"][0]["id"], exchange["subscriptions"][0]["id"]) == (
            "411839_1",
            "411837_1",
        )

    def test_answers_disabled_with_no_suggestion_when_the_choice_is_off(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr
    ) -> None:
        """Choice off, sku_id given: empty, `suggested_id` null, no Synnex call."""
        answer = api.subscriptions(customer, {"sku_id": SPB})
        assert answer.json == {
            "org_id": customer,
            "enabled": False,
            "subscriptions": [],
            "suggested_id": None,
        }
        assert stellr.call_count() == 0

    @pytest.mark.parametrize(
        "sku_id",
        ["SPB", "", "cbdc14ab-d96c-4c30-b9f4", f"{SPB}0", "cbdc14ab d96c 4c30 b9f4 6ada7cdc1d46"],
    )
    def test_refuses_a_malformed_sku_id_with_422_naming_it(
        self, api: Api, msp_with_credentials: str, customer: str, stellr: Stellr, sku_id: str
    ) -> None:
        """Not a GUID: 422 naming sku_id, and Synnex is not called."""
        choose_subscription(api, msp_with_credentials)
        answer = api.subscriptions(customer, {"sku_id": sku_id})
        assert answer.is_problem(422)
        assert answer.json["field"] == "sku_id"
        assert "sku_id" in answer.detail
        assert stellr.call_count() == 0


class TestGetLicenses:
    def test_lists_assignable_licenses_with_their_free_seats(
        self, api: Api, customer: str, graph: Graph
    ) -> None:
        """User SKUs with free seats (never below 0); company and suspended SKUs left out."""
        login = graph.login()
        skus = graph.subscribed_skus().respond(200, json={"value": CONTOSO_SKUS})
        answer = api.licenses(customer)
        assert answer.status == 200
        assert answer.json == {
            "org_id": customer,
            "licenses": [
                {
                    "sku_id": SPB,
                    "sku_part_number": "SPB",
                    "product_name": "Microsoft 365 Business Premium",
                    "total": 10,
                    "consumed": 12,
                    "available": 0,
                    "label": "Microsoft 365 Business Premium · 0 of 10 free",
                },
                {
                    "sku_id": ENTERPRISEPACK,
                    "sku_part_number": "ENTERPRISEPACK",
                    "product_name": "Office 365 E3",
                    "total": 25,
                    "consumed": 22,
                    "available": 3,
                    "label": "Office 365 E3 · 3 of 25 free",
                },
            ],
        }
        assert login.token.call_count == 1
        assert skus.calls.last.request.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}"

    def test_keeps_the_part_number_of_a_sku_missing_from_microsofts_table(
        self, api: Api, customer: str, graph: Graph
    ) -> None:
        """A SKU Microsoft's table does not list: `product_name` null, the part number shown."""
        graph.login()
        graph.subscribed_skus().respond(
            200, json={"value": [sku(UNLISTED_SKU, "CONTOSO_PILOT", enabled=5, consumed=1)]}
        )
        [option] = api.licenses(customer).json["licenses"]
        assert (option["product_name"], option["label"]) == (None, "CONTOSO_PILOT · 4 of 5 free")

    def test_answers_503_with_retry_after_when_graph_throttles(
        self, api: Api, customer: str, graph: Graph
    ) -> None:
        """Graph 429 with Retry-After 120: 503 with Retry-After 120."""
        graph.login()
        graph.subscribed_skus().respond(429, headers={"Retry-After": "120"})
        answer = api.licenses(customer)
        assert answer.is_problem(503)
        assert answer.headers["Retry-After"] == "120"

    def test_answers_503_when_graph_is_down(self, api: Api, customer: str, graph: Graph) -> None:
        """Graph 503 on every try: 503 with Retry-After."""
        graph.login()
        graph.subscribed_skus().respond(503)
        answer = api.licenses(customer)
        assert answer.is_problem(503)
        assert int(answer.headers["Retry-After"]) >= 1

    def test_answers_502_when_the_app_lacks_consent(
        self, api: Api, customer: str, graph: Graph
    ) -> None:
        """Graph 403: 502, naming the missing permission or consent."""
        graph.login()
        graph.subscribed_skus().respond(
            403,
            json={"error": {"code": "Authorization_RequestDenied", "message": "Insufficient"}},
        )
        answer = api.licenses(customer)
        assert answer.is_problem(502)
        assert "consent" in answer.detail

    def test_refuses_an_org_without_a_tenant_with_422(
        self, api: Api, msp: str, graph: Graph, router: respx.MockRouter
    ) -> None:
        """No m365_tenant_id: 422 naming it, and Graph is not called."""
        answer = api.licenses(msp)
        assert answer.is_problem(422)
        assert "m365_tenant_id" in answer.detail
        assert router.calls.call_count == 0

    def test_names_a_missing_graph_setting_with_500(
        self, api: Api, customer: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """GRAPH_CLIENT_ID unset: 500 naming the setting."""
        monkeypatch.delenv("GRAPH_CLIENT_ID")
        restart()  # settings are read once per process
        answer = api.licenses(customer)
        assert answer.is_problem(500)
        assert "GRAPH_CLIENT_ID" in answer.detail

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404."""
        assert api.licenses(new_id("nobody")).is_problem(404)

    def test_answers_400_for_a_malformed_org_id(self, api: Api) -> None:
        """A malformed org id: 400 naming org_id."""
        answer = api.licenses("contoso ltd")
        assert answer.is_problem(400)
        assert "org_id" in answer.detail


class TestLookupSecrecy:
    def test_never_shows_a_secret_or_token_in_an_answer_or_a_log(
        self,
        app: Container,
        api: Api,
        msp_with_credentials: str,
        customer: str,
        stellr: Stellr,
        graph: Graph,
        debug_logs: pytest.LogCaptureFixture,
    ) -> None:
        """Both lookups, working and failing: no Graph or Synnex secret or token is shown."""
        choose_subscription(api, msp_with_credentials)
        route = stellr.subscriptions().mock(side_effect=stellr_pages(CONTOSO_LINES))
        api.subscriptions(customer)
        route.respond(429, headers={"Retry-After": "120"})
        app.listing_window.clear()  # past the freshness window: Synnex is asked again
        api.subscriptions(customer)
        graph.login()
        skus = graph.subscribed_skus().respond(200, json={"value": CONTOSO_SKUS})
        api.licenses(customer)
        skus.respond(403, json={"error": {"code": "Forbidden", "message": "no"}})
        api.licenses(customer)
        assert [a.status for a in api.answers[-4:]] == [200, 503, 200, 502]
        for secret in (SYNNEX_SECRET, SYNNEX_TOKEN, GRAPH_SECRET, GRAPH_TOKEN):
            assert all(secret not in a.text for a in api.answers)
            assert secret not in everything_logged(debug_logs)
