"""Names of the queues and tables this app uses; infra/main.bicep creates each of them."""

from __future__ import annotations

# Queues. Triggered queues get a `-poison` twin from the host after maxDequeueCount failures.
ONBOARDING_EVENTS_QUEUE = "onboarding-events"
LICENSE_PURCHASES_QUEUE = "license-purchases"
LICENSE_WAITS_QUEUE = "license-waits"
ONBOARDING_RESULTS_QUEUE = "onboarding-results"
# Webhook notifications (purchase, failure, approval_needed, reconciliation), delivered by
# their own function so that a slow webhook never delays a hire.
NOTIFICATIONS_QUEUE = "notifications"

TRIGGERED_QUEUES = (ONBOARDING_EVENTS_QUEUE, LICENSE_PURCHASES_QUEUE, LICENSE_WAITS_QUEUE,
                    NOTIFICATIONS_QUEUE)
ALL_QUEUES = (
    *TRIGGERED_QUEUES,
    *(f"{name}-poison" for name in TRIGGERED_QUEUES),
    ONBOARDING_RESULTS_QUEUE,
)

# Tables.
ORGS_TABLE = "orgs"
ORG_VARIABLES_TABLE = "orgvariables"
DEV_SECRETS_TABLE = "devsecrets"
ONBOARDING_LEDGER_TABLE = "onboardingledger"
PURCHASE_LEDGER_TABLE = "purchaseledger"
SUBSCRIPTION_LOCKS_TABLE = "subscriptionlocks"

ALL_TABLES = (
    ORGS_TABLE,
    ORG_VARIABLES_TABLE,
    DEV_SECRETS_TABLE,
    ONBOARDING_LEDGER_TABLE,
    PURCHASE_LEDGER_TABLE,
    SUBSCRIPTION_LOCKS_TABLE,
)

# The reconciliation timer (`reconcile_purchases`): NCRONTAB, UTC, daily at 06:30.
RECONCILE_SCHEDULE = "0 30 6 * * *"

# HTTP functions (function_app.py names) that the MSP's form backend calls: the lookups, the
# intake, the status, and the approval's answers (it names the approver in X-Approver). Each
# gets a function-level key named FORM_KEY_NAME (scripts/deploy),
# which opens that function and no other; every other route needs an operator's host key.
FORM_KEY_NAME = "form"
FORM_FUNCTIONS = (
    "get_subscriptions",
    "get_licenses",
    "post_onboarding",
    "get_onboarding",
    "approve_license",
    "deny_license",
)
