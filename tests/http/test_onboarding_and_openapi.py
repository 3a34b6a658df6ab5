"""HTTP: where an onboarding event stands, and the OpenAPI document (contract section 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.bootstrap import Container
from shared.models import EventRecord, LicenseRecord
from tests.http.conftest import Api

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"

# Contract section 4: every route, with its methods.
CONTRACT_PATHS: dict[str, set[str]] = {
    "/api/orgs/{org_id}": {"put", "get"},
    "/api/orgs/{org_id}/variables/{name}": {"put", "get", "delete"},
    "/api/orgs/{org_id}/variables": {"get"},
    "/api/orgs/{org_id}/synnex-credentials": {"put"},
    "/api/orgs/{org_id}/synnex-credentials/test": {"post"},
    "/api/orgs/{org_id}/synnex-customers": {"get"},
    "/api/orgs/{org_id}/subscriptions": {"get"},
    "/api/orgs/{org_id}/licenses": {"get"},
    "/api/onboarding": {"post", "get"},
    "/api/onboarding/{event_id}/retry": {"post"},
    "/api/orgs/{org_id}/purchases": {"get"},
    "/api/reconciliation": {"post"},
    "/api/console": {"get"},
    "/api/onboarding/{event_id}": {"get"},
    "/api/onboarding/{event_id}/licenses/{sku_id}/approve": {"post"},
    "/api/onboarding/{event_id}/licenses/{sku_id}/deny": {"post"},
    "/api/openapi.json": {"get"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class TestGetOnboarding:
    def test_answers_where_a_recorded_event_stands(self, api: Api, app: Container) -> None:
        """An event in the ledger: 200 with its status and its licences."""
        event_id = f"hire-2026-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC).isoformat()
        record = EventRecord(
            event_id=event_id,
            org_id="contoso",
            user="new.hire@contoso.com",
            sku_ids=[SPB],
            created_at=now,
            updated_at=now,
        )
        assert app.ledger.create_event(record, [LicenseRecord(sku_id=SPB)])
        answer = api.onboarding(event_id)
        assert answer.status == 200
        body = answer.json
        assert (body["event_id"], body["org_id"], body["user"]) == (
            event_id,
            "contoso",
            "new.hire@contoso.com",
        )
        assert body["status"] == "in_progress"
        assert [(item["sku_id"], item["state"]) for item in body["licenses"]] == [(SPB, "pending")]

    def test_answers_404_for_an_unknown_event(self, api: Api) -> None:
        """An event never received: 404 problem."""
        assert api.onboarding(f"hire-2026-{uuid.uuid4().hex[:8]}").is_problem(404)

    def test_answers_404_for_an_event_id_with_characters_tables_forbid(self, api: Api) -> None:
        """Ids with / # ? are looked up safely: 404, not a storage error."""
        assert api.onboarding("hire/2026#000123?x").is_problem(404)


class TestGetOpenapi:
    def test_is_an_openapi_3_1_document(self, api: Api) -> None:
        """200, JSON, OpenAPI 3.1.x."""
        answer = api.openapi()
        assert answer.status == 200
        assert answer.mimetype == "application/json"
        assert answer.json["openapi"].startswith("3.1.")

    def test_lists_every_route_of_the_contract_with_its_methods(self, api: Api) -> None:
        """Each path of section 4 with exactly its methods."""
        paths = api.openapi().json["paths"]
        listed = {path: set(item) & HTTP_METHODS for path, item in paths.items()}
        assert listed == CONTRACT_PATHS

    def test_describes_problems_for_every_operation(self, api: Api) -> None:
        """Every operation documents its answers, and 4xx answers are problem details."""
        document = api.openapi().json
        for path, item in document["paths"].items():
            for method in set(item) & HTTP_METHODS:
                responses = item[method]["responses"]
                assert any(code.startswith("2") for code in responses), (path, method)
                assert "400" in responses, (path, method)
        problem = document["components"]["responses"]["Problem"]
        assert "application/problem+json" in problem["content"]

    def test_resolves_every_reference(self, api: Api) -> None:
        """Each $ref points at something the document defines."""
        document = api.openapi().json
        refs: list[str] = []

        def collect(node: object) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("$ref"), str):
                    refs.append(node["$ref"])
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(document)
        assert refs
        for ref in refs:
            target: object = document
            for part in ref.removeprefix("#/").split("/"):
                assert isinstance(target, dict) and part in target, ref
                target = target[part]

    def test_marks_only_itself_as_anonymous(self, api: Api) -> None:
        """Function keys everywhere; the document itself needs none."""
        document = api.openapi().json
        assert document["security"]
        anonymous = [
            (path, method)
            for path, item in document["paths"].items()
            for method in set(item) & HTTP_METHODS
            if item[method].get("security") == []
        ]
        assert anonymous == [("/api/openapi.json", "get")]
