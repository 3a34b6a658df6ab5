"""The form's two lookups: Synnex subscriptions for the dropdown, and the tenant's licences."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from shared.adapters.secret_store import SecretStore
from shared.core.licenses import license_options
from shared.core.subscriptions import dropdown_options, matched_options, suggest
from shared.core.variables import choice_enabled, resolve_effective
from shared.errors import InvalidInput, NotFound, Transient, UpstreamNotFound
from shared.models import (
    Guid,
    LicenseLookup,
    MatchedSubscriptionLookup,
    Org,
    SubscribedSku,
    Subscription,
    SubscriptionLookup,
    SynnexCredentials,
    Variable,
)
from shared.use_cases.credentials import load_credentials
from shared.use_cases.orgs import MAX_DEPTH, OrgStore, check_org_id, get_org
from shared.use_cases.ports import ListingWindow

log = logging.getLogger(__name__)

T = TypeVar("T")

_SKU_ID: TypeAdapter[str] = TypeAdapter(Guid)


class SubscriptionReader(Protocol):
    def list_subscriptions(self, customer_no: str) -> list[Subscription]: ...


class SkuReader(Protocol):
    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]: ...


class PurchaseHistory(Protocol):
    """Which subscription an org last bought a SKU through (`TablePurchaseHistory`)."""

    def record(self, org_id: str, sku_id: str, subscription_id: str) -> None: ...

    def find_last(self, org_id: str, sku_id: str) -> str | None: ...


def check_sku_id(sku_id: str) -> str:
    """The `sku_id` query parameter as a lower-case GUID; InvalidInput (422) naming it."""
    try:
        return _SKU_ID.validate_python(sku_id.strip())
    except ValidationError:
        raise InvalidInput(
            "sku_id", "must be a licence's GUID, e.g. cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
        ) from None


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


def lookup_subscriptions(
    *, orgs: OrgStore, secrets: SecretStore,
    stellr_for: Callable[[SynnexCredentials], SubscriptionReader], org_id: str,
    sku_id: str | None = None, history: PurchaseHistory | None = None,
    window: ListingWindow | None = None, executor: Executor | None = None,
) -> SubscriptionLookup | MatchedSubscriptionLookup:
    """The dropdown for a customer org; Synnex is not called when the choice is off.

    With `sku_id` (a licence's GUID; InvalidInput naming it otherwise), each entry says how
    its product matches the SKU's, best first, and `suggested_id` names the entry to
    preselect: the only exact match, or among several the one `history` says the org bought
    the SKU through last time. Without it, the answer is the plain dropdown.
    `window` serves a listing fetched moments ago for the same credentials and customer.
    With an `executor`, storage reads that do not wait for each other run at once (see
    `_read_lineage`), and the last subscription is read while Stellr answers: a person
    filling in a form waits for this answer.
    """
    checked_org_id = check_org_id(org_id)
    wanted = check_sku_id(sku_id) if sku_id is not None else None
    found = _read_lineage(orgs, secrets, checked_org_id, executor)
    org, root = found.chain[0], found.chain[-1]
    effective = resolve_effective([
        (o.org_id, variables.result())
        for o, variables in zip(found.chain, found.variables, strict=True)
    ])
    if not choice_enabled(effective):
        # The credentials read ahead are dropped unread (a failure to read them included).
        if wanted is None:
            return SubscriptionLookup(org_id=org.org_id, enabled=False, subscriptions=[])
        return MatchedSubscriptionLookup(
            org_id=org.org_id, enabled=False, subscriptions=[], suggested_id=None
        )
    customer_no = require_customer_no(org)
    credentials = found.credentials.result()
    if credentials is None:
        raise InvalidInput(
            "synnex-credentials",
            f"no Synnex credentials are stored for MSP root org {root.org_id!r}",
        )
    last: Future[str | None] | None = None
    if wanted is not None and history is not None and executor is not None:
        last = executor.submit(history.find_last, org.org_id, wanted)
    client = stellr_for(credentials)
    if window is None:
        subscriptions = client.list_subscriptions(customer_no)
    else:
        subscriptions = window.get_or_load(
            credentials, customer_no, lambda: client.list_subscriptions(customer_no)
        )
    if wanted is None:
        return SubscriptionLookup(
            org_id=org.org_id, enabled=True, subscriptions=dropdown_options(subscriptions)
        )
    options = matched_options(subscriptions, wanted)
    exact = [option.id for option in options if option.match == "exact"]
    last_bought = _last_bought(history, last, org.org_id, wanted) if len(exact) > 1 else None
    return MatchedSubscriptionLookup(
        org_id=org.org_id, enabled=True, subscriptions=options,
        suggested_id=suggest(exact, last_bought),
    )


def _last_bought(
    history: PurchaseHistory | None, pending: Future[str | None] | None, org_id: str, sku_id: str
) -> str | None:
    """The subscription the org last bought the SKU through, from the read already started
    if there is one; None when storage cannot say (a suggestion is not worth failing the
    dropdown for).
    """
    if history is None:
        return None
    try:
        return pending.result() if pending is not None else history.find_last(org_id, sku_id)
    except Transient as exc:
        log.warning("subscription lookup org=%s sku=%s: no suggestion, last purchase not "
                    "read: %s", org_id, sku_id, exc)
        return None


@dataclass(frozen=True)
class _Lineage:
    chain: list[Org]  # the org, its parent, and so on up to its root (as `orgs.lineage`)
    variables: list[Future[list[Variable]]]  # each one's own variables, in the same order
    credentials: Future[SynnexCredentials | None]  # the root's stored Synnex credentials


def _read_lineage(
    orgs: OrgStore, secrets: SecretStore, org_id: str, executor: Executor | None
) -> _Lineage:
    """What the dropdown needs from storage, in as few rounds as the tree allows.

    Walking up the tree is one read after another, but each org's variables are read
    together with the org itself, and the credentials of each parent together with that
    parent, on the bet that it is the MSP root (the usual customer-under-MSP tree: two rounds
    instead of six reads in turn). A lost bet (a deeper tree) costs one unused vault read.
    Raises NotFound for an unknown org, Unavailable when storage or the vault cannot be read.
    """
    variables = [_start(executor, orgs.list_variables, org_id)]
    org = orgs.get_org(org_id)
    if org is None:
        raise NotFound("org", org_id)
    chain = [org]
    credentials: tuple[str, Future[SynnexCredentials | None]] | None = None
    while chain[-1].parent_id is not None and len(chain) <= MAX_DEPTH:
        parent_id = chain[-1].parent_id
        parent_variables = _start(executor, orgs.list_variables, parent_id)
        credentials = (parent_id, _start(executor, load_credentials, secrets, parent_id))
        parent = orgs.get_org(parent_id)
        if parent is None or any(o.org_id == parent.org_id for o in chain):
            break  # a parent deleted underneath, or a cycle written by hand: stop here
        chain.append(parent)
        variables.append(parent_variables)
    root = chain[-1]
    if credentials is None or credentials[0] != root.org_id:
        credentials = (root.org_id, _start(executor, load_credentials, secrets, root.org_id))
    return _Lineage(chain, variables, credentials[1])


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


def _start(executor: Executor | None, call: Callable[..., T], *args: object) -> Future[T]:
    """`call(*args)` on the executor, or here and now without one."""
    if executor is not None:
        return executor.submit(call, *args)
    done: Future[T] = Future()
    try:
        done.set_result(call(*args))
    except Exception as exc:
        done.set_exception(exc)
    return done
