"""The HTTP edge: problem details, body parsing, query flags and the mapping of errors."""

from __future__ import annotations

import json
from typing import Annotated, Any

import azure.functions as func
import pytest
from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.edge.web import (
    MAX_BODY_BYTES,
    PROBLEM_TYPE,
    flag,
    handles_errors,
    json_response,
    parse_body,
    problem,
)
from shared.errors import (
    ConfigurationError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
    UpstreamRejected,
)
from shared.models import CredentialsIn, Org

CANARY = "canary-secret-2b8e51"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


class LicenseLine(BaseModel):
    model_config = ConfigDict(strict=True)

    sku_id: Annotated[str, StringConstraints(min_length=36, max_length=36)]


class NewHire(BaseModel):
    """A nested body, so that errors deep inside it have a location to name."""

    model_config = ConfigDict(strict=True, extra="ignore")

    user: str
    licenses: list[LicenseLine]


def request(
    body: bytes | dict[str, Any] | list[Any] | str = b"",
    *,
    method: str = "PUT",
    params: dict[str, str] | None = None,
) -> func.HttpRequest:
    """A request as the Functions host hands it over."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest(
        method,
        "http://localhost/api/orgs/contoso/synnex-credentials",
        headers={"content-type": "application/json"},
        params=params or {},
        route_params={"org_id": "contoso"},
        body=raw,
    )


def invalid(req: func.HttpRequest, model: type[BaseModel]) -> InvalidInput:
    """The InvalidInput that parse_body raises for `req`."""
    with pytest.raises(InvalidInput) as caught:
        parse_body(req, model)
    return caught.value


def answer_of(error: Exception) -> func.HttpResponse:
    """What a handler that raises `error` answers once wrapped by handles_errors."""

    @handles_errors
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        raise error

    return handler(request(method="GET"))


def body_of(response: func.HttpResponse) -> dict[str, Any]:
    parsed = json.loads(response.get_body())
    assert isinstance(parsed, dict)
    return parsed


class TestProblem:
    def test_has_the_four_members_of_rfc_9457(self) -> None:
        """type, title, status and detail, as application/problem+json."""
        response = problem(404, "org 'contoso' not found", kind="not-found")
        body = body_of(response)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert body["type"].endswith("/not-found")
        assert body["title"] == "Not Found"
        assert body["status"] == 404
        assert body["detail"] == "org 'contoso' not found"

    def test_derives_the_type_from_the_title_without_a_kind(self) -> None:
        """No kind: the type ends with the status phrase in kebab case."""
        body = body_of(problem(409, "org 'contoso' changed meanwhile"))
        assert body["title"] == "Conflict"
        assert body["type"] == PROBLEM_TYPE + "conflict"

    def test_carries_extension_members_and_headers(self) -> None:
        """Extra members join the body; headers are sent as given."""
        response = problem(503, "synnex is unavailable", headers={"Retry-After": "120"}, x=1)
        assert body_of(response)["x"] == 1
        assert response.headers["Retry-After"] == "120"


class TestJsonResponse:
    def test_serialises_a_model(self) -> None:
        """A model becomes its JSON, as application/json."""
        response = json_response(Org(org_id="contoso", name="Contoso Ltd"), status=201)
        assert response.status_code == 201
        assert response.mimetype == "application/json"
        assert body_of(response)["org_id"] == "contoso"

    def test_serialises_a_list_of_models(self) -> None:
        """A list of models becomes a JSON array of objects."""
        response = json_response([Org(org_id="contoso", name="Contoso Ltd")])
        assert json.loads(response.get_body()) == [
            {
                "org_id": "contoso",
                "name": "Contoso Ltd",
                "parent_id": None,
                "m365_tenant_id": None,
                "synnex_customer_no": None,
            }
        ]


class TestParseBody:
    def test_returns_the_model_of_a_valid_body(self) -> None:
        """A valid object is validated into the model."""
        hire = parse_body(
            request({"user": "new.hire@contoso.com", "licenses": [{"sku_id": SPB}]}), NewHire
        )
        assert hire == NewHire(user="new.hire@contoso.com", licenses=[LicenseLine(sku_id=SPB)])

    @pytest.mark.parametrize("raw", [b"", b"{", b"{'user': 1}", b"\xff\xfe\x00{", b"null x"])
    def test_refuses_malformed_json_with_a_400_naming_the_body(self, raw: bytes) -> None:
        """Not JSON at all: 400, field `body`."""
        error = invalid(request(raw), NewHire)
        assert (error.status, error.field) == (400, "body")

    @pytest.mark.parametrize("value", [[], ["new.hire@contoso.com"], "text", 42, None, True])
    def test_refuses_json_that_is_not_an_object_with_a_400(self, value: Any) -> None:
        """An array, string, number, null or boolean: 400, field `body`."""
        error = invalid(request(json.dumps(value).encode()), NewHire)
        assert (error.status, error.field) == (400, "body")

    def test_refuses_an_oversize_body_with_a_413(self) -> None:
        """One byte over the limit: 413, before any parsing."""
        raw = b"{" + b" " * (MAX_BODY_BYTES - 1) + b"}"
        error = invalid(request(raw), NewHire)
        assert (error.status, error.field) == (413, "body")

    def test_accepts_a_body_of_exactly_the_limit(self) -> None:
        """The limit itself is allowed."""
        text = json.dumps({"user": "new.hire@contoso.com", "licenses": []})
        raw = text.encode() + b" " * (MAX_BODY_BYTES - len(text))
        assert len(raw) == MAX_BODY_BYTES
        assert parse_body(request(raw), NewHire).user == "new.hire@contoso.com"

    def test_names_a_missing_field_with_a_422(self) -> None:
        """A required field left out: 422 naming it."""
        error = invalid(request({"licenses": []}), NewHire)
        assert (error.status, error.field) == (422, "user")
        assert "user" in str(error)

    def test_joins_a_nested_location_with_dots(self) -> None:
        """An error inside a list item names the path to it: `licenses.0.sku_id`."""
        error = invalid(
            request({"user": "new.hire@contoso.com", "licenses": [{"sku_id": 7}]}), NewHire
        )
        assert (error.status, error.field) == (422, "licenses.0.sku_id")

    @pytest.mark.parametrize(
        "body",
        [
            {"environment": "staging", "client_id": "contoso-msp", "client_secret": CANARY},
            {"environment": "sandbox", "client_id": "contoso-msp", "client_secret": CANARY * 60},
            {"environment": "sandbox", "client_id": [CANARY], "client_secret": "s"},
            {"environment": CANARY, "client_id": "contoso-msp", "client_secret": "s"},
            {"environment": "sandbox", "region": CANARY, "client_id": "x", "client_secret": "s"},
            {"environment": "sandbox", "client_id": CANARY * 60, "client_secret": "s"},
        ],
    )
    def test_never_echoes_an_input_value(self, body: dict[str, Any]) -> None:
        """The error names the field and what was expected, never what was sent."""
        error = invalid(request(body), CredentialsIn)
        assert error.status == 422
        assert CANARY not in str(error)
        assert CANARY not in error.detail

    def test_never_echoes_a_secret_in_malformed_json(self) -> None:
        """A body cut short after the secret: 400 without the secret."""
        raw = ('{"environment": "sandbox", "client_secret": "' + CANARY).encode()
        assert CANARY not in str(invalid(request(raw), CredentialsIn))


class TestFlag:
    @pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", " true "])
    def test_reads_true(self, value: str) -> None:
        """true, 1 and yes (any case) are true."""
        assert flag(request(method="GET", params={"effective": value}), "effective")

    @pytest.mark.parametrize("value", ["false", "0", "no", ""])
    def test_reads_false(self, value: str) -> None:
        """false, 0, no and empty are false."""
        assert not flag(request(method="GET", params={"effective": value}), "effective")

    def test_reads_false_when_absent(self) -> None:
        """No parameter: false."""
        assert not flag(request(method="GET"), "effective")

    def test_refuses_anything_else_with_a_400_naming_the_parameter(self) -> None:
        """effective=maybe: 400, field `effective`."""
        with pytest.raises(InvalidInput) as caught:
            flag(request(method="GET", params={"effective": "maybe"}), "effective")
        assert (caught.value.status, caught.value.field) == (400, "effective")


class TestHandlesErrors:
    def test_passes_a_normal_answer_through(self) -> None:
        """A handler that answers is left alone."""

        @handles_errors
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return json_response({"ok": True})

        response = handler(request(method="GET"))
        assert (response.status_code, body_of(response)) == (200, {"ok": True})

    def test_maps_invalid_input_to_its_status_naming_the_field(self) -> None:
        """InvalidInput: its status, the field in `detail` and as `field`."""
        response = answer_of(InvalidInput("m365_tenant_id", "must be a GUID"))
        body = body_of(response)
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert body["detail"].startswith("m365_tenant_id")
        assert body["field"] == "m365_tenant_id"
        assert {"type", "title", "status", "detail"} <= body.keys()

    def test_maps_a_malformed_body_to_400(self) -> None:
        """parse_body's 400 reaches the caller as a 400 problem naming `body`."""

        @handles_errors
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return json_response(parse_body(req, NewHire))

        response = handler(request(b"[1, 2]"))
        assert response.status_code == 400
        assert body_of(response)["field"] == "body"

    def test_maps_not_found_to_404(self) -> None:
        """NotFound: 404 problem naming what was not found."""
        response = answer_of(NotFound("org", "contoso"))
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert "contoso" in body_of(response)["detail"]

    def test_maps_throttling_to_503_with_its_retry_after(self) -> None:
        """Throttled with Retry-After 120: 503 with Retry-After 120."""
        response = answer_of(Throttled("synnex", "throttled (429)", retry_after=120))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "120"
        assert body_of(response)["status"] == 503

    @pytest.mark.parametrize(("retry_after", "header"), [(None, "30"), (0.4, "1"), (7.6, "8")])
    def test_always_sends_a_whole_retry_after_of_at_least_one_second(
        self, retry_after: float | None, header: str
    ) -> None:
        """Unavailable without a delay: 30 s; a fraction is rounded, never below 1."""
        response = answer_of(Unavailable("graph", "answered 503", retry_after=retry_after))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == header

    @pytest.mark.parametrize(
        "error",
        [
            UpstreamRejected("synnex", "rejected (400)", request_id="req-7f2c"),
            InvalidCredentials("graph", "token refused"),
        ],
    )
    def test_maps_a_permanent_upstream_error_to_502(self, error: Exception) -> None:
        """An upstream error that is not transient: 502."""
        response = answer_of(error)
        assert response.status_code == 502
        assert response.mimetype == "application/problem+json"

    def test_maps_a_configuration_error_to_500_naming_the_setting(self) -> None:
        """ConfigurationError: 500 naming the setting."""
        response = answer_of(ConfigurationError("GRAPH_CLIENT_ID", "not set"))
        assert response.status_code == 500
        assert "GRAPH_CLIENT_ID" in body_of(response)["detail"]

    def test_answers_an_unexpected_error_without_its_message_or_a_stack_trace(self) -> None:
        """Anything else: a generic 500 problem; the message and traceback stay in the logs."""
        response = answer_of(RuntimeError(f"client_secret={CANARY}"))
        text = response.get_body().decode()
        assert response.status_code == 500
        assert response.mimetype == "application/problem+json"
        assert CANARY not in text
        assert "Traceback" not in text

    def test_never_echoes_a_secret_of_an_invalid_body(self) -> None:
        """A credentials body that fails validation: 422 without the secret it carried."""

        @handles_errors
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return json_response(parse_body(req, CredentialsIn).model_dump(mode="json"))

        response = handler(
            request({"environment": "staging", "client_id": "contoso-msp", "client_secret": CANARY})
        )
        assert response.status_code == 422
        assert body_of(response)["field"] == "environment"
        assert CANARY not in response.get_body().decode()
