"""The Graph simulator's world: tenants, their SKUs, commercial subscriptions and users.

Plain dataclasses (so the world can be deep-copied for resets and saved as JSON), plus how
Graph derives what it reports from them: a SKU's units are the sum of its companySubscriptions'
`totalLicenses` by status, and `consumedUnits` is the number of users holding it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class App:
    client_id: str
    client_secret: str
    display_name: str


@dataclass
class CompanySubscription:
    """One commercial subscription behind a SKU (what `directory/subscriptions` lists)."""

    id: str
    commerce_subscription_id: str
    sku_id: str
    total_licenses: int
    status: str = "Enabled"  # Enabled | Warning | Suspended | LockedOut | Deleted
    is_trial: bool = False
    created: str = "2024-03-01T00:00:00Z"
    next_lifecycle: str | None = "2027-03-01T00:00:00Z"


@dataclass
class Sku:
    sku_id: str
    sku_part_number: str
    applies_to: str = "User"


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    usage_location: str | None = None
    account_enabled: bool = True
    # skuId (lower case) -> disabled plan ids
    assigned_licenses: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Tenant:
    tenant_id: str
    display_name: str
    domains: list[str]
    # app client id -> application permissions granted by the tenant's admin consent
    consents: dict[str, list[str]] = field(default_factory=dict)
    skus: dict[str, Sku] = field(default_factory=dict)
    subscriptions: dict[str, CompanySubscription] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


@dataclass
class GraphState:
    apps: list[App] = field(default_factory=list)
    tenants: dict[str, Tenant] = field(default_factory=dict)


@dataclass(frozen=True)
class SkuUnits:
    """A SKU's counters as `subscribedSkus` reports them."""

    enabled: int
    warning: int
    suspended: int
    locked_out: int
    consumed: int
    capability_status: str

    @property
    def free(self) -> int:
        return max(0, self.enabled - self.consumed)


# The user properties the simulator knows (what $select may name), read from a `User`.
USER_PROPERTIES: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id,
    "userPrincipalName": lambda u: u.user_principal_name,
    "displayName": lambda u: u.display_name,
    "givenName": lambda u: u.given_name,
    "surname": lambda u: u.surname,
    "mail": lambda u: u.user_principal_name,
    "jobTitle": lambda u: u.job_title,
    "mobilePhone": lambda u: None,
    "officeLocation": lambda u: None,
    "preferredLanguage": lambda u: "en-US",
    "businessPhones": lambda u: [],
    "accountEnabled": lambda u: u.account_enabled,
    "usageLocation": lambda u: u.usage_location,
    "assignedLicenses": lambda u: [
        {"disabledPlans": list(plans), "skuId": sku} for sku, plans in u.assigned_licenses.items()
    ],
}
# What Graph returns for a user when no $select is given (no usageLocation, no licences).
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
# What $select may name on a subscribedSku.
SKU_PROPERTIES = (
    "accountName",
    "accountId",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "id",
    "prepaidUnits",
    "servicePlans",
    "skuId",
    "skuPartNumber",
    "subscriptionIds",
)
# JSON name -> `User` attribute, for PATCH; anything else is refused.
PATCHABLE_USER_PROPERTIES = {
    "usageLocation": "usage_location",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "jobTitle": "job_title",
    "accountEnabled": "account_enabled",
}


def sku_units(tenant: Tenant, sku_id: str) -> SkuUnits:
    """What `subscribedSkus` reports for `sku_id` (lower case) in the tenant."""
    by_status = {"Enabled": 0, "Warning": 0, "Suspended": 0, "LockedOut": 0}
    for subscription in tenant.subscriptions.values():
        if subscription.sku_id == sku_id and subscription.status in by_status:
            by_status[subscription.status] += subscription.total_licenses
    consumed = sum(1 for user in tenant.users.values() if sku_id in user.assigned_licenses)
    status = next((s for s, units in by_status.items() if units > 0), "Deleted")
    return SkuUnits(
        enabled=by_status["Enabled"],
        warning=by_status["Warning"],
        suspended=by_status["Suspended"],
        locked_out=by_status["LockedOut"],
        consumed=consumed,
        capability_status=status,
    )
