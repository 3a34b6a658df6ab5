"""Every operation of `/api/openapi.json`, fuzzed by schemathesis against the running app.

Valid and invalid inputs alike (schemathesis' examples, coverage and fuzzing phases; the
stateful phase is off) must never answer 5xx, and every answer must match the document: status
code, content type and body schema. Requests go to the local runner only; its upstreams are the
simulators on localhost. Generation is bounded and derandomized with a fixed seed, so a run is
repeatable and takes seconds.

The operations are collected from the document the app serves, built by `shared.edge.openapi`
(`test_serves_the_document_that_is_fuzzed` proves the two are the same): the app's port is only
known once the module's stack runs, and schemathesis' loader for that case
(`schemathesis.pytest.from_fixture`, 4.32.5) sets `Function._nodeid`, which pytest 9.2 no
longer has. Each case is sent to the running app with `base_url`.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.edge import openapi
from tests.e2e.conftest import App

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260427,
        "request-timeout": 30,
        "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)


class TestApiAgainstItsOpenApiDocument:
    def test_serves_the_document_that_is_fuzzed(self, app: App) -> None:
        """GET /api/openapi.json answers, anonymously, exactly the document fuzzed here."""
        answer = app.http.get("/openapi.json")
        assert answer.status_code == 200
        assert answer.json() == openapi.document()

    @schema.parametrize()
    def test_answers_without_a_server_error_and_as_documented(
        self, case: schemathesis.Case[Any], app: App
    ) -> None:
        """No 5xx; status code, content type and body as the document says."""
        case.call_and_validate(base_url=app.root_url, checks=CHECKS)
