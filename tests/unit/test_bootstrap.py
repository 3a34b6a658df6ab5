"""The composition root: which secret store it builds, and that it builds nothing early."""

from __future__ import annotations

import pytest

from shared.adapters.secret_store import KeyVaultSecretStore, TableSecretStore
from shared.bootstrap import Container
from shared.errors import ConfigurationError
from shared.settings import Settings

STORAGE = "UseDevelopmentStorage=true"


class TestContainerSecrets:
    def test_keeps_secrets_in_the_devsecrets_table_on_a_developer_machine(self) -> None:
        """Without KEY_VAULT_URI, outside Azure, secrets go to the devsecrets table."""
        container = Container(Settings(AzureWebJobsStorage=STORAGE))
        assert isinstance(container.secrets, TableSecretStore)

    @pytest.mark.parametrize(
        "marker",
        [
            {"WEBSITE_INSTANCE_ID": "4f2a9c1e7b3d"},
            {"WEBSITE_SITE_NAME": "msplic-func-7x2k4q"},
            {"CONTAINER_NAME": "msplic-func-7x2k4q_1a2b3c"},
        ],
        ids=lambda marker: next(iter(marker)),
    )
    def test_refuses_the_devsecrets_table_when_running_in_azure(
        self, marker: dict[str, str]
    ) -> None:
        """In Azure (any platform variable set) a missing KEY_VAULT_URI is an error naming it."""
        container = Container(Settings(AzureWebJobsStorage=STORAGE, **marker))
        with pytest.raises(ConfigurationError) as caught:
            _ = container.secrets
        assert caught.value.setting == "KEY_VAULT_URI"
        assert "KEY_VAULT_URI" in str(caught.value)

    def test_refuses_a_blank_key_vault_uri_in_azure_on_every_use(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A KEY_VAULT_URI of spaces in Azure: the same error, again at each use, never a table."""
        monkeypatch.setenv("AzureWebJobsStorage", STORAGE)
        monkeypatch.setenv("CONTAINER_NAME", "msplic-func-7x2k4q_1a2b3c")
        monkeypatch.setenv("KEY_VAULT_URI", "  ")
        container = Container()
        for _ in range(2):
            with pytest.raises(ConfigurationError) as caught:
                _ = container.secrets
            assert caught.value.setting == "KEY_VAULT_URI"

    def test_uses_key_vault_without_building_a_credential(self) -> None:
        """With KEY_VAULT_URI the vault client (and its credential) waits for the first use."""
        container = Container(Settings(
            AzureWebJobsStorage=STORAGE, WEBSITE_INSTANCE_ID="4f2a9c1e7b3d",
            KEY_VAULT_URI="https://kv-northwind.vault.azure.net/",
        ))
        secrets = container.secrets
        assert isinstance(secrets, KeyVaultSecretStore)
        assert secrets._client is None
