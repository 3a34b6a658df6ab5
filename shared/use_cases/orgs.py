"""Orgs and org variables: create, read, resolve (contract sections 3 and 4)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from shared.core.variables import resolve_effective
from shared.errors import InvalidInput, NotFound
from shared.models import (
    ORG_ID_PATTERN,
    VARIABLE_NAME_PATTERN,
    EffectiveVariable,
    Org,
    OrgIn,
    Variable,
    VariableIn,
)

# Deeper trees than this are refused: the walk to the root stays short and cannot loop.
MAX_DEPTH = 16

_ORG_ID = re.compile(ORG_ID_PATTERN)
_VARIABLE_NAME = re.compile(VARIABLE_NAME_PATTERN)


class OrgStore(Protocol):
    def get_org(self, org_id: str) -> Org | None: ...
    def put_org(self, org: Org) -> None: ...
    def list_variables(self, org_id: str) -> list[Variable]: ...
    def get_variable(self, org_id: str, name: str) -> Variable | None: ...
    def put_variable(self, variable: Variable) -> None: ...
    def delete_variable(self, org_id: str, name: str) -> None: ...


def check_org_id(org_id: str, *, field: str = "org_id") -> str:
    """The org id if well-formed, else InvalidInput (400) naming `field`."""
    if not _ORG_ID.fullmatch(org_id):
        raise InvalidInput(field, "must be 1-64 of A-Z a-z 0-9 _ -", status=400)
    return org_id


def check_variable_name(name: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise InvalidInput("name", "must be 1-64 of a-z 0-9 _", status=400)
    return name


def get_org(store: OrgStore, org_id: str) -> Org:
    """The org; NotFound when there is none."""
    org = store.get_org(check_org_id(org_id))
    if org is None:
        raise NotFound("org", org_id)
    return org


def lineage(store: OrgStore, org: Org) -> list[Org]:
    """The org, its parent, and so on up to its root."""
    chain = [org]
    while chain[-1].parent_id is not None and len(chain) <= MAX_DEPTH:
        parent = store.get_org(chain[-1].parent_id)
        if parent is None or any(o.org_id == parent.org_id for o in chain):
            break  # a parent deleted underneath, or a cycle written by hand: stop here
        chain.append(parent)
    return chain


# (root org id, customer number) -> None, or InvalidInput naming synnex_customer_no.
CustomerNoCheck = Callable[[str, str], None]


def put_org(
    store: OrgStore, org_id: str, body: OrgIn, *, check_customer_no: CustomerNoCheck | None = None
) -> tuple[Org, bool]:
    """Create or replace an org; returns it and whether it is new.

    InvalidInput (422) for a parent that does not exist, a cycle, or a tree too deep, and
    whatever `check_customer_no` raises for the body's `synnex_customer_no` (given the org's
    MSP root), which is asked after the parent checks and before anything is written.
    """
    check_org_id(org_id)
    existing = store.get_org(org_id)
    root_id = org_id
    if body.parent_id is not None:
        parent = store.get_org(body.parent_id)
        if parent is None:
            raise InvalidInput("parent_id", f"org {body.parent_id!r} does not exist")
        chain = lineage(store, parent)
        if any(o.org_id == org_id for o in chain):
            raise InvalidInput("parent_id", "would make the org its own ancestor (a cycle)")
        if len(chain) >= MAX_DEPTH:
            raise InvalidInput("parent_id", f"the org tree may be at most {MAX_DEPTH} deep")
        root_id = chain[-1].org_id
    if body.synnex_customer_no is not None and check_customer_no is not None:
        check_customer_no(root_id, body.synnex_customer_no)
    org = Org(
        org_id=org_id,
        name=body.name,
        parent_id=body.parent_id,
        m365_tenant_id=body.m365_tenant_id,
        synnex_customer_no=body.synnex_customer_no,
    )
    store.put_org(org)
    return org, existing is None


def put_variable(store: OrgStore, org_id: str, name: str, body: VariableIn) -> Variable:
    get_org(store, org_id)
    variable = Variable(
        org_id=org_id, name=check_variable_name(name), value=body.value, cascade=body.cascade
    )
    store.put_variable(variable)
    return variable


def get_variable(store: OrgStore, org_id: str, name: str) -> Variable:
    get_org(store, org_id)
    variable = store.get_variable(org_id, check_variable_name(name))
    if variable is None:
        raise NotFound("variable", name)
    return variable


def delete_variable(store: OrgStore, org_id: str, name: str) -> None:
    get_org(store, org_id)
    store.delete_variable(org_id, check_variable_name(name))


def list_variables(store: OrgStore, org_id: str) -> list[Variable]:
    get_org(store, org_id)
    return sorted(store.list_variables(org_id), key=lambda v: v.name)


def effective_variables(store: OrgStore, org: Org) -> dict[str, EffectiveVariable]:
    """Every variable that applies to `org` (contract section 3)."""
    chain = [(o.org_id, store.list_variables(o.org_id)) for o in lineage(store, org)]
    return resolve_effective(chain)
