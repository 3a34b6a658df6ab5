"""The OpenAPI entries of the operator's routes, added to `shared.edge.openapi`'s."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.models import (
    ORG_ID_PATTERN,
    OnboardingPage,
    OnboardingStatus,
    PurchaseList,
    Reconciliation,
)

MODELS: list[type[BaseModel]] = [OnboardingPage, PurchaseList, Reconciliation]


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def add_operator_paths(paths: dict[str, Any]) -> None:
    """Put the operator's routes into `paths` (the document's)."""
    from shared.edge import openapi as doc

    problem, ref, json = doc._PROBLEM, doc._ref, doc._json
    org = {"name": "org_id", "in": "path", "required": True,
           "schema": {"type": "string", "pattern": ORG_ID_PATTERN}}
    event = {"name": "event_id", "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 128}}
    paths.setdefault("/api/onboarding", {})["get"] = doc._operation("List onboarding events", {
        "200": json(ref(OnboardingPage), "status bodies, newest first (by creation), and the "
                    "token of the next page (null on the last)"),
        "422": problem, **{"404": problem, "503": problem},
    }, params=[
        _query("org_id", "only this org's events (404 when no such org)",
               {"type": "string", "pattern": ORG_ID_PATTERN}),
        _query("status", "only events with this status",
               {"type": "string", "enum": ["in_progress", "completed", "failed"]}),
        _query("since", "only events created at or after this ISO 8601 date-time (UTC when "
               "it has no offset)", {"type": "string"}),
        _query("limit", "page size, 1-100 (default 50)",
               {"type": "string", "pattern": r"^[0-9]{1,3}$"}),
        _query("next", "the token of the previous page's answer, with the same other "
               "parameters", {"type": "string"}),
    ])
    paths["/api/onboarding/{event_id}/retry"] = {
        "post": doc._operation("Retry an onboarding event", {
            "202": json(ref(OnboardingStatus), "its failed licences are worked again (a "
                        "licence whose seat change landed waits for that seat, never buys "
                        "another); the event's status; Location names its status route"),
            "409": problem, "404": problem, "503": problem,
        }, params=[event]),
    }
    paths["/api/orgs/{org_id}/purchases"] = {
        "get": doc._operation("List seats bought", {
            "200": json(ref(PurchaseList), "seats bought in the range, oldest first, each "
                        "with cancellable_until (purchase + 7 days, Microsoft NCE), and the "
                        "day's and month's cap use (limit null: unlimited)"),
            "422": problem, "404": problem, "503": problem,
        }, params=[org,
                   _query("from", "first UTC date, included (default 29 days before to)",
                          {"type": "string", "format": "date"}),
                   _query("to", "last UTC date, included (default today)",
                          {"type": "string", "format": "date"})]),
    }
    paths["/api/reconciliation"] = {
        "post": doc._operation("Run the reconciliation", {
            "200": json(ref(Reconciliation), "seats bought that their hires do not hold "
                        "while they can still be reduced (each also logged at WARNING); "
                        "nothing is changed in Synnex"),
            "503": problem,
        }, params=[]),
    }
    paths["/api/console"] = {
        "get": doc._operation("Get the operator console", {
            "200": {"description": "the operator's page (HTML); its own calls send the key it "
                    "was opened with", "content": {"text/html": {"schema": {"type": "string"}}}},
        }, params=[]),
    }
