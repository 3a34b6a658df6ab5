"""HTTP: Synnex credentials of an MSP root, tested before they are stored (contract section 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.http.conftest import (
    GRAPH_SECRET,
    SYNNEX_CLIENT_ID,
    SYNNEX_SECRET,
    SYNNEX_TOKEN,
    Answer,
    Api,
    Stellr,
    credentials_body,
    everything_logged,
    restart,
)


def token_refused(status: int = 401) -> httpx.Response:
    """The token endpoint refusing a client id or secret."""
    return httpx.Response(
        status, json={"error": "invalid_client", "error_description": "Invalid client secret"}
    )


def assert_unavailable(answer: Answer) -> None:
    """A 503 problem with a whole, positive Retry-After."""
    assert answer.is_problem(503), answer.text
    assert int(answer.headers["Retry-After"]) >= 1


class TestPutSynnexCredentials:
    def test_stores_working_credentials_and_answers_what_they_see(
        self, api: Api, msp: str, stellr: Stellr
    ) -> None:
        """Token, then one read: 200 with valid, environment, region and customers_visible."""
        answer = api.put_credentials(msp, credentials_body())
        assert answer.status == 200
        assert answer.mimetype == "application/json"
        assert answer.json == {
            "valid": True,
            "environment": "sandbox",
            "region": "us",
            "customers_visible": 3,
        }
        form = parse_qs(stellr.token.calls.last.request.content.decode())
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_id"] == [SYNNEX_CLIENT_ID]
        read = stellr.customers.calls.last.request
        assert read.headers["Authorization"] == f"Bearer {SYNNEX_TOKEN}"
        assert (read.url.params["pageNo"], read.url.params["pageSize"]) == ("1", "1")

    def test_lets_the_stored_credentials_be_tested_again(
        self, api: Api, msp: str, stellr: Stellr
    ) -> None:
        """After a successful PUT, POST .../test (in a new process) uses the stored ones."""
        api.put_credentials(msp, credentials_body(environment="production", region="ca"))
        restart()
        stellr.router.reset()
        answer = api.test_credentials(msp)
        assert answer.status == 200
        assert answer.json == {
            "valid": True,
            "environment": "production",
            "region": "ca",
            "customers_visible": 3,
        }
        form = parse_qs(stellr.token.calls.last.request.content.decode())
        assert (form["client_id"], form["client_secret"]) == ([SYNNEX_CLIENT_ID], [SYNNEX_SECRET])
        assert stellr.customers.call_count == 1

    @pytest.mark.parametrize("status", [400, 401])
    def test_refuses_rejected_credentials_with_422_and_stores_nothing(
        self, api: Api, msp: str, stellr: Stellr, status: int
    ) -> None:
        """A refused token: 422 invalid_credentials, with the 10-minute and environment hints."""
        stellr.token.mock(return_value=token_refused(status))
        answer = api.put_credentials(msp, credentials_body())
        assert answer.is_problem(422)
        body = answer.json
        assert (body["valid"], body["reason"]) == (False, "invalid_credentials")
        assert (body["environment"], body["region"]) == ("sandbox", "us")
        assert "10 minutes" in answer.detail
        assert "sandbox" in answer.detail.lower()
        assert "production" in answer.detail.lower()
        assert stellr.customers.call_count == 0
        assert api.test_credentials(msp).is_problem(404)

    def test_reports_credentials_without_api_access_with_422_and_stores_nothing(
        self, api: Api, msp: str, stellr: Stellr
    ) -> None:
        """A token, then 403 on the read: 422 no_api_access, nothing stored."""
        stellr.customers.mock(return_value=httpx.Response(403, json={"message": "Forbidden"}))
        answer = api.put_credentials(msp, credentials_body())
        assert answer.is_problem(422)
        assert (answer.json["valid"], answer.json["reason"]) == (False, "no_api_access")
        assert "permission" in answer.detail.lower()
        assert api.test_credentials(msp).is_problem(404)

    def test_keeps_the_stored_credentials_when_new_ones_are_rejected(
        self, api: Api, msp_with_credentials: str, stellr: Stellr
    ) -> None:
        """A rejected replacement leaves the working credentials in place."""
        stellr.token.mock(return_value=token_refused())
        rejected = api.put_credentials(
            msp_with_credentials, credentials_body(client_secret="canary-rotated-secret-0c1f")
        )
        assert rejected.is_problem(422)
        tested = api.test_credentials(msp_with_credentials)
        assert tested.status == 200
        assert tested.json["environment"] == "sandbox"

    @pytest.mark.parametrize(
        ("route", "failure"),
        [
            ("token", httpx.ConnectError),
            ("token", httpx.ConnectTimeout),
            ("token", httpx.Response(503)),
            ("customers", httpx.ConnectError),
            ("customers", httpx.Response(503, json={"message": "Service Unavailable"})),
        ],
    )
    def test_answers_503_when_synnex_cannot_be_reached_and_stores_nothing(
        self, api: Api, msp: str, stellr: Stellr, route: str, failure: Any
    ) -> None:
        """Connection refused, timeout or 503 at either call: 503 with Retry-After, nothing kept."""
        target = stellr.token if route == "token" else stellr.customers
        if isinstance(failure, httpx.Response):
            target.mock(return_value=failure)
        else:
            target.mock(side_effect=failure)
        assert_unavailable(api.put_credentials(msp, credentials_body()))
        assert api.test_credentials(msp).is_problem(404)

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"environment": "staging"}, "environment"),
            ({"environment": None}, "environment"),
            ({"region": "eu"}, "region"),
            ({"client_id": ""}, "client_id"),
            ({"client_secret": ""}, "client_secret"),
            ({"client_secret": 12345}, "client_secret"),
        ],
    )
    def test_refuses_a_malformed_body_with_422_naming_the_field(
        self, api: Api, msp: str, stellr: Stellr, overrides: dict[str, Any], field: str
    ) -> None:
        """An unknown environment or region, or a blank id or secret: 422, Synnex not called."""
        answer = api.put_credentials(msp, credentials_body(**overrides))
        assert answer.is_problem(422)
        assert answer.detail.startswith(field)
        assert stellr.call_count() == 0

    def test_refuses_a_body_without_a_secret_with_422(
        self, api: Api, msp: str, stellr: Stellr
    ) -> None:
        """No client_secret at all: 422 naming it."""
        body = credentials_body()
        del body["client_secret"]
        answer = api.put_credentials(msp, body)
        assert answer.is_problem(422)
        assert answer.detail.startswith("client_secret")

    def test_refuses_credentials_for_a_customer_org_with_422(
        self, api: Api, customer: str, stellr: Stellr
    ) -> None:
        """Only an MSP root holds credentials: a customer org gets 422, nothing is stored."""
        answer = api.put_credentials(customer, credentials_body())
        assert answer.is_problem(422)
        assert "org_id" in answer.detail
        assert stellr.call_count() == 0
        assert api.test_credentials(customer).is_problem(404)

    def test_answers_404_for_an_unknown_org(
        self, api: Api, new_id: Callable[[str], str], stellr: Stellr
    ) -> None:
        """An unknown org: 404, Synnex not called."""
        assert api.put_credentials(new_id("nobody"), credentials_body()).is_problem(404)
        assert stellr.call_count() == 0

    def test_answers_400_for_a_malformed_org_id(self, api: Api, stellr: Stellr) -> None:
        """A malformed org id: 400 naming org_id."""
        answer = api.put_credentials("north wind", credentials_body())
        assert answer.is_problem(400)
        assert answer.detail.startswith("org_id")


class TestTestSynnexCredentials:
    def test_answers_404_when_none_are_stored(self, api: Api, msp: str, stellr: Stellr) -> None:
        """An MSP root without stored credentials: 404, Synnex not called."""
        assert api.test_credentials(msp).is_problem(404)
        assert stellr.call_count() == 0

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404."""
        assert api.test_credentials(new_id("nobody")).is_problem(404)

    def test_answers_422_when_the_stored_credentials_stopped_working(
        self, api: Api, msp_with_credentials: str, stellr: Stellr
    ) -> None:
        """A revoked secret: the read gets 401, the fresh token is refused: 422 invalid."""
        stellr.customers.mock(return_value=httpx.Response(401))
        stellr.token.mock(return_value=token_refused())
        answer = api.test_credentials(msp_with_credentials)
        assert answer.is_problem(422)
        assert (answer.json["valid"], answer.json["reason"]) == (False, "invalid_credentials")

    def test_answers_503_when_synnex_cannot_be_reached(
        self, api: Api, msp_with_credentials: str, stellr: Stellr
    ) -> None:
        """Synnex down: 503 with Retry-After."""
        stellr.customers.mock(side_effect=httpx.ConnectError)
        assert_unavailable(api.test_credentials(msp_with_credentials))


class TestSecrecy:
    def test_never_shows_the_secret_in_an_answer_or_a_log(
        self,
        api: Api,
        msp: str,
        customer: str,
        stellr: Stellr,
        debug_logs: pytest.LogCaptureFixture,
    ) -> None:
        """Stored, tested, rejected, refused and failing: no answer and no log shows a secret."""
        api.put_credentials(msp, credentials_body())
        api.test_credentials(msp)
        api.put_credentials(customer, credentials_body())
        api.put_credentials(msp, credentials_body(environment="staging"))
        api.put_credentials(
            msp, b'{"environment": "sandbox", "client_secret": "' + SYNNEX_SECRET.encode()
        )
        stellr.customers.mock(return_value=httpx.Response(403))
        api.put_credentials(msp, credentials_body())
        stellr.token.mock(return_value=token_refused())
        api.put_credentials(msp, credentials_body(client_id="contoso-other-app"))
        stellr.token.mock(side_effect=httpx.ConnectError)
        api.put_credentials(msp, credentials_body(client_id="contoso-third-app"))
        assert len(api.answers) >= 10
        assert debug_logs.records, "the DEBUG capture saw nothing"
        for secret in (SYNNEX_SECRET, SYNNEX_TOKEN, GRAPH_SECRET):
            for answer in api.answers:
                assert secret not in answer.text
                assert secret not in str(answer.headers)
            assert secret not in everything_logged(debug_logs)
