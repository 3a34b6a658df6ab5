"""Pydantic models at the edges: HTTP bodies, stored records, upstream records, queue messages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

# Contract section 3; the HTTP edge, the OpenAPI document and the queue event share them.
ORG_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VARIABLE_NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

OrgId = Annotated[str, StringConstraints(pattern=ORG_ID_PATTERN)]
Guid = Annotated[str, StringConstraints(pattern=GUID_PATTERN, to_lower=True)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Environment = Literal["sandbox", "production"]
Region = Literal["us", "ca"]


class _In(BaseModel):
    """A request body: strict about types, tolerant of fields it does not know."""

    model_config = ConfigDict(extra="ignore", strict=True)


# --- orgs and variables -------------------------------------------------------------------


class OrgIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    parent_id: OrgId | None = None
    m365_tenant_id: Guid | None = None
    synnex_customer_no: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
        | None
    ) = None


class Org(BaseModel):
    org_id: str
    name: str
    parent_id: str | None = None
    m365_tenant_id: str | None = None
    synnex_customer_no: str | None = None


class VariableIn(_In):
    value: Annotated[str, StringConstraints(max_length=1024)]
    cascade: bool = False


class Variable(BaseModel):
    org_id: str
    name: str
    value: str
    cascade: bool = False


class EffectiveVariable(BaseModel):
    name: str
    value: str
    source_org_id: str


# --- Synnex credentials ---------------------------------------------------------------------


class CredentialsIn(_In):
    environment: Environment
    region: Region = "us"
    client_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)
    ]
    client_secret: Annotated[SecretStr, Field(min_length=1, max_length=1024)]


class SynnexCredentials(BaseModel):
    """What the secret store keeps per MSP root. The secret never leaves as plain text."""

    environment: Environment
    region: Region = "us"
    client_id: str
    client_secret: SecretStr


class CredentialCheck(BaseModel):
    """The answer of a credential test; `reason` and `detail` only when not valid."""

    valid: bool
    environment: Environment
    region: Region
    customers_visible: int | None = None
    reason: Literal["invalid_credentials", "no_api_access"] | None = None
    detail: str | None = None


# --- Synnex records -----------------------------------------------------------------------


class Customer(BaseModel):
    model_config = ConfigDict(extra="allow")

    customer_no: str
    name: str | None = None
    domain: str | None = None  # the customer's primary domain, when Stellr gives one


class SynnexCustomer(BaseModel):
    """One customer the MSP's Synnex account shows, and the child org that seems to be it."""

    customer_no: str
    name: str | None
    domain: str | None
    suggested_org_id: str | None


class SynnexCustomerList(BaseModel):
    customers: list[SynnexCustomer]


Term = Literal["annual", "monthly", "triennial", "unknown"]


class Subscription(BaseModel):
    """A Stellr subscription line, parsed defensively. `raw` keeps every field as received."""

    id: str
    customer_no: str | None = None
    contract_no: str | None = None
    vendor: str | None = None
    product_name: str = ""
    part_number: str | None = None
    quantity: int = 0
    status: str = ""
    billing_frequency: str | None = None
    term: Term = "unknown"
    renewal_date: date | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class SubscriptionOption(BaseModel):
    """One entry of the form's dropdown."""

    id: str
    name: str
    term: Term
    billing_cycle: str | None
    quantity: int
    status: str
    renewal_date: date | None
    label: str


class SubscriptionLookup(BaseModel):
    org_id: str
    enabled: bool
    subscriptions: list[SubscriptionOption]


# How a subscription's product relates to a licence's SKU (`shared.core.products`).
SubscriptionMatch = Literal["exact", "likely", "none", "unknown"]


class MatchedSubscriptionOption(SubscriptionOption):
    """A dropdown entry for a given SKU: how its product relates to the SKU's."""

    match: SubscriptionMatch


class MatchedSubscriptionLookup(BaseModel):
    """The dropdown for a given SKU (`?sku_id=`): best match first, and the one to preselect."""

    org_id: str
    enabled: bool
    subscriptions: list[MatchedSubscriptionOption]
    suggested_id: str | None


# --- Graph records ------------------------------------------------------------------------


class SubscribedSku(BaseModel):
    sku_id: str
    sku_part_number: str = ""
    applies_to: str = "User"
    capability_status: str = "Enabled"
    consumed_units: int = 0
    enabled_units: int = 0
    warning_units: int = 0
    suspended_units: int = 0
    locked_out_units: int = 0


class GraphUser(BaseModel):
    id: str
    user_principal_name: str | None = None
    usage_location: str | None = None
    assigned_sku_ids: frozenset[str] = frozenset()


class LicenseOption(BaseModel):
    sku_id: str
    sku_part_number: str
    # Microsoft's name of the SKU's product (`shared.core.products`); None when not listed.
    product_name: str | None
    total: int
    consumed: int
    available: int
    label: str


class LicenseLookup(BaseModel):
    org_id: str
    licenses: list[LicenseOption]


# --- onboarding ---------------------------------------------------------------------------

LicenseState = Literal[
    "pending",
    "purchasing",
    "awaiting_approval",
    "waiting_for_seat",
    "assigned",
    "already_assigned",
    "purchased_and_assigned",
    "dry_run",
    "failed",
]
TERMINAL_STATES: frozenset[str] = frozenset(
    {"assigned", "already_assigned", "purchased_and_assigned", "dry_run", "failed"}
)
FailureReason = Literal[
    "invalid_event",
    "choice_disabled",
    "no_subscription_chosen",
    "subscription_not_found",
    "cap_reached",
    "org_not_found",
    "user_not_found",
    "seat_not_provisioned",
    "synnex_error",
    "graph_error",
    "subscription_mismatch",
    "denied",
    "approval_expired",
]


class Transition(BaseModel):
    """One line of the audit trail."""

    at: str
    step: str
    state: LicenseState
    reason: str | None = None
    detail: str | None = None


class LicenseStatus(BaseModel):
    sku_id: str
    synnex_subscription_id: str | None = None
    state: LicenseState = "pending"
    reason: FailureReason | None = None
    detail: str | None = None
    quantity_before: int | None = None
    quantity_target: int | None = None
    history: list[Transition] = Field(default_factory=list)


class OnboardingStatus(BaseModel):
    """Where an onboarding event stands (`GET /api/onboarding/{event_id}`, and its result)."""

    event_id: str
    org_id: str | None = None
    user: str | None = None
    status: Literal["in_progress", "completed", "failed"] = "in_progress"
    reason: FailureReason | None = None
    field: str | None = None
    detail: str | None = None
    licenses: list[LicenseStatus] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    # Why the last delivery of one of its messages failed, while the host delivers it again.
    last_error: str | None = None


# --- the ledger's records -------------------------------------------------------------------

# Where a licence is inside the workflow: the states of `shared.core.purchase.PHASES`, each
# shown to callers as one public `LicenseState`.
Phase = Literal[
    "received", "looking", "held", "deciding", "approving", "changing", "bought", "done",
]


class EventRecord(BaseModel):
    """The event as received, and where it stands as a whole."""

    event_id: str
    org_id: str | None = None
    user: str | None = None
    usage_location: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    sku_ids: list[str] = Field(default_factory=list)
    status: Literal["in_progress", "completed", "failed"] = "in_progress"
    reason: FailureReason | None = None
    field: str | None = None
    detail: str | None = None
    created_at: str
    updated_at: str
    result: Literal["none", "sending", "sent"] = "none"
    # Which handler claimed the result, and when: "event", "retry", or a licence's sku_id.
    result_by: str | None = None
    result_claimed_at: str | None = None
    last_error: str | None = None
    # The operator's last retry (`shared.use_cases.retry`), and how many there were.
    retried_at: str | None = None
    retries: int = 0


class LicenseRecord(LicenseStatus):
    """A licence's status plus what the workflow needs to resume after any failure."""

    phase: Phase = "received"
    phase_since: str | None = None
    # The licence's one chain of messages: only a message carrying the current ticket acts.
    ticket: int = 0
    # When the message of the current ticket is due, and on which queue (to re-send it should
    # the handler that wrote it have died before sending it).
    next_at: str | None = None
    next_queue: str | None = None
    # Looks made in the current phase (the backoff's attempt number).
    looks: int = 0
    purchasing_since: str | None = None
    # The seat change in flight: requested when, with which operation, and the subscription's
    # floor before it (given back to the lease should the change be known not to land).
    change_requested_at: str | None = None
    operation_id: str | None = None
    floor_before: int | None = None
    # Seat changes sent for this licence (R4 caps them).
    sends: int = 0
    # Who holds the subscription's lease for the change: the delivery that requested it, and
    # after it the licence's chain (a redelivered message resumes under the same lease).
    lease_holder: str | None = None
    # What a licence that stopped buying still has to give back (rule R6).
    owed: Literal["seat", "seat_and_cap"] | None = None
    purchased_at: str | None = None
    reserved_day: str | None = None
    # The operator's last retry of this licence: its deadlines count from then (R10).
    retried_at: str | None = None
    # Approval: how long the licence may wait in `approving` (the org's
    # licencing_approval_hours when it was asked), and who approved it, when.
    approval_hours: float | None = None
    approved_by: str | None = None
    approved_at: str | None = None


# --- the operator's view -----------------------------------------------------------


class BoughtSeat(BaseModel):
    """A seat bought for a licence, as the ledger keeps it for listing (`<org>:bought`)."""

    event_id: str
    sku_id: str
    org_id: str
    user: str | None = None
    synnex_subscription_id: str | None = None
    quantity_before: int | None = None
    quantity_target: int | None = None
    purchased_at: str
    state: LicenseState
    reason: FailureReason | None = None
    # Set by the reconciliation: why the hire does not hold the seat (None: it does), when.
    unheld: str | None = None
    checked_at: str | None = None


class OnboardingPage(BaseModel):
    """`GET /api/onboarding`: status bodies, newest first, and the token of the next page."""

    events: list[OnboardingStatus]
    next: str | None = None


class Purchase(BaseModel):
    """One seat bought, as `GET /api/orgs/{org_id}/purchases` lists it."""

    event_id: str
    sku_id: str
    product_name: str | None = None
    synnex_subscription_id: str | None = None
    quantity_before: int | None = None
    quantity_after: int | None = None
    purchased_at: str
    assigned: bool
    cancellable_until: str
    user: str | None = None
    state: LicenseState | None = None
    # Found by the reconciliation: the seat is not held by its hire while it can still be
    # reduced (`shared.use_cases.reconcile`); None when it is held, or not checked yet.
    unheld: str | None = None
    reducible: bool = False


class CapUse(BaseModel):
    used: int
    limit: int | None = None


class CapUsage(BaseModel):
    day: CapUse
    month: CapUse


class PurchaseList(BaseModel):
    purchases: list[Purchase]
    cap: CapUsage


class Reconciliation(BaseModel):
    """What one run of the reconciliation found: seats bought that their hires do not hold."""

    checked: int
    unheld: list[Purchase]
