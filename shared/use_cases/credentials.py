"""Synnex credentials of an MSP root: test them, and store them only when they work."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Protocol

from pydantic import SecretStr, ValidationError

from shared.adapters.secret_store import SecretStore, synnex_secret_name
from shared.errors import InvalidCredentials, InvalidInput, NoApiAccess, NotFound
from shared.models import CredentialCheck, CredentialsIn, Org, SynnexCredentials
from shared.use_cases.orgs import OrgStore, get_org

log = logging.getLogger(__name__)


class CredentialProbe(Protocol):
    """The two calls a credential test makes."""

    def check_token(self) -> None: ...
    def count_customers(self) -> int: ...


StellrFor = Callable[[SynnexCredentials], CredentialProbe]


def require_root(org: Org) -> None:
    """InvalidInput (422, field org_id) unless `org` is an MSP root."""
    if org.parent_id is not None:
        raise InvalidInput(
            "org_id",
            f"Synnex credentials belong to an MSP root org; {org.org_id!r} has parent "
            f"{org.parent_id!r}",
        )


def check_credentials(credentials: SynnexCredentials, stellr_for: StellrFor) -> CredentialCheck:
    """Token, then one cheap read. Transient errors (Synnex unreachable) propagate."""
    client = stellr_for(credentials)
    try:
        client.check_token()
        visible = client.count_customers()
    except InvalidCredentials as exc:
        return CredentialCheck(
            valid=False, environment=credentials.environment, region=credentials.region,
            reason="invalid_credentials", detail=exc.detail,
        )
    except NoApiAccess as exc:
        return CredentialCheck(
            valid=False, environment=credentials.environment, region=credentials.region,
            reason="no_api_access", detail=exc.detail,
        )
    return CredentialCheck(
        valid=True, environment=credentials.environment, region=credentials.region,
        customers_visible=visible,
    )


def save_credentials(
    *, orgs: OrgStore, secrets: SecretStore, stellr_for: StellrFor, org_id: str,
    body: CredentialsIn,
) -> CredentialCheck:
    """Test the credentials, and store them only when valid."""
    org = get_org(orgs, org_id)
    require_root(org)
    credentials = SynnexCredentials(
        environment=body.environment, region=body.region, client_id=body.client_id,
        client_secret=body.client_secret,
    )
    result = check_credentials(credentials, stellr_for)
    if result.valid:
        secrets.set_secret(synnex_secret_name(org.org_id), _dump(credentials))
        log.info(
            "synnex credentials stored org=%s environment=%s region=%s",
            org.org_id, credentials.environment, credentials.region,
        )
    else:
        log.info("synnex credentials rejected org=%s reason=%s", org.org_id, result.reason)
    return result


def load_credentials(secrets: SecretStore, org_id: str) -> SynnexCredentials | None:
    """The stored credentials of an MSP root, or None."""
    stored = secrets.get_secret(synnex_secret_name(org_id))
    if stored is None:
        return None
    try:
        data = json.loads(stored)
        return SynnexCredentials(
            environment=data["environment"], region=data.get("region", "us"),
            client_id=data["client_id"], client_secret=SecretStr(data["client_secret"]),
        )
    except (ValueError, KeyError, TypeError, ValidationError):
        # Never echo the stored text: it holds the secret.
        log.error("stored synnex credentials unreadable org=%s", org_id)
        return None


def check_stored_credentials(
    *, orgs: OrgStore, secrets: SecretStore, stellr_for: StellrFor, org_id: str
) -> CredentialCheck:
    """Test what is stored; NotFound when nothing is."""
    org = get_org(orgs, org_id)
    credentials = load_credentials(secrets, org.org_id)
    if credentials is None:
        raise NotFound("synnex credentials of org", org.org_id)
    return check_credentials(credentials, stellr_for)


def _dump(credentials: SynnexCredentials) -> str:
    return json.dumps({
        "environment": credentials.environment,
        "region": credentials.region,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret.get_secret_value(),
    })
