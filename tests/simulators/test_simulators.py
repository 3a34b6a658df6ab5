"""The simulators over real HTTPS sockets: the Stellr, Entra and Graph behaviour the app uses."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import certifi
import httpx
import msal
import pytest

from devtools.simulators import FaultRule, Simulators, ensure_pki, start_simulators
from devtools.simulators import seed as s

from .conftest import PROVISIONING_DELAY, SEAT_CHANGE_DELAY

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTOSO = s.CONTOSO_CUSTOMER_NO


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def stellr_token(
    http: httpx.Client,
    sims: Simulators,
    client_id: str = s.SANDBOX_CLIENT_ID,
    secret: str = s.SANDBOX_CLIENT_SECRET,
) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return http.post(sims.urls.synnex_token_url, data=form)


def stellr_headers(http: httpx.Client, sims: Simulators) -> dict[str, str]:
    return {"Authorization": f"Bearer {stellr_token(http, sims).json()['access_token']}"}


def stellr_get(http: httpx.Client, sims: Simulators, path: str, **params: Any) -> httpx.Response:
    url = sims.urls.synnex_api_base_url + path
    return http.get(url, params=params, headers=stellr_headers(http, sims))


def change_seats(
    http: httpx.Client, sims: Simulators, subscription_id: str, quantity: int
) -> httpx.Response:
    url = (
        f"{sims.urls.synnex_api_base_url}/api/v1/customers/{CONTOSO}"
        f"/subscriptions/{subscription_id}/changeSeats"
    )
    return http.post(url, json={"quantity": quantity}, headers=stellr_headers(http, sims))


def graph_token_response(
    http: httpx.Client,
    sims: Simulators,
    tenant: str = s.CONTOSO_TENANT_ID,
    secret: str = s.GRAPH_CLIENT_SECRET,
) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": s.GRAPH_CLIENT_ID,
        "client_secret": secret,
        "scope": f"{sims.urls.graph_base_url}/.default",
    }
    return http.post(f"{sims.urls.graph_authority_host}/{tenant}/oauth2/v2.0/token", data=form)


class GraphCaller:
    """Graph calls with a Contoso (or other tenant) token."""

    def __init__(self, http: httpx.Client, sims: Simulators, tenant: str) -> None:
        self.http, self.base = http, sims.urls.graph_base_url
        token = graph_token_response(http, sims, tenant).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(self.base + path, params=params, headers=self.headers)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(self.base + path, json=body, headers=self.headers)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(self.base + path, json=body, headers=self.headers)

    def assign(self, user: str, sku_id: str) -> httpx.Response:
        body = {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []}
        return self.post(f"/v1.0/users/{user}/assignLicense", body)


@pytest.fixture
def graph(http: httpx.Client, sims: Simulators) -> GraphCaller:
    return GraphCaller(http, sims, s.CONTOSO_TENANT_ID)


def graph_error(response: httpx.Response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["code"], error["message"]


class TestPki:
    def test_reuses_the_ca_when_present(self, tmp_path: Path) -> None:
        """A second run keeps the CA, so a CA already trusted stays valid."""
        first = ensure_pki(tmp_path).ca_file.read_bytes()
        assert ensure_pki(tmp_path).ca_file.read_bytes() == first

    def test_bundle_holds_certifi_roots_and_the_ca(self, tmp_path: Path) -> None:
        """bundle.pem = certifi's roots + the CA, so SSL_CERT_FILE can still reach real hosts."""
        files = ensure_pki(tmp_path)
        bundle = files.bundle_file.read_bytes()
        assert bundle.startswith(Path(certifi.where()).read_bytes().rstrip(b"\n"))
        assert bundle.endswith(files.ca_file.read_bytes())

    def test_ssl_cert_file_makes_httpx_trust_the_simulators(
        self, sims: Simulators, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """httpx with default verification trusts the simulators through SSL_CERT_FILE."""
        monkeypatch.setenv("SSL_CERT_FILE", str(sims.pki.bundle_file))
        with httpx.Client() as client:
            assert client.get(f"{sims.urls.synnex_api_base_url}/_sim/stats").status_code == 200


class TestStellrToken:
    def test_issues_a_bearer_token_for_sandbox_credentials(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Client credentials give a Bearer token valid for 7200 s."""
        body = stellr_token(http, sims).json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 7200
        assert body["access_token"]

    @pytest.mark.parametrize(
        ("client_id", "secret"),
        [
            (s.SANDBOX_CLIENT_ID, "wrong"),
            (s.PRODUCTION_CLIENT_ID, s.PRODUCTION_CLIENT_SECRET),
        ],
        ids=["wrong-secret", "production-credential-on-sandbox"],
    )
    def test_rejects_bad_credentials_with_invalid_client(
        self, http: httpx.Client, sims: Simulators, client_id: str, secret: str
    ) -> None:
        """A wrong secret, or a credential of the other environment, is 401 invalid_client."""
        response = stellr_token(http, sims, client_id, secret)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    @pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
    def test_requires_a_valid_bearer_token(
        self, http: httpx.Client, sims: Simulators, authorization: str | None
    ) -> None:
        """The API answers 401 without a valid token."""
        headers = {"Authorization": authorization} if authorization else {}
        url = f"{sims.urls.synnex_api_base_url}/api/v1/cloud/customers?pageNo=1&pageSize=10"
        response = http.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["errorCode"] == "UNAUTHORIZED"

    def test_expired_tokens_answer_401(self, http: httpx.Client, sims: Simulators) -> None:
        """After expiry a held token is refused; a new one works."""
        headers = stellr_headers(http, sims)
        sims.stellr.expire_tokens()
        url = f"{sims.urls.synnex_api_base_url}/api/v1/cloud/customers/{CONTOSO}"
        assert http.get(url, headers=headers).status_code == 401
        assert http.get(url, headers=stellr_headers(http, sims)).status_code == 200

    def test_answers_403_to_a_credential_without_api_access(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """A token is issued, but the reads are forbidden."""
        token = stellr_token(http, sims, s.NO_ACCESS_CLIENT_ID, s.NO_ACCESS_CLIENT_SECRET)
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        url = f"{sims.urls.synnex_api_base_url}/api/v1/cloud/customers?pageNo=1&pageSize=10"
        assert http.get(url, headers=headers).status_code == 403


class TestStellrLists:
    def test_answers_zero_records_without_paging_parameters(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """The pitfall: no pageNo/pageSize is an empty list, not an error."""
        body = stellr_get(http, sims, "/api/v1/cloud/customers").json()
        assert body["data"] == {"total": 0, "records": []}
        uuid.UUID(body["requestId"])

    def test_walks_every_customer_page_by_page(self, http: httpx.Client, sims: Simulators) -> None:
        """205 customers come as 100 + 100 + 5 at pageSize 100."""
        sizes: list[int] = []
        numbers: set[str] = set()
        for page in (1, 2, 3, 4):
            data = stellr_get(http, sims, "/api/v1/cloud/customers", pageNo=page, pageSize=100)
            data = data.json()["data"]
            assert data["total"] == s.NORTHWIND_CUSTOMER_COUNT
            sizes.append(len(data["records"]))
            numbers.update(record["customerNo"] for record in data["records"])
        assert sizes == [100, 100, 5, 0]
        assert len(numbers) == 205
        assert {CONTOSO, s.FABRIKAM_CUSTOMER_NO} <= numbers
        assert s.WIDE_WORLD_CUSTOMER_NO not in numbers

    def test_cuts_the_page_size_to_200(self, http: httpx.Client, sims: Simulators) -> None:
        """A page size above the maximum gives a short first page, total still right."""
        data = stellr_get(http, sims, "/api/v1/cloud/customers", pageNo=1, pageSize=500).json()
        assert (data["data"]["total"], len(data["data"]["records"])) == (205, 200)

    def test_lists_a_customer_with_150_lines_over_two_pages(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Adventure Works needs two pages of subscriptions at pageSize 100."""
        path = f"/api/v1/customers/{s.ADVENTURE_WORKS_CUSTOMER_NO}/subscriptions"
        first = stellr_get(http, sims, path, pageNo=1, pageSize=100).json()["data"]
        second = stellr_get(http, sims, path, pageNo=2, pageSize=100).json()["data"]
        assert first["total"] == 150
        assert (len(first["records"]), len(second["records"])) == (100, 50)

    def test_lists_contoso_lines_as_the_assumed_wire_format(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Mixed vendors, a blank and a suspended status, a term only in the product name."""
        path = f"/api/v1/customers/{CONTOSO}/subscriptions"
        records = stellr_get(http, sims, path, pageNo=1, pageSize=100).json()["data"]["records"]
        by_id = {record["id"]: record for record in records}
        assert by_id[s.SPB_ANNUAL_SUBSCRIPTION_ID] == {
            "id": "411833_1",
            "contractNo": "411833",
            "customerNo": "100234",
            "vendorName": "Microsoft",
            "productName": "Microsoft 365 Business Premium (NCE Annual)",
            "mfgPartNo": "CFQ7TTC0LCHC:0002",
            "quantity": 12,
            "status": "active",
            "billingFrequency": "month",
            "term": "annual",
            "renewalDate": "2027-03-01",
        }
        assert "term" not in by_id[s.SPB_MONTHLY_SUBSCRIPTION_ID]
        assert by_id[s.WEBEX_SUBSCRIPTION_ID]["vendorName"] == "Cisco"
        assert by_id[s.EXCHANGE_SUBSCRIPTION_ID]["status"] == ""
        assert by_id[s.BASIC_SUSPENDED_SUBSCRIPTION_ID]["status"] == "suspended"

    def test_names_contoso_lines_as_synnex_decorates_them(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Business Premium three ways, Exchange, and a product Microsoft's table lacks."""
        path = f"/api/v1/customers/{CONTOSO}/subscriptions"
        records = stellr_get(http, sims, path, pageNo=1, pageSize=100).json()["data"]["records"]
        names = {record["id"]: record["productName"] for record in records}
        assert names[s.SPB_ANNUAL_SUBSCRIPTION_ID] == "Microsoft 365 Business Premium (NCE Annual)"
        assert names[s.SPB_MONTHLY_SUBSCRIPTION_ID] == (
            "Microsoft 365 Business Premium (NCE COM MTH)"
        )
        assert names[s.SPB_M365_SUBSCRIPTION_ID] == "M365 Business Premium - Annual"
        assert names[s.EXCHANGE_SUBSCRIPTION_ID] == "Exchange Online (Plan 1) (NCE Annual)"
        assert names[s.PILOT_BUNDLE_SUBSCRIPTION_ID] == "Microsoft 365 Pilot Bundle (NCE Annual)"

    def test_hides_another_resellers_customer(self, http: httpx.Client, sims: Simulators) -> None:
        """Out of scope: 0 subscriptions listed, and 404 when read directly."""
        no = s.WIDE_WORLD_CUSTOMER_NO
        listed = stellr_get(
            http, sims, f"/api/v1/customers/{no}/subscriptions", pageNo=1, pageSize=9
        )
        assert listed.json()["data"] == {"total": 0, "records": []}
        assert stellr_get(http, sims, f"/api/v1/cloud/customers/{no}").status_code == 404

    def test_reads_one_customer_and_one_subscription(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Single reads answer the record inside `data`; an unknown line is 404."""
        customer = stellr_get(http, sims, f"/api/v1/cloud/customers/{CONTOSO}").json()["data"]
        assert customer["customerName"] == "Contoso Ltd"
        path = f"/api/v1/customers/{CONTOSO}/subscriptions"
        line = stellr_get(http, sims, f"{path}/{s.E3_SUBSCRIPTION_ID}").json()["data"]
        assert line["quantity"] == 5
        missing = stellr_get(http, sims, f"{path}/999999_1")
        assert (missing.status_code, missing.json()["errorCode"]) == (404, "NOT_FOUND")


class TestSeatChange:
    def test_completes_later_then_the_tenant_shows_the_seat(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """in_progress → completed raises the quantity; the SKU grows only after provisioning."""
        started = time.monotonic()
        response = change_seats(http, sims, s.SPB_ANNUAL_SUBSCRIPTION_ID, 13)
        operation_id = response.json()["data"]["operationId"]
        operation_url = f"{sims.urls.synnex_api_base_url}/api/v1/subscriptions/operations/"
        status = http.get(operation_url + operation_id, headers=stellr_headers(http, sims))
        assert status.json()["data"]["status"] == "in_progress"
        assert sims.stellr.subscription_quantity(CONTOSO, s.SPB_ANNUAL_SUBSCRIPTION_ID) == 12

        wait_until(lambda: sims.stellr.operation_status(operation_id) == "completed")
        assert sims.stellr.subscription_quantity(CONTOSO, s.SPB_ANNUAL_SUBSCRIPTION_ID) == 13
        assert time.monotonic() - started >= SEAT_CHANGE_DELAY
        assert sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.SPB_SKU_ID).enabled == 17

        wait_until(lambda: sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.SPB_SKU_ID).enabled == 18)
        assert time.monotonic() - started >= SEAT_CHANGE_DELAY + PROVISIONING_DELAY

    @pytest.mark.parametrize(
        ("subscription_id", "quantity", "code"),
        [
            (s.SPB_ANNUAL_SUBSCRIPTION_ID, 11, "SEAT_DECREASE_NOT_ALLOWED"),
            (s.SPB_ANNUAL_SUBSCRIPTION_ID, 12, "QUANTITY_UNCHANGED"),
            (s.SPB_ANNUAL_SUBSCRIPTION_ID, 0, "INVALID_QUANTITY"),
            (s.BASIC_SUSPENDED_SUBSCRIPTION_ID, 3, "SUBSCRIPTION_NOT_ACTIVE"),
        ],
    )
    def test_refuses_changes_it_cannot_make(
        self, http: httpx.Client, sims: Simulators, subscription_id: str, quantity: int, code: str
    ) -> None:
        """Decreases, no-ops, nonsense and suspended lines are 400, nothing changes."""
        response = change_seats(http, sims, subscription_id, quantity)
        assert (response.status_code, response.json()["errorCode"]) == (400, code)
        assert sims.stellr.seat_change_count() == 0

    def test_a_failed_operation_changes_nothing(self, http: httpx.Client, sims: Simulators) -> None:
        """An operation that ends `failed` leaves the quantity and the tenant alone."""
        sims.stellr.fail_next_seat_changes(1)
        operation_id = change_seats(http, sims, s.E3_SUBSCRIPTION_ID, 6).json()["data"]
        wait_until(lambda: sims.stellr.operation_status(operation_id["operationId"]) == "failed")
        assert sims.stellr.subscription_quantity(CONTOSO, s.E3_SUBSCRIPTION_ID) == 5
        time.sleep(PROVISIONING_DELAY + 0.05)
        assert sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.ENTERPRISEPACK_SKU_ID).enabled == 5

    def test_two_changes_to_the_same_total_add_one_seat(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """The body is a new total: two racing buyers computing 12+1 get one seat, not two."""
        first = change_seats(http, sims, s.SPB_ANNUAL_SUBSCRIPTION_ID, 13).json()["data"]
        second = change_seats(http, sims, s.SPB_ANNUAL_SUBSCRIPTION_ID, 13).json()["data"]
        operations = [first["operationId"], second["operationId"]]
        wait_until(lambda: {sims.stellr.operation_status(op) for op in operations} == {"completed"})
        assert sims.stellr.subscription_quantity(CONTOSO, s.SPB_ANNUAL_SUBSCRIPTION_ID) == 13
        wait_until(lambda: sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.SPB_SKU_ID).enabled == 18)


class TestEntra:
    def _app(
        self, sims: Simulators, tls: ssl.SSLContext, tenant: str
    ) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            s.GRAPH_CLIENT_ID,
            client_credential=s.GRAPH_CLIENT_SECRET,
            authority=f"{sims.urls.graph_authority_host}/{tenant}",
            instance_discovery=False,
            http_client=httpx.Client(verify=tls),
        )

    def test_msal_acquires_a_token_then_serves_it_from_cache(
        self, sims: Simulators, tls: ssl.SSLContext
    ) -> None:
        """msal 1.39 discovers the tenant, gets a token, and caches it."""
        app = self._app(sims, tls, s.CONTOSO_TENANT_ID)
        scopes = [f"{sims.urls.graph_base_url}/.default"]
        first = app.acquire_token_for_client(scopes)
        assert first["token_source"] == "identity_provider", first
        assert first["expires_in"] > 3000
        assert app.acquire_token_for_client(scopes)["token_source"] == "cache"

    def test_msal_raises_for_an_unknown_tenant(self, sims: Simulators, tls: ssl.SSLContext) -> None:
        """Discovery of an unknown tenant is 400 AADSTS90002, which msal raises as ValueError."""
        with pytest.raises(ValueError, match="tenant name or GUID") as raised:
            self._app(sims, tls, "00000000-0000-0000-0000-000000000001")
        assert "AADSTS90002" in str(raised.value.__context__)

    def test_refuses_a_tenant_without_consent(self, sims: Simulators, tls: ssl.SSLContext) -> None:
        """No service principal in the tenant: invalid_client with AADSTS7000229."""
        app = self._app(sims, tls, s.LITWARE_TENANT_ID)
        result = app.acquire_token_for_client([f"{sims.urls.graph_base_url}/.default"])
        assert result["error"] == "invalid_client"
        assert "AADSTS7000229" in result["error_description"]

    def test_refuses_a_wrong_secret_with_401(self, http: httpx.Client, sims: Simulators) -> None:
        """A wrong secret is 401 invalid_client AADSTS7000215."""
        response = graph_token_response(http, sims, secret="wrong")
        assert response.status_code == 401
        assert response.json()["error_codes"] == [7000215]

    def test_resolves_a_tenant_by_verified_domain(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Discovery by domain points at the tenant GUID, on this server."""
        url = f"{sims.urls.graph_authority_host}/contoso.com/v2.0/.well-known/openid-configuration"
        config = http.get(url).json()
        expected = f"{sims.urls.graph_authority_host}/{s.CONTOSO_TENANT_ID}/oauth2/v2.0/token"
        assert config["token_endpoint"] == expected
        assert config["issuer"].endswith(f"/{s.CONTOSO_TENANT_ID}/v2.0")


class TestSubscribedSkus:
    def test_honours_select(self, graph: GraphCaller) -> None:
        """Only the selected properties come back."""
        body = graph.get("/v1.0/subscribedSkus", **{"$select": "skuId,prepaidUnits"}).json()
        assert all(set(sku) == {"skuId", "prepaidUnits"} for sku in body["value"])

    def test_reports_units_per_sku(self, graph: GraphCaller) -> None:
        """SPB full, E3 one free, Power BI all in warning, Business Basic suspended."""
        skus = {
            sku["skuPartNumber"]: sku for sku in graph.get("/v1.0/subscribedSkus").json()["value"]
        }
        assert (skus["SPB"]["prepaidUnits"]["enabled"], skus["SPB"]["consumedUnits"]) == (17, 17)
        e3 = skus["ENTERPRISEPACK"]
        assert (e3["skuId"], e3["prepaidUnits"]["enabled"], e3["consumedUnits"]) == (
            s.ENTERPRISEPACK_SKU_ID,
            5,
            4,
        )
        assert skus["POWER_BI_PRO"]["prepaidUnits"] == {
            "enabled": 0,
            "suspended": 0,
            "warning": 2,
            "lockedOut": 0,
        }
        assert skus["POWER_BI_PRO"]["capabilityStatus"] == "Warning"
        assert skus["O365_BUSINESS_ESSENTIALS"]["capabilityStatus"] == "Suspended"

    def test_refuses_filter(self, graph: GraphCaller) -> None:
        """Only $select works on subscribedSkus."""
        response = graph.get("/v1.0/subscribedSkus", **{"$filter": f"skuId eq '{s.SPB_SKU_ID}'"})
        assert response.status_code == 400

    def test_reads_only_the_tokens_tenant(self, http: httpx.Client, sims: Simulators) -> None:
        """A Fabrikam token sees Fabrikam's licences only."""
        fabrikam = GraphCaller(http, sims, s.FABRIKAM_TENANT_ID)
        skus = fabrikam.get("/v1.0/subscribedSkus").json()["value"]
        assert [sku["skuPartNumber"] for sku in skus] == ["O365_BUSINESS_PREMIUM"]

    def test_requires_a_token(self, http: httpx.Client, sims: Simulators) -> None:
        """No token: 401 InvalidAuthenticationToken with a request-id header."""
        response = http.get(f"{sims.urls.graph_base_url}/v1.0/subscribedSkus")
        assert response.status_code == 401
        assert graph_error(response)[0] == "InvalidAuthenticationToken"
        assert response.headers["request-id"]


class TestUsers:
    def test_leaves_usage_location_out_unless_selected(self, graph: GraphCaller) -> None:
        """The default projection has no usageLocation; $select brings it."""
        user = "megan.bowen@contoso.com"
        assert "usageLocation" not in graph.get(f"/v1.0/users/{user}").json()
        selected = graph.get(
            f"/v1.0/users/{user}", **{"$select": "id,userPrincipalName,usageLocation"}
        ).json()
        assert selected["usageLocation"] == "US"
        assert set(selected) == {"@odata.context", "id", "userPrincipalName", "usageLocation"}

    def test_answers_404_for_an_unknown_user(self, graph: GraphCaller) -> None:
        """Request_ResourceNotFound, with the request-id in header and body."""
        response = graph.get("/v1.0/users/nobody@contoso.com")
        assert response.status_code == 404
        assert graph_error(response)[0] == "Request_ResourceNotFound"
        inner = response.json()["error"]["innerError"]
        assert inner["request-id"] == response.headers["request-id"]

    def test_a_new_user_appears_after_replication(
        self, graph: GraphCaller, sims: Simulators
    ) -> None:
        """A just-created user is 404 for a while, then found."""
        sims.graph.add_user(s.CONTOSO_TENANT_ID, "just.created@contoso.com", appear_after=0.3)
        assert graph.get("/v1.0/users/just.created@contoso.com").status_code == 404
        wait_until(lambda: graph.get("/v1.0/users/just.created@contoso.com").status_code == 200)

    def test_patch_sets_the_usage_location(self, graph: GraphCaller) -> None:
        """PATCH usageLocation answers 204 and the value sticks."""
        response = graph.patch(f"/v1.0/users/{s.NEW_HIRE_UPN}", {"usageLocation": "US"})
        assert response.status_code == 204
        user = graph.get(f"/v1.0/users/{s.NEW_HIRE_UPN}", **{"$select": "usageLocation"})
        assert user.json()["usageLocation"] == "US"

    def test_patch_refuses_an_invalid_usage_location(self, graph: GraphCaller) -> None:
        """A usage location that is not two letters is 400."""
        response = graph.patch(f"/v1.0/users/{s.NEW_HIRE_UPN}", {"usageLocation": "USA"})
        assert response.status_code == 400


class TestAssignLicense:
    @pytest.mark.parametrize("missing", ["addLicenses", "removeLicenses"])
    def test_requires_both_arrays(self, graph: GraphCaller, missing: str) -> None:
        """Leaving either array out is 400 naming it."""
        body: dict[str, Any] = {"addLicenses": [{"skuId": s.ENTERPRISEPACK_SKU_ID}]}
        body["removeLicenses"] = []
        del body[missing]
        response = graph.post("/v1.0/users/megan.bowen@contoso.com/assignLicense", body)
        assert response.status_code == 400
        assert missing in graph_error(response)[1]

    def test_refuses_a_user_without_usage_location(self, graph: GraphCaller) -> None:
        """The new hire has no usage location yet."""
        response = graph.assign(s.NEW_HIRE_UPN, s.ENTERPRISEPACK_SKU_ID)
        assert response.status_code == 400
        assert graph_error(response) == (
            "Request_BadRequest",
            "License assignment cannot be done for user with invalid usage location.",
        )

    def test_assigns_the_free_seat_then_runs_out(
        self, graph: GraphCaller, sims: Simulators
    ) -> None:
        """E3's one free seat is consumed; SPB has none."""
        graph.patch(f"/v1.0/users/{s.NEW_HIRE_UPN}", {"usageLocation": "US"})
        assigned = graph.assign(s.NEW_HIRE_UPN, s.ENTERPRISEPACK_SKU_ID)
        assert assigned.status_code == 200
        assert assigned.json()["userPrincipalName"] == s.NEW_HIRE_UPN
        assert sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.ENTERPRISEPACK_SKU_ID).consumed == 5
        assert sims.graph.assigned_licenses(s.CONTOSO_TENANT_ID, s.NEW_HIRE_UPN) == [
            s.ENTERPRISEPACK_SKU_ID
        ]
        refused = graph.assign(s.NEW_HIRE_UPN, s.SPB_SKU_ID)
        assert refused.status_code == 400
        assert graph_error(refused) == (
            "Request_BadRequest",
            f"Subscription with SKU {s.SPB_SKU_ID} does not have any available licenses.",
        )

    def test_an_already_held_sku_succeeds_without_a_seat(
        self, graph: GraphCaller, sims: Simulators
    ) -> None:
        """Assigning SPB again to a holder is 200 and consumes nothing."""
        assert graph.assign("megan.bowen@contoso.com", s.SPB_SKU_ID).status_code == 200
        assert sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.SPB_SKU_ID).consumed == 17

    def test_buys_a_seat_then_assigns_it(
        self, http: httpx.Client, sims: Simulators, graph: GraphCaller
    ) -> None:
        """The whole story: no seat, raise 411833_1 to 13, wait for the tenant, assign."""
        graph.patch(f"/v1.0/users/{s.NEW_HIRE_UPN}", {"usageLocation": "US"})
        assert graph.assign(s.NEW_HIRE_UPN, s.SPB_SKU_ID).status_code == 400
        assert change_seats(http, sims, s.SPB_ANNUAL_SUBSCRIPTION_ID, 13).status_code == 200
        wait_until(lambda: graph.assign(s.NEW_HIRE_UPN, s.SPB_SKU_ID).status_code == 200)
        assert sims.graph.sku_units(s.CONTOSO_TENANT_ID, s.SPB_SKU_ID).consumed == 18


class TestFaults:
    def test_injects_429_with_retry_after_a_set_number_of_times(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """Two 429s with Retry-After, then the real answer; counted per route."""
        sims.set_faults(
            stellr=[FaultRule(route="/api/v1/cloud/customers", status=429, count=2, retry_after=3)]
        )
        statuses = [stellr_get(http, sims, f"/api/v1/cloud/customers/{CONTOSO}") for _ in range(3)]
        assert [r.status_code for r in statuses] == [429, 429, 200]
        assert statuses[0].headers["Retry-After"] == "3"
        key = "GET /api/v1/cloud/customers/{customer_no}"
        assert sims.stellr.request_counts()[key] == 3
        assert sims.stellr.fault_counts()[key] == 2

    def test_probabilistic_faults_repeat_with_the_same_seed(
        self, http: httpx.Client, sims: Simulators, graph: GraphCaller
    ) -> None:
        """The same seed and request order fail the same requests."""

        def run() -> list[int]:
            rule = FaultRule(route="/v1.0/subscribedSkus", status=503, probability=0.5)
            sims.set_faults(graph=[rule], seed=42)
            return [graph.get("/v1.0/subscribedSkus").status_code for _ in range(16)]

        first = run()
        assert set(first) == {200, 503}
        assert run() == first

    def test_adds_latency(self, graph: GraphCaller, sims: Simulators) -> None:
        """A latency rule slows the matching route."""
        sims.set_faults(graph=[FaultRule(route="/v1.0/users", latency_ms=150)])
        started = time.monotonic()
        graph.get(f"/v1.0/users/{s.NEW_HIRE_UPN}")
        assert time.monotonic() - started >= 0.15

    def test_admin_endpoint_faults_every_tenants_token_endpoint(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """POST /_sim/faults with a wildcard route; the token endpoint answers 503 once."""
        rules = [{"route": "/*/oauth2/v2.0/token", "status": 503, "count": 1, "retry_after": 1}]
        admin = http.post(f"{sims.urls.graph_authority_host}/_sim/faults", json={"rules": rules})
        assert admin.status_code == 200
        failed = graph_token_response(http, sims)
        assert (failed.status_code, failed.json()["error"]) == (503, "temporarily_unavailable")
        assert graph_token_response(http, sims).status_code == 200

    def test_admin_endpoint_rejects_unknown_keys(
        self, http: httpx.Client, sims: Simulators
    ) -> None:
        """A typo in a rule is a 400, not a silently ignored knob."""
        rules = [{"route": "/", "stauts": 500}]
        response = http.post(f"{sims.urls.synnex_api_base_url}/_sim/faults", json={"rules": rules})
        assert response.status_code == 400

    def test_a_business_error_can_hide_in_a_200(self, http: httpx.Client, sims: Simulators) -> None:
        """Status 200 injects Stellr's `errorMessage` inside a 2xx answer."""
        sims.set_faults(stellr=[FaultRule(route="/api/", status=200, count=1)])
        body = stellr_get(http, sims, f"/api/v1/cloud/customers/{CONTOSO}").json()
        assert "errorMessage" in body
        assert "data" not in body


class TestAdminEndpoints:
    def test_stats_count_requests_per_route(self, http: httpx.Client, sims: Simulators) -> None:
        """GET /_sim/stats counts app calls per route, admin calls excluded."""
        stellr_get(http, sims, f"/api/v1/cloud/customers/{CONTOSO}")
        stats = http.get(f"{sims.urls.synnex_token_url.rsplit('/oauth2', 1)[0]}/_sim/stats").json()
        assert stats["requests"] == {
            "POST /oauth2/v1/token": 1,
            "GET /api/v1/cloud/customers/{customer_no}": 1,
        }

    def test_reset_restores_the_seeded_world(self, http: httpx.Client, sims: Simulators) -> None:
        """POST /_sim/reset undoes changes and drops pending ones."""
        change_seats(http, sims, s.E3_SUBSCRIPTION_ID, 9)
        assert http.post(f"{sims.urls.synnex_api_base_url}/_sim/reset").status_code == 200
        time.sleep(SEAT_CHANGE_DELAY + 0.05)
        assert sims.stellr.subscription_quantity(CONTOSO, s.E3_SUBSCRIPTION_ID) == 5
        assert sims.stellr.request_counts() == {}

    def test_creates_a_user_that_appears_later(self, http: httpx.Client, sims: Simulators) -> None:
        """POST /_sim/users adds a user to a tenant, found after its delay."""
        body = {
            "tenant": "contoso.com",
            "userPrincipalName": "late.hire@contoso.com",
            "appearAfterSeconds": 0.2,
        }
        created = http.post(f"{sims.urls.graph_base_url}/_sim/users", json=body)
        assert created.status_code == 201
        graph = GraphCaller(http, sims, s.CONTOSO_TENANT_ID)
        assert graph.get("/v1.0/users/late.hire@contoso.com").status_code == 404
        wait_until(lambda: graph.get(f"/v1.0/users/{created.json()['id']}").status_code == 200)


class TestStateFile:
    def test_saves_on_close_and_loads_on_start(self, tmp_path: Path) -> None:
        """A seat change in flight lands before saving, and the next start sees it."""
        state = tmp_path / "state.json"
        with (
            start_simulators(tmp_path / "pki", state_file=state, seat_change_delay=60) as first,
            httpx.Client(verify=ssl.create_default_context(cafile=str(first.ca_file))) as http,
        ):
            assert change_seats(http, first, s.E3_SUBSCRIPTION_ID, 7).status_code == 200
        with start_simulators(tmp_path / "pki", state_file=state) as second:
            assert second.stellr.subscription_quantity(CONTOSO, s.E3_SUBSCRIPTION_ID) == 7
            units = second.graph.sku_units(s.CONTOSO_TENANT_ID, s.ENTERPRISEPACK_SKU_ID)
            assert units.enabled == 7


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGTERM")
class TestCommandLine:
    def test_prints_the_settings_and_stops_cleanly_on_sigterm(self, tmp_path: Path) -> None:
        """`python -m devtools.simulators` serves until SIGTERM, then exits 0."""
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.simulators", "--port", "0", "--pki", str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            settings: dict[str, str] = {}
            for line in process.stdout:
                name, _, value = line.strip().partition("=")
                settings[name] = value
                if line.startswith("Stop with"):
                    break
            tls = ssl.create_default_context(cafile=settings["SSL_CERT_FILE"])
            with httpx.Client(verify=tls) as client:
                form = {
                    "grant_type": "client_credentials",
                    "client_id": s.SANDBOX_CLIENT_ID,
                    "client_secret": s.SANDBOX_CLIENT_SECRET,
                }
                assert client.post(settings["SYNNEX_TOKEN_URL"], data=form).status_code == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
