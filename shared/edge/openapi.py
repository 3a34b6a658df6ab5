"""The OpenAPI 3.1 description of every HTTP route, built from the same pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from shared.core.workflow import OnboardingEvent
from shared.edge.openapi_operator import MODELS as operator_models
from shared.edge.openapi_operator import add_operator_paths
from shared.models import (
    GUID_PATTERN,
    ORG_ID_PATTERN,
    VARIABLE_NAME_PATTERN,
    CredentialCheck,
    CredentialsIn,
    EffectiveVariable,
    LicenseLookup,
    MatchedSubscriptionLookup,
    OnboardingStatus,
    Org,
    OrgIn,
    SubscriptionLookup,
    SynnexCustomerList,
    Variable,
    VariableIn,
)

_REF = "#/components/schemas/{model}"
_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name, "in": "path", "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


ORG_ID = _path_param("org_id", ORG_ID_PATTERN)
# The approve and deny routes: the licence, and who answers (recorded in its history).
_APPROVAL_PARAMS: list[dict[str, Any]] = [
    {"name": "event_id", "in": "path", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": 128}},
    {"name": "sku_id", "in": "path", "required": True,
     "schema": {"type": "string", "pattern": GUID_PATTERN}},
    {"name": "X-Approver", "in": "header", "required": False,
     "description": "who approves or denies, as the history records it (default: "
     "'function key')", "schema": {"type": "string", "maxLength": 128}},
]
VARIABLE = _path_param("name", VARIABLE_NAME_PATTERN)


def _operation(
    summary: str, responses: dict[str, Any], *, params: list[dict[str, Any]],
    body: type[BaseModel] | None = None, anonymous: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": summary.lower().replace(" ", "_").replace("'", ""),
        "parameters": params,
        "responses": {**responses, "400": _PROBLEM, "500": _PROBLEM},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": _ref(body)}},
        }
        operation["responses"].setdefault("422", _PROBLEM)
    if anonymous:
        operation["security"] = []
    return operation


@cache
def document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    models: list[type[BaseModel]] = [
        Org, OrgIn, Variable, VariableIn, EffectiveVariable, CredentialsIn, CredentialCheck,
        SubscriptionLookup, MatchedSubscriptionLookup, LicenseLookup, OnboardingStatus,
        SynnexCustomerList, OnboardingEvent, *operator_models,
    ]
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF, mode="serialization")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    components["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "detail": {"type": "string"},
        },
        "additionalProperties": True,
    }
    upstream = {"502": _PROBLEM, "503": _PROBLEM}
    not_found = {"404": _PROBLEM}
    paths: dict[str, Any] = {
        "/api/orgs/{org_id}": {
            "put": _operation("Create or replace an org", {
                "200": _json(_ref(Org), "replaced"), "201": _json(_ref(Org), "created"),
                "503": _PROBLEM,
            }, params=[ORG_ID], body=OrgIn),
            "get": _operation("Get an org", {"200": _json(_ref(Org), "the org"), **not_found},
                              params=[ORG_ID]),
        },
        "/api/orgs/{org_id}/variables/{name}": {
            "put": _operation("Set an org variable", {
                "200": _json(_ref(Variable), "the variable"), **not_found,
            }, params=[ORG_ID, VARIABLE], body=VariableIn),
            "get": _operation("Get an org variable", {
                "200": _json(_ref(Variable), "the org's own variable"), **not_found,
            }, params=[ORG_ID, VARIABLE]),
            "delete": _operation("Delete an org variable", {
                "204": {"description": "deleted, or already gone"}, **not_found,
            }, params=[ORG_ID, VARIABLE]),
        },
        "/api/orgs/{org_id}/variables": {
            "get": _operation("List org variables", {
                # anyOf, not oneOf: an empty list is both shapes at once.
                "200": _json({"anyOf": [
                    {"type": "array", "items": _ref(Variable)},
                    {"type": "array", "items": _ref(EffectiveVariable)},
                ]}, "own variables, or with effective=true every variable that applies"),
                **not_found,
            }, params=[ORG_ID, {
                "name": "effective", "in": "query", "required": False,
                "schema": {"type": "string", "enum": ["true", "false"]},
            }]),
        },
        "/api/orgs/{org_id}/synnex-credentials": {
            "put": _operation("Save Synnex credentials", {
                "200": _json(_ref(CredentialCheck), "valid, and stored"),
                "422": _PROBLEM, **not_found, **upstream,
            }, params=[ORG_ID], body=CredentialsIn),
        },
        "/api/orgs/{org_id}/synnex-credentials/test": {
            "post": _operation("Test stored Synnex credentials", {
                "200": _json(_ref(CredentialCheck), "valid"), "422": _PROBLEM,
                **not_found, **upstream,
            }, params=[ORG_ID]),
        },
        "/api/orgs/{org_id}/synnex-customers": {
            "get": _operation("List Synnex customers", {
                "200": _json(_ref(SynnexCustomerList),
                             "the customers the MSP root's Synnex account shows, each with "
                             "the org below the root that seems to be it"),
                "422": _PROBLEM, **not_found, **upstream,
            }, params=[ORG_ID]),
        },
        "/api/orgs/{org_id}/subscriptions": {
            "get": _operation("List Synnex subscriptions", {
                # Without sku_id the plain dropdown; with it, each entry's `match` (best
                # first) and `suggested_id`. anyOf: the second shape is also the first.
                "200": _json({"anyOf": [_ref(SubscriptionLookup),
                                        _ref(MatchedSubscriptionLookup)]},
                             "the dropdown; with sku_id, matched to that licence's product"),
                "422": _PROBLEM, **not_found, **upstream,
            }, params=[ORG_ID, {
                "name": "sku_id", "in": "query", "required": False,
                "description": "a licence's SKU GUID (as in /licenses): rank the subscriptions "
                "by how their product matches it (exact, likely, none, unknown) and suggest one",
                "schema": {"type": "string", "pattern": GUID_PATTERN},
            }]),
        },
        "/api/orgs/{org_id}/licenses": {
            "get": _operation("List tenant licences", {
                "200": _json(_ref(LicenseLookup), "licences with free seats"), "422": _PROBLEM,
                **not_found, **upstream,
            }, params=[ORG_ID]),
        },
        "/api/onboarding": {
            "post": _operation("Submit an onboarding event", {
                "202": _json(_ref(OnboardingStatus), "accepted: the event's status; Location "
                             "names GET /api/onboarding/{event_id}"),
                "200": _json(_ref(OnboardingStatus), "the same event again: its status"),
                "409": _PROBLEM, "503": _PROBLEM,
            }, params=[], body=OnboardingEvent),
        },
        "/api/onboarding/{event_id}": {
            "get": _operation("Get an onboarding event", {
                "200": _json(_ref(OnboardingStatus), "where the event stands"), **not_found,
            }, params=[{
                "name": "event_id", "in": "path", "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            }]),
        },
        "/api/onboarding/{event_id}/licenses/{sku_id}/approve": {
            "post": _operation("Approve a licence purchase", {
                "200": _json(_ref(OnboardingStatus), "approved: the licence decides again "
                             "(every check runs again before the seat change); the event's "
                             "status"),
                "409": _PROBLEM, **not_found, "503": _PROBLEM,
            }, params=_APPROVAL_PARAMS),
        },
        "/api/onboarding/{event_id}/licenses/{sku_id}/deny": {
            "post": _operation("Deny a licence purchase", {
                "200": _json(_ref(OnboardingStatus), "denied: the licence ends failed / "
                             "denied; the event's status"),
                "409": _PROBLEM, **not_found, "503": _PROBLEM,
            }, params=_APPROVAL_PARAMS),
        },
        "/api/openapi.json": {
            "get": _operation("Get this document", {
                "200": _json({"type": "object"}, "OpenAPI 3.1"),
            }, params=[], anonymous=True),
        },
    }
    add_operator_paths(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MSP licensing",
            "version": "1.0.0",
            "description": "Synnex credentials, org variables and the onboarding form's "
            "licence lookups. Every route but this document needs a function key.",
        },
        "servers": [{"url": "/"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": {
                "Problem": {
                    "description": "an RFC 9457 problem",
                    "content": {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                    }},
                },
            },
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }
