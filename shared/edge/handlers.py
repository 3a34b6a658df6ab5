"""What each function does, imported on a function's first call rather than at start-up:
`function_app.py` stays a list of bindings whose import costs next to nothing (cold start),
and everything heavy (pydantic models, SDKs, clients) loads when first needed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import azure.functions as func

from shared.bootstrap import container
from shared.edge import openapi
from shared.edge.web import flag, handles_errors, json_response, parse_body, problem
from shared.errors import NotFound
from shared.models import CredentialCheck, CredentialsIn, OrgIn, VariableIn
from shared.use_cases import approvals, credentials, customers, intake, lookups, notify, orgs

# --- orgs -------------------------------------------------------------------------------


@handles_errors
def put_org(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    body = parse_body(req, OrgIn)
    c = container()

    def check_customer_no(root_org_id: str, customer_no: str) -> None:
        customers.check_customer_no(
            secrets=lambda: c.secrets, stellr_for=c.stellr_for, root_org_id=root_org_id,
            org_id=org_id, customer_no=customer_no,
        )

    org, created = orgs.put_org(c.orgs, org_id, body, check_customer_no=check_customer_no)
    return json_response(org, status=201 if created else 200)


@handles_errors
def get_org(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(orgs.get_org(container().orgs, req.route_params["org_id"]))


# --- org variables ----------------------------------------------------------------------


@handles_errors
def put_variable(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    name = orgs.check_variable_name(req.route_params["name"])
    body = parse_body(req, VariableIn)
    return json_response(orgs.put_variable(container().orgs, org_id, name, body))


@handles_errors
def get_variable(req: func.HttpRequest) -> func.HttpResponse:
    store = container().orgs
    return json_response(
        orgs.get_variable(store, req.route_params["org_id"], req.route_params["name"])
    )


@handles_errors
def delete_variable(req: func.HttpRequest) -> func.HttpResponse:
    orgs.delete_variable(container().orgs, req.route_params["org_id"], req.route_params["name"])
    return func.HttpResponse(status_code=204)


@handles_errors
def list_variables(req: func.HttpRequest) -> func.HttpResponse:
    store = container().orgs
    effective = flag(req, "effective")
    if effective:
        org = orgs.get_org(store, req.route_params["org_id"])
        found = orgs.effective_variables(store, org)
        return json_response([found[name] for name in sorted(found)])
    return json_response(orgs.list_variables(store, req.route_params["org_id"]))


# --- Synnex credentials -----------------------------------------------------------------


def _credential_answer(result: CredentialCheck) -> func.HttpResponse:
    if result.valid:
        return json_response(result.model_dump(exclude={"reason", "detail"}))
    return problem(
        422,
        result.detail or "the credentials were rejected",
        kind=(result.reason or "rejected").replace("_", "-"),
        valid=False,
        reason=result.reason,
        environment=result.environment,
        region=result.region,
    )


@handles_errors
def put_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    body = parse_body(req, CredentialsIn)
    c = container()
    result = credentials.save_credentials(
        orgs=c.orgs, secrets=c.secrets, stellr_for=c.stellr_for, org_id=org_id, body=body
    )
    return _credential_answer(result)


@handles_errors
def test_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    result = credentials.check_stored_credentials(
        orgs=c.orgs,
        secrets=c.secrets,
        stellr_for=c.stellr_for,
        org_id=req.route_params["org_id"],
    )
    return _credential_answer(result)


@handles_errors
def get_synnex_customers(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(
        customers.list_synnex_customers(
            orgs=c.orgs, secrets=c.secrets, stellr_for=c.stellr_for,
            org_id=req.route_params["org_id"],
        )
    )


# --- form lookups -----------------------------------------------------------------------


@handles_errors
def get_subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(
        lookups.lookup_subscriptions(
            orgs=c.orgs,
            secrets=c.secrets,
            stellr_for=c.stellr_for,
            org_id=req.route_params["org_id"],
            sku_id=req.params.get("sku_id"),
            history=c.purchase_history,
            window=c.listing_window,
            executor=c.lookup_executor,
        )
    )


@handles_errors
def get_licenses(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(
        lookups.lookup_licenses(
            orgs=c.orgs, graph=lambda: c.graph, org_id=req.route_params["org_id"]
        )
    )


@handles_errors
def get_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    event_id = req.route_params["event_id"]
    # Longer ids cannot be an event's (contract section 5), nor a Table Storage key.
    status = container().ledger.find_status(event_id) if len(event_id) <= 128 else None
    if status is None:
        raise NotFound("onboarding event", event_id)
    return json_response(status)


@handles_errors
def post_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    try:
        submitted = intake.submit_event(ledger=c.ledger, sender=c.sender, body=req.get_body(),
                                        now=datetime.now(UTC).isoformat())
    except intake.EventConflict as exc:
        return problem(409, f"{exc}; send a new event_id for a new hire", kind="conflict",
                       field="event_id")
    status = submitted.status
    location = f"/api/onboarding/{quote(status.event_id, safe='')}"
    return json_response(status, status=202 if submitted.created else 200,
                         headers={"Location": location})


@handles_errors
def approve_license(req: func.HttpRequest) -> func.HttpResponse:
    return _answer_approval(req, approvals.approve)


@handles_errors
def deny_license(req: func.HttpRequest) -> func.HttpResponse:
    return _answer_approval(req, approvals.deny)


def _answer_approval(req: func.HttpRequest, answer: Any) -> func.HttpResponse:
    """200 with the event's status; 409 unless the licence is awaiting approval."""
    by = approvals.approver(req.headers.get(approvals.APPROVER_HEADER))
    try:
        status = answer(container().workflow.deps, req.route_params["event_id"],
                        req.route_params["sku_id"], by=by)
    except approvals.NotAwaitingApproval as exc:
        return problem(409, str(exc), kind="conflict")
    return json_response(status)


def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi.document())


# --- the onboarding workflow (queues) ---------------------------------------------------


def process_onboarding_event(msg: func.QueueMessage) -> None:
    container().workflow.handle_event(msg.get_body(), message_id=msg.id or "")


def purchase_license(msg: func.QueueMessage) -> None:
    container().workflow.handle_purchase(msg.get_body())


def await_license_seat(msg: func.QueueMessage) -> None:
    container().workflow.handle_wait(msg.get_body())


def deliver_notification(msg: func.QueueMessage) -> None:
    c = container()
    notify.deliver(msg.get_body(), webhook=c.webhook, sender=c.sender,
                   now=lambda: datetime.now(UTC))
