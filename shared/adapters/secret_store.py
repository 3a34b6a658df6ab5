"""Secrets: Azure Key Vault in Azure, the `devsecrets` table on a developer's machine."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import storage_errors
from shared.errors import Unavailable

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient


class SecretStore(Protocol):
    def get_secret(self, name: str) -> str | None: ...
    def set_secret(self, name: str, value: str) -> None: ...
    def delete_secret(self, name: str) -> None: ...


def synnex_secret_name(org_id: str) -> str:
    """The Key Vault secret name for an MSP root's Synnex credentials.

    Key Vault names allow only letters, digits and '-', and compare case-insensitively, while
    org ids also allow '_' and are case-sensitive: a readable slug plus a hash of the exact id
    keeps every org's name distinct.
    """
    slug = re.sub(r"[^a-z0-9-]", "-", org_id.lower())
    digest = hashlib.sha256(org_id.encode()).hexdigest()[:12]
    return f"synnex-{slug}-{digest}"


class KeyVaultSecretStore:
    """Secrets in Key Vault; the SecretClient (and its credential) is built on first use."""

    def __init__(self, *, client: Callable[[], SecretClient]) -> None:
        self._client_factory = client
        self._client: SecretClient | None = None
        self._lock = threading.Lock()

    def _secrets(self) -> SecretClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def get_secret(self, name: str) -> str | None:
        """The secret's value, or None; raises Unavailable when the vault cannot be reached."""
        from azure.core.exceptions import AzureError

        try:
            return self._secrets().get_secret(name).value
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise Unavailable("keyvault", f"read secret {name}: {type(exc).__name__}") from None

    def set_secret(self, name: str, value: str) -> None:
        """Store a new version; raises Unavailable."""
        from azure.core.exceptions import AzureError

        try:
            self._secrets().set_secret(name, value, content_type="application/json")
        except AzureError as exc:
            # `from None`: the SDK's exception may carry the request, and so the value.
            raise Unavailable("keyvault", f"write secret {name}: {type(exc).__name__}") from None

    def delete_secret(self, name: str) -> None:
        from azure.core.exceptions import AzureError

        try:
            self._secrets().begin_delete_secret(name)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise Unavailable("keyvault", f"delete secret {name}: {type(exc).__name__}") from None


class TableSecretStore:
    """Secrets in the `devsecrets` table: for development with Azurite, never in Azure."""

    _PARTITION = "secret"

    def __init__(self, *, table: Callable[[], TableClient]) -> None:
        self._table = table

    def get_secret(self, name: str) -> str | None:
        with storage_errors("read secret"):
            try:
                entity = self._table().get_entity(self._PARTITION, name)
            except ResourceNotFoundError:
                return None
        return str(entity["value"])

    def set_secret(self, name: str, value: str) -> None:
        entity = {"PartitionKey": self._PARTITION, "RowKey": name, "value": value}
        with storage_errors("write secret"):
            self._table().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def delete_secret(self, name: str) -> None:
        with storage_errors("delete secret"):
            self._table().delete_entity(self._PARTITION, name)
