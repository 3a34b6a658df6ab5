"""HTTP: the MSP's Synnex customers, and the customer-number check of PUT orgs (contract
section 6)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.http.conftest import (
    CONTOSO_CUSTOMER_NO,
    CONTOSO_TENANT,
    Api,
    Stellr,
    stellr_pages,
)

FABRIKAM_CUSTOMER_NO = "100235"
LITWARE_CUSTOMER_NO = "100236"

# What Northwind IT's Synnex account shows, in Stellr's order (by number).
NORTHWIND_CUSTOMERS: list[dict[str, Any]] = [
    {"customerNo": CONTOSO_CUSTOMER_NO, "customerName": "Contoso Ltd", "domain": "contoso.com"},
    {"customerNo": FABRIKAM_CUSTOMER_NO, "customerName": "FABRIKAM INC"},
    {"customerNo": LITWARE_CUSTOMER_NO, "companyName": "Litware Pharma", "domain": "litware.com"},
    {"customerNo": "100237", "customerName": "Adventure Works Cycles", "country": "US"},
]


@pytest.fixture
def customers(stellr: Stellr) -> Stellr:
    """Stellr showing Northwind IT's four customers, paged as Stellr pages."""
    stellr.customers.mock(side_effect=stellr_pages(NORTHWIND_CUSTOMERS))
    return stellr


def put_child(api: Api, org_id: str, parent_id: str, **fields: Any) -> None:
    answer = api.put_org(org_id, {"parent_id": parent_id, **fields})
    assert answer.status == 201, answer.text


class TestGetSynnexCustomers:
    def test_lists_every_customer_with_the_org_that_seems_to_be_it(
        self,
        api: Api,
        msp_with_credentials: str,
        customers: Stellr,
        new_id: Callable[[str], str],
    ) -> None:
        """Name, domain and number each find their org; the list is sorted by name."""
        msp = msp_with_credentials
        contoso, fabrikam, litware = new_id("contoso"), new_id("fabrikam"), new_id("litware")
        put_child(api, contoso, msp, name="Contoso Ltd.", synnex_customer_no=CONTOSO_CUSTOMER_NO)
        put_child(api, fabrikam, msp, name="Fabrikam, Inc.")
        # Named differently from the Synnex record; only the domain's label says who it is.
        put_child(api, litware, msp, name="Litware")
        answer = api.synnex_customers(msp)
        assert answer.status == 200, answer.text
        assert answer.json == {
            "customers": [
                {
                    "customer_no": "100237",
                    "name": "Adventure Works Cycles",
                    "domain": None,
                    "suggested_org_id": None,
                },
                {
                    "customer_no": CONTOSO_CUSTOMER_NO,
                    "name": "Contoso Ltd",
                    "domain": "contoso.com",
                    "suggested_org_id": contoso,
                },
                {
                    "customer_no": FABRIKAM_CUSTOMER_NO,
                    "name": "FABRIKAM INC",
                    "domain": None,
                    "suggested_org_id": fabrikam,
                },
                {
                    "customer_no": LITWARE_CUSTOMER_NO,
                    "name": "Litware Pharma",
                    "domain": "litware.com",
                    "suggested_org_id": litware,
                },
            ]
        }

    def test_suggests_grandchildren_but_never_orgs_of_another_msp(
        self,
        api: Api,
        msp_with_credentials: str,
        customers: Stellr,
        new_id: Callable[[str], str],
    ) -> None:
        """An org two levels down is found; a same-named org under another root is not."""
        msp = msp_with_credentials
        region, fabrikam = new_id("emea"), new_id("fabrikam")
        put_child(api, region, msp, name="EMEA")
        put_child(api, fabrikam, region, name="Fabrikam")
        other_msp = new_id("tailspin")
        assert api.put_org(other_msp, {"name": "Tailspin IT"}).status == 201
        put_child(api, new_id("contoso"), other_msp, name="Contoso Ltd")
        listed = {c["customer_no"]: c for c in api.synnex_customers(msp).json["customers"]}
        assert listed[FABRIKAM_CUSTOMER_NO]["suggested_org_id"] == fabrikam
        assert listed[CONTOSO_CUSTOMER_NO]["suggested_org_id"] is None

    def test_refuses_a_customer_org_with_422_like_the_credentials_routes(
        self, api: Api, customer: str, stellr: Stellr
    ) -> None:
        """Only an MSP root has Synnex customers: 422 naming org_id, Synnex not called."""
        answer = api.synnex_customers(customer)
        assert answer.is_problem(422)
        assert answer.detail.startswith("org_id")
        assert stellr.call_count() == 0

    def test_answers_404_for_an_unknown_org(
        self, api: Api, new_id: Callable[[str], str], stellr: Stellr
    ) -> None:
        """An unknown org: 404, Synnex not called."""
        assert api.synnex_customers(new_id("nobody")).is_problem(404)
        assert stellr.call_count() == 0

    def test_answers_422_when_no_credentials_are_stored(
        self, api: Api, msp: str, stellr: Stellr
    ) -> None:
        """A root without credentials: 422 naming synnex-credentials, Synnex not called."""
        answer = api.synnex_customers(msp)
        assert answer.is_problem(422)
        assert answer.detail.startswith("synnex-credentials")
        assert stellr.call_count() == 0

    def test_answers_503_when_synnex_cannot_be_reached(
        self, api: Api, msp_with_credentials: str, stellr: Stellr
    ) -> None:
        """Synnex down: 503 with Retry-After."""
        stellr.customers.mock(return_value=httpx.Response(503))
        answer = api.synnex_customers(msp_with_credentials)
        assert answer.is_problem(503)
        assert int(answer.headers["Retry-After"]) >= 1


class TestPutOrgChecksTheCustomerNumber:
    def test_accepts_a_number_the_synnex_account_shows(
        self,
        api: Api,
        msp_with_credentials: str,
        customers: Stellr,
        new_id: Callable[[str], str],
    ) -> None:
        """A customer Synnex shows: 201, and the customer list was read to check it."""
        org_id = new_id("fabrikam")
        answer = api.put_org(
            org_id,
            {"name": "Fabrikam", "parent_id": msp_with_credentials,
             "synnex_customer_no": FABRIKAM_CUSTOMER_NO},
        )
        assert answer.status == 201, answer.text
        assert answer.json["synnex_customer_no"] == FABRIKAM_CUSTOMER_NO
        assert customers.customers.call_count >= 1

    def test_refuses_a_number_the_synnex_account_does_not_show_with_422(
        self,
        api: Api,
        msp_with_credentials: str,
        customers: Stellr,
        new_id: Callable[[str], str],
    ) -> None:
        """A number Synnex does not show: 422 naming synnex_customer_no; nothing is saved."""
        org_id = new_id("contoso")
        answer = api.put_org(
            org_id,
            {"name": "Contoso Ltd", "parent_id": msp_with_credentials,
             "m365_tenant_id": CONTOSO_TENANT, "synnex_customer_no": "999999"},
        )
        assert answer.is_problem(422)
        assert answer.json["field"] == "synnex_customer_no"
        assert answer.detail.startswith("synnex_customer_no")
        assert api.get_org(org_id).is_problem(404)

    def test_refuses_a_wrong_number_on_a_replace_and_keeps_the_org(
        self, api: Api, msp_with_credentials: str, customer: str, customers: Stellr
    ) -> None:
        """Replacing an org with a wrong number: 422, the stored org unchanged."""
        before = api.get_org(customer).json
        answer = api.put_org(
            customer,
            {"name": "Contoso Ltd", "parent_id": msp_with_credentials,
             "synnex_customer_no": "100999"},
        )
        assert answer.is_problem(422)
        assert api.get_org(customer).json == before

    def test_checks_against_the_root_of_a_deeper_org(
        self,
        api: Api,
        msp_with_credentials: str,
        customers: Stellr,
        new_id: Callable[[str], str],
    ) -> None:
        """An org under an intermediate org is checked with the root's credentials."""
        region = new_id("emea")
        put_child(api, region, msp_with_credentials, name="EMEA")
        answer = api.put_org(
            new_id("contoso"), {"name": "Contoso", "parent_id": region, "synnex_customer_no": "1"}
        )
        assert answer.is_problem(422)
        assert answer.json["field"] == "synnex_customer_no"

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.Response(503),
            httpx.ConnectError("connection refused"),
            httpx.Response(429, headers={"Retry-After": "30"}),
        ],
        ids=["503", "unreachable", "429"],
    )
    def test_accepts_with_a_warning_when_synnex_cannot_answer(
        self,
        api: Api,
        msp_with_credentials: str,
        stellr: Stellr,
        new_id: Callable[[str], str],
        caplog: pytest.LogCaptureFixture,
        failure: httpx.Response | Exception,
    ) -> None:
        """Synnex unavailable or throttling: the org is saved, and a WARNING says unverified."""
        if isinstance(failure, Exception):
            stellr.customers.mock(side_effect=failure)
        else:
            stellr.customers.mock(return_value=failure)
        org_id = new_id("contoso")
        with caplog.at_level(logging.WARNING, logger="shared.use_cases.customers"):
            answer = api.put_org(
                org_id,
                {"name": "Contoso Ltd", "parent_id": msp_with_credentials,
                 "synnex_customer_no": "999999"},
            )
        assert answer.status == 201, answer.text
        assert any(
            r.levelno == logging.WARNING and "not verified" in r.getMessage()
            and org_id in r.getMessage()
            for r in caplog.records
        )

    def test_accepts_with_a_warning_when_no_credentials_are_stored(
        self,
        api: Api,
        msp: str,
        stellr: Stellr,
        new_id: Callable[[str], str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An MSP without credentials yet: saved, Synnex not called, a WARNING logged."""
        with caplog.at_level(logging.WARNING, logger="shared.use_cases.customers"):
            answer = api.put_org(
                new_id("contoso"),
                {"name": "Contoso Ltd", "parent_id": msp, "synnex_customer_no": "999999"},
            )
        assert answer.status == 201, answer.text
        assert stellr.call_count() == 0
        assert any("no synnex credentials stored" in r.getMessage() for r in caplog.records)

    def test_calls_no_one_for_an_org_without_a_number(
        self, api: Api, msp_with_credentials: str, stellr: Stellr, new_id: Callable[[str], str]
    ) -> None:
        """No synnex_customer_no in the body: nothing to check, Synnex not called."""
        answer = api.put_org(new_id("emea"), {"name": "EMEA", "parent_id": msp_with_credentials})
        assert answer.status == 201
        assert stellr.call_count() == 0

    def test_checks_the_number_after_the_parent(
        self, api: Api, stellr: Stellr, new_id: Callable[[str], str]
    ) -> None:
        """A missing parent is reported first (422 parent_id), before any Synnex call."""
        answer = api.put_org(
            new_id("contoso"),
            {"name": "Contoso", "parent_id": new_id("nobody"), "synnex_customer_no": "1"},
        )
        assert answer.is_problem(422)
        assert answer.json["field"] == "parent_id"
        assert stellr.call_count() == 0

