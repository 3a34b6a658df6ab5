"""The Azure Functions app: bindings only.

Each function hands its input to `shared.edge.handlers`, imported on first call, so that importing
this module (which the worker does before any function can run) stays cheap and can neither
fail nor touch the network.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared import names

# The SDKs log every request at INFO; keep the function logs to what an operator reads.
for _noisy in ("httpx", "httpcore", "azure", "msal", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="orgs/{org_id}", methods=["PUT"])
def put_org(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.put_org(req)


@app.route(route="orgs/{org_id}", methods=["GET"])
def get_org(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_org(req)


@app.route(route="orgs/{org_id}/variables/{name}", methods=["PUT"])
def put_variable(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.put_variable(req)


@app.route(route="orgs/{org_id}/variables/{name}", methods=["GET"])
def get_variable(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_variable(req)


@app.route(route="orgs/{org_id}/variables/{name}", methods=["DELETE"])
def delete_variable(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.delete_variable(req)


@app.route(route="orgs/{org_id}/variables", methods=["GET"])
def list_variables(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.list_variables(req)


@app.route(route="orgs/{org_id}/synnex-credentials", methods=["PUT"])
def put_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.put_synnex_credentials(req)


@app.route(route="orgs/{org_id}/synnex-credentials/test", methods=["POST"])
def test_synnex_credentials(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.test_synnex_credentials(req)


@app.route(route="orgs/{org_id}/synnex-customers", methods=["GET"])
def get_synnex_customers(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_synnex_customers(req)


@app.route(route="orgs/{org_id}/subscriptions", methods=["GET"])
def get_subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_subscriptions(req)


@app.route(route="orgs/{org_id}/licenses", methods=["GET"])
def get_licenses(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_licenses(req)


@app.route(route="onboarding", methods=["POST"])
def post_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.post_onboarding(req)


@app.route(route="onboarding/{event_id}", methods=["GET"])
def get_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_onboarding(req)


@app.route(route="onboarding/{event_id}/licenses/{sku_id}/approve", methods=["POST"])
def approve_license(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.approve_license(req)


@app.route(route="onboarding/{event_id}/licenses/{sku_id}/deny", methods=["POST"])
def deny_license(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.deny_license(req)


# --- the operator's view (issue 12): listings, retry, reconciliation, the console page ----


@app.route(route="onboarding", methods=["GET"])
def list_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import operator_handlers

    return operator_handlers.list_onboarding(req)


@app.route(route="onboarding/{event_id}/retry", methods=["POST"])
def retry_onboarding(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import operator_handlers

    return operator_handlers.retry_onboarding(req)


@app.route(route="orgs/{org_id}/purchases", methods=["GET"])
def get_purchases(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import operator_handlers

    return operator_handlers.get_purchases(req)


@app.route(route="reconciliation", methods=["POST"])
def run_reconciliation(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import operator_handlers

    return operator_handlers.run_reconciliation(req)


@app.route(route="console", methods=["GET"])
def get_console(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import operator_handlers

    return operator_handlers.get_console(req)


# Daily at 06:30 UTC; not at start-up (every scale-out would run it). On demand:
# POST /api/reconciliation, or the host's admin endpoint for this function.
@app.timer_trigger(schedule=names.RECONCILE_SCHEDULE, arg_name="timer", run_on_startup=False)
def reconcile_purchases(timer: func.TimerRequest) -> None:
    from shared.edge import operator_handlers

    operator_handlers.reconcile_purchases(timer)


@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.edge import handlers

    return handlers.get_openapi(req)


# --- the onboarding workflow (queues) ---------------------------------------------------
# A handler returns normally once its step is recorded (retries it needs are its own delayed
# messages); an exception leaves the message for the host to deliver again, and after
# maxDequeueCount to move to the queue's -poison twin.


@app.queue_trigger(
    arg_name="msg", queue_name=names.ONBOARDING_EVENTS_QUEUE, connection="AzureWebJobsStorage"
)
def process_onboarding_event(msg: func.QueueMessage) -> None:
    from shared.edge import handlers

    handlers.process_onboarding_event(msg)


@app.queue_trigger(
    arg_name="msg", queue_name=names.LICENSE_PURCHASES_QUEUE, connection="AzureWebJobsStorage"
)
def purchase_license(msg: func.QueueMessage) -> None:
    from shared.edge import handlers

    handlers.purchase_license(msg)


@app.queue_trigger(
    arg_name="msg", queue_name=names.LICENSE_WAITS_QUEUE, connection="AzureWebJobsStorage"
)
def await_license_seat(msg: func.QueueMessage) -> None:
    from shared.edge import handlers

    handlers.await_license_seat(msg)


@app.queue_trigger(
    arg_name="msg", queue_name=names.NOTIFICATIONS_QUEUE, connection="AzureWebJobsStorage"
)
def deliver_notification(msg: func.QueueMessage) -> None:
    from shared.edge import handlers

    handlers.deliver_notification(msg)
