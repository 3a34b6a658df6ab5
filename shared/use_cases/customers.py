"""The MSP's Synnex customers: list them with the org each seems to be, and check a customer
number before an org is saved with it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from shared.adapters.secret_store import SecretStore
from shared.core.customers import descendants, suggest_org
from shared.errors import InvalidInput, UpstreamError
from shared.models import Customer, Org, SynnexCredentials, SynnexCustomer, SynnexCustomerList
from shared.use_cases.credentials import load_credentials, require_root
from shared.use_cases.orgs import OrgStore, get_org

log = logging.getLogger(__name__)


class OrgDirectory(OrgStore, Protocol):
    """An org store that can also list every org."""

    def list_orgs(self) -> list[Org]: ...


class CustomerReader(Protocol):
    def list_customers(self) -> list[Customer]: ...


StellrFor = Callable[[SynnexCredentials], CustomerReader]


def list_synnex_customers(
    *, orgs: OrgDirectory, secrets: SecretStore, stellr_for: StellrFor, org_id: str
) -> SynnexCustomerList:
    """Every customer the MSP root's Synnex account shows, each with `suggested_org_id`.

    Raises NotFound (org), InvalidInput (not a root: org_id; nothing stored:
    synnex-credentials), and what the Stellr client raises (Transient, UpstreamError).
    """
    root = get_org(orgs, org_id)
    require_root(root)
    credentials = load_credentials(secrets, root.org_id)
    if credentials is None:
        raise InvalidInput(
            "synnex-credentials",
            f"no Synnex credentials are stored for MSP root org {root.org_id!r}",
        )
    customers = stellr_for(credentials).list_customers()
    below = descendants(root.org_id, orgs.list_orgs())
    ordered = sorted(customers, key=lambda c: ((c.name or "").casefold(), c.customer_no))
    return SynnexCustomerList(customers=[
        SynnexCustomer(
            customer_no=customer.customer_no, name=customer.name, domain=customer.domain,
            suggested_org_id=suggest_org(customer, below),
        )
        for customer in ordered
    ])


def check_customer_no(
    *, secrets: Callable[[], SecretStore], stellr_for: StellrFor, root_org_id: str,
    org_id: str, customer_no: str,
) -> None:
    """Refuse a customer number the root's Synnex account does not show.

    Raises InvalidInput (field synnex_customer_no) only when credentials are stored and
    Synnex answered the customer list. When it cannot be asked (no credentials stored, or
    Synnex unavailable, throttling or refusing), the number is accepted with a WARNING: an
    org can be set up before the credentials, and a Synnex outage must not block it.
    """
    credentials = load_credentials(secrets(), root_org_id)
    if credentials is None:
        log.warning(
            "synnex customer number not verified org=%s root=%s customer=%s "
            "reason=no synnex credentials stored",
            org_id, root_org_id, customer_no,
        )
        return
    try:
        customers = stellr_for(credentials).list_customers()
    except UpstreamError as exc:
        log.warning(
            "synnex customer number not verified org=%s root=%s customer=%s reason=%s "
            "requestId=%s",
            org_id, root_org_id, customer_no, type(exc).__name__, exc.request_id,
        )
        return
    if not any(customer.customer_no == customer_no for customer in customers):
        raise InvalidInput(
            "synnex_customer_no",
            f"customer {customer_no!r} is not among the {len(customers)} customers the "
            f"Synnex account of MSP root org {root_org_id!r} shows; "
            f"GET /api/orgs/{root_org_id}/synnex-customers lists them",
        )
    log.info(
        "synnex customer number verified org=%s root=%s customer=%s",
        org_id, root_org_id, customer_no,
    )
