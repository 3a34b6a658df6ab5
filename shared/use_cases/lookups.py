"""The form's two lookups: Synnex subscriptions for the dropdown, and the tenant's licences."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from shared.adapters.secret_store import SecretStore
from shared.core.licenses import license_options
from shared.core.subscriptions import dropdown_options
from shared.core.variables import choice_enabled
from shared.errors import InvalidInput, UpstreamNotFound
from shared.models import (
    LicenseLookup,
    Org,
    SubscribedSku,
    Subscription,
    SubscriptionLookup,
    SynnexCredentials,
)
from shared.use_cases.credentials import load_credentials
from shared.use_cases.orgs import OrgStore, effective_variables, get_org, lineage

log = logging.getLogger(__name__)


class SubscriptionReader(Protocol):
    def list_subscriptions(self, customer_no: str) -> list[Subscription]: ...


class SkuReader(Protocol):
    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]: ...


def require_customer_no(org: Org) -> str:
    if not org.synnex_customer_no:
        raise InvalidInput(
            "synnex_customer_no", f"org {org.org_id!r} has no Synnex customer number"
        )
    return org.synnex_customer_no


def require_tenant(org: Org) -> str:
    if not org.m365_tenant_id:
        raise InvalidInput("m365_tenant_id", f"org {org.org_id!r} has no Microsoft 365 tenant id")
    return org.m365_tenant_id


def reseller_credentials(orgs: OrgStore, secrets: SecretStore, org: Org) -> SynnexCredentials:
    """The Synnex credentials of the org's MSP root; InvalidInput when none are stored."""
    root = lineage(orgs, org)[-1]
    credentials = load_credentials(secrets, root.org_id)
    if credentials is None:
        raise InvalidInput(
            "synnex-credentials",
            f"no Synnex credentials are stored for MSP root org {root.org_id!r}",
        )
    return credentials


def lookup_subscriptions(
    *, orgs: OrgStore, secrets: SecretStore,
    stellr_for: Callable[[SynnexCredentials], SubscriptionReader], org_id: str,
) -> SubscriptionLookup:
    """The dropdown for a customer org; Synnex is not called when the choice is off."""
    org = get_org(orgs, org_id)
    if not choice_enabled(effective_variables(orgs, org)):
        return SubscriptionLookup(org_id=org.org_id, enabled=False, subscriptions=[])
    customer_no = require_customer_no(org)
    client = stellr_for(reseller_credentials(orgs, secrets, org))
    subscriptions = client.list_subscriptions(customer_no)
    return SubscriptionLookup(
        org_id=org.org_id, enabled=True, subscriptions=dropdown_options(subscriptions)
    )


def lookup_licenses(
    *, orgs: OrgStore, graph: Callable[[], SkuReader], org_id: str
) -> LicenseLookup:
    """The tenant's user-assignable licences with their free seats.

    `graph` is a getter so that an unknown org is a 404 even where Graph is not configured.
    """
    org = get_org(orgs, org_id)
    tenant_id = require_tenant(org)
    try:
        skus = graph().list_subscribed_skus(tenant_id)
    except UpstreamNotFound as exc:
        # Entra does not know the tenant: the org's m365_tenant_id is wrong, which the caller
        # fixes (422); Graph itself did not fail (502).
        raise InvalidInput("m365_tenant_id", f"org {org.org_id!r}: {exc.detail}") from exc
    return LicenseLookup(org_id=org.org_id, licenses=license_options(skus))
