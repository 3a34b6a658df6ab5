"""The Azure Functions app: bindings only. Each function parses, calls a use case, answers."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import names, openapi
from shared.bootstrap import container
from shared.errors import NotFound
from shared.models import CredentialCheck, CredentialsIn, OrgIn, VariableIn
from shared.use_cases import credentials, lookups, orgs
from shared.web import flag, handles_errors, json_response, parse_body, problem

# The SDKs log every request at INFO; keep the function logs to what an operator reads.
for _noisy in ("httpx", "httpcore", "azure", "msal", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


# --- orgs -------------------------------------------------------------------------------


@app.route(route="orgs/{org_id}", methods=["PUT"])
@handles_errors
def put_org(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    body = parse_body(req, OrgIn)
    org, created = orgs.put_org(container().orgs, org_id, body)
    return json_response(org, status=201 if created else 200)


@app.route(route="orgs/{org_id}", methods=["GET"])
@handles_errors
def get_org(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(orgs.get_org(container().orgs, req.route_params["org_id"]))


# --- org variables ----------------------------------------------------------------------


@app.route(route="orgs/{org_id}/variables/{name}", methods=["PUT"])
@handles_errors
def put_variable(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    name = orgs.check_variable_name(req.route_params["name"])
    body = parse_body(req, VariableIn)
    return json_response(orgs.put_variable(container().orgs, org_id, name, body))


@app.route(route="orgs/{org_id}/variables/{name}", methods=["GET"])
@handles_errors
def get_variable(req: func.HttpRequest) -> func.HttpResponse:
    store = container().orgs
    return json_response(
        orgs.get_variable(store, req.route_params["org_id"], req.route_params["name"])
    )


@app.route(route="orgs/{org_id}/variables/{name}", methods=["DELETE"])
@handles_errors
def delete_variable(req: func.HttpRequest) -> func.HttpResponse:
    orgs.delete_variable(container().orgs, req.route_params["org_id"], req.route_params["name"])
    return func.HttpResponse(status_code=204)


@app.route(route="orgs/{org_id}/variables", methods=["GET"])
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
        422, result.detail or "the credentials were rejected", kind=result.reason,
        valid=False, reason=result.reason, environment=result.environment,
        region=result.region,
    )


@app.route(route="orgs/{org_id}/synnex-credentials", methods=["PUT"])
@handles_errors
def put_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    org_id = orgs.check_org_id(req.route_params["org_id"])
    body = parse_body(req, CredentialsIn)
    c = container()
    result = credentials.save_credentials(
        orgs=c.orgs, secrets=c.secrets, stellr_for=c.stellr_for, org_id=org_id, body=body
    )
    return _credential_answer(result)


@app.route(route="orgs/{org_id}/synnex-credentials/test", methods=["POST"])
@handles_errors
def test_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    result = credentials.check_stored_credentials(
        orgs=c.orgs, secrets=c.secrets, stellr_for=c.stellr_for,
        org_id=req.route_params["org_id"],
    )
    return _credential_answer(result)


# --- form lookups -----------------------------------------------------------------------


@app.route(route="orgs/{org_id}/subscriptions", methods=["GET"])
@handles_errors
def get_subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(
        lookups.lookup_subscriptions(
            orgs=c.orgs, secrets=c.secrets, stellr_for=c.stellr_for,
            org_id=req.route_params["org_id"],
        )
    )


@app.route(route="orgs/{org_id}/licenses", methods=["GET"])
@handles_errors
def get_licenses(req: func.HttpRequest) -> func.HttpResponse:
    c = container()
    return json_response(
        lookups.lookup_licenses(
            orgs=c.orgs, graph=lambda: c.graph, org_id=req.route_params["org_id"]
        )
    )


@app.route(route="onboarding/{event_id}", methods=["GET"])
@handles_errors
def get_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    event_id = req.route_params["event_id"]
    status = container().ledger.status(event_id)
    if status is None:
        raise NotFound("onboarding event", event_id)
    return json_response(status)


@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi.document())


# --- the onboarding workflow (queues) ---------------------------------------------------
# A handler returns normally once its step is recorded (retries it needs are its own delayed
# messages); an exception leaves the message for the host to deliver again, and after
# maxDequeueCount to move to the queue's -poison twin.


@app.queue_trigger(
    arg_name="msg", queue_name=names.ONBOARDING_EVENTS_QUEUE, connection="AzureWebJobsStorage"
)
def process_onboarding_event(msg: func.QueueMessage) -> None:
    container().workflow.handle_event(msg.get_body(), message_id=msg.id or "")


@app.queue_trigger(
    arg_name="msg", queue_name=names.LICENSE_PURCHASES_QUEUE, connection="AzureWebJobsStorage"
)
def purchase_license(msg: func.QueueMessage) -> None:
    container().workflow.handle_purchase(msg.get_body())


@app.queue_trigger(
    arg_name="msg", queue_name=names.LICENSE_WAITS_QUEUE, connection="AzureWebJobsStorage"
)
def await_license_seat(msg: func.QueueMessage) -> None:
    container().workflow.handle_wait(msg.get_body())
