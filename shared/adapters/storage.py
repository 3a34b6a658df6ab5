"""Clients for the app's Storage account (tables and queues), built from AzureWebJobsStorage.

Locally that is a connection string (Azurite); in Azure it is identity-based
(`AzureWebJobsStorage__accountName`, or `__tableServiceUri` / `__queueServiceUri`, with
`__clientId` for a user-assigned identity). Storage errors are translated here, once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableServiceClient

from shared.errors import ConfigurationError, Unavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.queue import QueueServiceClient

    from shared.settings import Settings


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn storage trouble into `Unavailable` so callers retry instead of failing for good.

    Besides outages (5xx, 429, timeouts, no connection), a 403 and a failed identity token
    count as trouble that passes: a new role assignment takes minutes to reach the storage
    account, and the managed-identity endpoint can be briefly unavailable (contract 6, 7).
    """
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise Unavailable("storage", f"{action}: storage could not be reached") from exc
    except ClientAuthenticationError as exc:
        # Raised both for a token that could not be had and for a 403 from the account.
        raise Unavailable("storage", f"{action}: storage refused the app's identity "
                          "(a role assignment may still be propagating)",
                          status_code=exc.status_code) from exc
    except HttpResponseError as exc:
        if exc.status_code is not None and (
            exc.status_code >= 500 or exc.status_code in (403, 408, 429)
        ):
            raise Unavailable(
                "storage", f"{action}: storage answered {exc.status_code}",
                status_code=exc.status_code,
            ) from exc
        raise


def _credential(settings: Settings) -> TokenCredential:
    # Imported here: azure.identity is heavy and only needed in Azure.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.AzureWebJobsStorage__clientId:
        return ManagedIdentityCredential(client_id=settings.AzureWebJobsStorage__clientId)
    return DefaultAzureCredential()


def table_service_from_settings(settings: Settings) -> TableServiceClient:
    """The TableServiceClient for AzureWebJobsStorage; ConfigurationError when it is not set."""
    settings.require_storage()
    if settings.AzureWebJobsStorage:
        return TableServiceClient.from_connection_string(settings.AzureWebJobsStorage)
    if not (settings.AzureWebJobsStorage__tableServiceUri
            or settings.AzureWebJobsStorage__accountName):
        raise ConfigurationError(
            "AzureWebJobsStorage__tableServiceUri",
            "not set: identity-based storage needs __accountName or __tableServiceUri for tables",
        )
    endpoint = (
        str(settings.AzureWebJobsStorage__tableServiceUri)
        if settings.AzureWebJobsStorage__tableServiceUri
        else f"https://{settings.AzureWebJobsStorage__accountName}.table.core.windows.net"
    )
    return TableServiceClient(endpoint=endpoint, credential=_credential(settings))


def queue_service_from_settings(settings: Settings) -> QueueServiceClient:
    """The QueueServiceClient for AzureWebJobsStorage; ConfigurationError when it is not set."""
    from azure.storage.queue import QueueServiceClient

    settings.require_storage()
    if settings.AzureWebJobsStorage:
        return QueueServiceClient.from_connection_string(settings.AzureWebJobsStorage)
    if not (settings.AzureWebJobsStorage__queueServiceUri
            or settings.AzureWebJobsStorage__accountName):
        raise ConfigurationError(
            "AzureWebJobsStorage__queueServiceUri",
            "not set: identity-based storage needs __accountName or __queueServiceUri for queues",
        )
    endpoint = (
        str(settings.AzureWebJobsStorage__queueServiceUri)
        if settings.AzureWebJobsStorage__queueServiceUri
        else f"https://{settings.AzureWebJobsStorage__accountName}.queue.core.windows.net"
    )
    return QueueServiceClient(account_url=endpoint, credential=_credential(settings))


class Tables:
    """Hands out table clients, creating each table once per process on first use."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._ready: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> TableClient:
        """The client for `name`, after making sure the table exists; raises Unavailable."""
        client = self._ready.get(name)
        if client is not None:
            return client
        with self._lock:
            client = self._ready.get(name)
            if client is None:
                client = self._service.get_table_client(name)
                with storage_errors(f"create table {name}"), suppress(ResourceExistsError):
                    client.create_table()
                self._ready[name] = client
        return client

