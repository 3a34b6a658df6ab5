"""The composition root: builds every adapter lazily, once per process.

Importing this module does nothing that can fail or touch the network: settings are read,
and clients built, on first use.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING

import httpx

from shared import names
from shared.errors import ConfigurationError
from shared.listing_window import ListingWindow, credentials_identity
from shared.settings import Settings, load_settings

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient

    from shared.adapters.graph import GraphClient
    from shared.adapters.ledger import TableLedger
    from shared.adapters.locks import TableLeases
    from shared.adapters.org_store import TableOrgStore
    from shared.adapters.purchase_history import TablePurchaseHistory
    from shared.adapters.queues import QueueSender
    from shared.adapters.secret_store import SecretStore
    from shared.adapters.stellr import StellrClient, StellrTokenCache
    from shared.adapters.storage import Tables
    from shared.adapters.webhook import WebhookClient
    from shared.models import SynnexCredentials
    from shared.use_cases.notify import Notifications
    from shared.use_cases.onboarding import OnboardingWorkflow

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A webhook answers within seconds or is tried again later (its own queue, never a hire's).
NOTIFY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Threads for the storage reads a lookup makes at once (a few per request).
LOOKUP_READ_THREADS = 8


class Container:
    """Every adapter the functions need, each built on first use and then kept."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._given_settings = settings
        self._lock = threading.RLock()
        self._stellr_clients: dict[tuple[str, ...], StellrClient] = {}

    @cached_property
    def listing_window(self) -> ListingWindow:
        """The form's freshness window for Synnex subscription listings (this instance's)."""
        return ListingWindow()

    @cached_property
    def lookup_executor(self) -> ThreadPoolExecutor:
        """Runs a lookup's independent storage reads at once; threads start on first use."""
        return ThreadPoolExecutor(LOOKUP_READ_THREADS, thread_name_prefix="lookup")

    @cached_property
    def settings(self) -> Settings:
        return self._given_settings or load_settings()

    @cached_property
    def tables(self) -> Tables:
        from shared.adapters.storage import Tables, table_service_from_settings

        return Tables(table_service_from_settings(self.settings))

    @cached_property
    def queue_service(self) -> QueueServiceClient:
        from shared.adapters.storage import queue_service_from_settings

        return queue_service_from_settings(self.settings)

    @cached_property
    def orgs(self) -> TableOrgStore:
        from shared.adapters.org_store import TableOrgStore

        return TableOrgStore(
            orgs=lambda: self.tables.get(names.ORGS_TABLE),
            variables=lambda: self.tables.get(names.ORG_VARIABLES_TABLE),
        )

    @cached_property
    def secrets(self) -> SecretStore:
        from shared.adapters.secret_store import KeyVaultSecretStore, TableSecretStore

        settings = self.settings
        if settings.KEY_VAULT_URI:
            vault_url = str(settings.KEY_VAULT_URI)

            def secret_client():  # type: ignore[no-untyped-def]
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                return SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())

            return KeyVaultSecretStore(client=secret_client)
        if settings.running_in_azure:
            # Never a silent fallback: secrets in a plaintext table of a production account.
            raise ConfigurationError(
                "KEY_VAULT_URI",
                "missing or blank while running in Azure (WEBSITE_INSTANCE_ID, "
                "WEBSITE_SITE_NAME or CONTAINER_NAME is set); set it to the vault's URI. "
                "The devsecrets table is for development only",
            )
        return TableSecretStore(table=lambda: self.tables.get(names.DEV_SECRETS_TABLE))

    @cached_property
    def synnex_http(self) -> httpx.Client:
        # trust_env stays on: SSL_CERT_FILE and proxy variables are honoured.
        return httpx.Client(timeout=TIMEOUT, headers={"Accept": "application/json"})

    @cached_property
    def graph_http(self) -> httpx.Client:
        return httpx.Client(timeout=TIMEOUT)

    @cached_property
    def stellr_tokens(self) -> StellrTokenCache:
        from shared.adapters.stellr import StellrTokenCache

        return StellrTokenCache()

    def stellr_for(self, credentials: SynnexCredentials) -> StellrClient:
        """The Stellr client for one reseller's credentials, kept for reuse."""
        from shared.adapters.stellr import StellrClient, stellr_endpoints

        key = credentials_identity(credentials)
        with self._lock:
            client = self._stellr_clients.get(key)
            if client is None:
                endpoints = stellr_endpoints(
                    credentials.environment, credentials.region,
                    api_base_url_override=self.settings.SYNNEX_API_BASE_URL,
                    token_url_override=self.settings.SYNNEX_TOKEN_URL,
                )
                client = StellrClient(
                    http=self.synnex_http, endpoints=endpoints,
                    client_id=credentials.client_id, client_secret=credentials.client_secret,
                    token_cache=self.stellr_tokens,
                )
                self._stellr_clients[key] = client
            return client

    @cached_property
    def graph(self) -> GraphClient:
        from pydantic import SecretStr

        from shared.adapters.graph import GraphClient

        client_id, client_secret = self.settings.require_graph()
        return GraphClient(
            http=self.graph_http, client_id=client_id, client_secret=SecretStr(client_secret),
            authority_host=self.settings.GRAPH_AUTHORITY_HOST,
            base_url=self.settings.GRAPH_BASE_URL,
        )

    @cached_property
    def ledger(self) -> TableLedger:
        from shared.adapters.ledger import TableLedger

        return TableLedger(
            events=lambda: self.tables.get(names.ONBOARDING_LEDGER_TABLE),
            purchases=lambda: self.tables.get(names.PURCHASE_LEDGER_TABLE),
        )

    @cached_property
    def purchase_history(self) -> TablePurchaseHistory:
        """The subscription each org last bought each SKU through (`purchaseledger`)."""
        from shared.adapters.purchase_history import TablePurchaseHistory

        return TablePurchaseHistory(table=lambda: self.tables.get(names.PURCHASE_LEDGER_TABLE))

    @cached_property
    def leases(self) -> TableLeases:
        import time

        from shared.adapters.locks import TableLeases

        return TableLeases(
            table=lambda: self.tables.get(names.SUBSCRIPTION_LOCKS_TABLE), clock=time.time
        )

    @cached_property
    def sender(self) -> QueueSender:
        from shared.adapters.queues import QueueSender

        return QueueSender(self.queue_service)

    @cached_property
    def notifications(self) -> Notifications | None:
        """Raising notifications onto their queue; None when NOTIFY_WEBHOOK_URL is not set
        (or not usable), so that nothing is queued for nobody."""
        from shared.use_cases.notify import Notifications

        if self.settings.notify_webhook_url is None:
            return None
        return Notifications(self.sender, base_url=self.settings.public_base_url)

    @cached_property
    def webhook(self) -> WebhookClient | None:
        """The notification webhook's client; None when NOTIFY_WEBHOOK_URL is not set."""
        from shared.adapters.webhook import WebhookClient

        url = self.settings.notify_webhook_url
        if url is None:
            return None
        return WebhookClient(http=httpx.Client(timeout=NOTIFY_TIMEOUT), url=url,
                             secret=self.settings.NOTIFY_WEBHOOK_SECRET,
                             format=self.settings.NOTIFY_FORMAT)

    @cached_property
    def workflow(self) -> OnboardingWorkflow:
        from datetime import timedelta

        from shared.adapters.org_store import RecentOrgs
        from shared.use_cases.job import WaitPolicy
        from shared.use_cases.onboarding import OnboardingWorkflow

        settings = self.settings
        policy = WaitPolicy(
            initial_seconds=settings.LICENSE_WAIT_INITIAL_SECONDS,
            max_seconds=settings.LICENSE_WAIT_MAX_SECONDS,
            deadline=timedelta(hours=settings.LICENSE_WAIT_DEADLINE_HOURS),
            user_lookup_deadline=timedelta(seconds=settings.USER_LOOKUP_DEADLINE_SECONDS),
        )
        return OnboardingWorkflow(
            orgs=RecentOrgs(self.orgs), ledger=self.ledger, secrets=self.secrets,
            graph=lambda: self.graph,
            stellr_for=self.stellr_for, sender=self.sender, leases=self.leases, policy=policy,
            window=self.listing_window, history=self.purchase_history,
            notifications=self.notifications,
        )


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    """The process-wide container, built on first call."""
    global _container
    with _container_lock:
        if _container is None:
            _container = Container()
        return _container


def reset_container(replacement: Container | None = None) -> None:
    """Drop the process-wide container (tests, and the local runner after changing settings)."""
    global _container
    with _container_lock:
        previous, _container = _container, replacement
    executor = previous.__dict__.get("lookup_executor") if previous is not None else None
    if isinstance(executor, ThreadPoolExecutor):
        executor.shutdown(wait=False)
