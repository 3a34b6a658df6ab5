"""Settings from the environment (contract section 2): defaults, bad values, empty values."""

from __future__ import annotations

import traceback

import pytest

from shared.errors import ConfigurationError
from shared.settings import Settings, load_settings

CANARY = "canary-7d41e9"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine running the tests leaks into them."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)


def configuration_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> ConfigurationError:
    """The error load_settings raises with `name` set to `value`."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    return caught.value


class TestLoadSettings:
    def test_applies_the_defaults_of_the_contract(self) -> None:
        """With nothing set, every optional setting has the default of contract section 2."""
        settings = load_settings()
        assert settings.GRAPH_AUTHORITY_HOST == "https://login.microsoftonline.com"
        assert settings.GRAPH_BASE_URL == "https://graph.microsoft.com"
        assert settings.LICENSE_WAIT_INITIAL_SECONDS == 60
        assert settings.LICENSE_WAIT_MAX_SECONDS == 900
        assert settings.LICENSE_WAIT_DEADLINE_HOURS == 24
        assert settings.USER_LOOKUP_DEADLINE_SECONDS == 300

    def test_leaves_the_optional_settings_unset(self) -> None:
        """Key Vault, the Graph app and the Stellr overrides are unset by default."""
        settings = load_settings()
        assert settings.KEY_VAULT_URI is None
        assert settings.SYNNEX_API_BASE_URL is None
        assert settings.SYNNEX_TOKEN_URL is None
        assert settings.GRAPH_CLIENT_ID is None
        assert settings.GRAPH_CLIENT_SECRET is None
        assert settings.AzureWebJobsStorage is None
        assert not settings.running_in_azure

    def test_reads_the_gcc_high_hosts_without_their_trailing_slash(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """GCC High hosts are taken as given, minus a trailing slash."""
        monkeypatch.setenv("GRAPH_AUTHORITY_HOST", "https://login.microsoftonline.us/")
        monkeypatch.setenv("GRAPH_BASE_URL", "https://graph.microsoft.us")
        settings = load_settings()
        assert settings.GRAPH_AUTHORITY_HOST == "https://login.microsoftonline.us"
        assert settings.GRAPH_BASE_URL == "https://graph.microsoft.us"

    def test_reads_the_wait_settings_as_numbers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The LICENSE_WAIT_* and USER_LOOKUP_DEADLINE_SECONDS values are parsed as numbers."""
        monkeypatch.setenv("LICENSE_WAIT_INITIAL_SECONDS", "5")
        monkeypatch.setenv("LICENSE_WAIT_MAX_SECONDS", "120.5")
        monkeypatch.setenv("LICENSE_WAIT_DEADLINE_HOURS", "2")
        monkeypatch.setenv("USER_LOOKUP_DEADLINE_SECONDS", "0")
        settings = load_settings()
        assert (
            settings.LICENSE_WAIT_INITIAL_SECONDS,
            settings.LICENSE_WAIT_MAX_SECONDS,
            settings.LICENSE_WAIT_DEADLINE_HOURS,
            settings.USER_LOOKUP_DEADLINE_SECONDS,
        ) == (5, 120.5, 2, 0)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("LICENSE_WAIT_INITIAL_SECONDS", f"{CANARY}-sixty"),
            ("LICENSE_WAIT_INITIAL_SECONDS", "0"),
            ("LICENSE_WAIT_MAX_SECONDS", "-900"),
            ("LICENSE_WAIT_MAX_SECONDS", "inf"),
            ("LICENSE_WAIT_DEADLINE_HOURS", "nan"),
            ("USER_LOOKUP_DEADLINE_SECONDS", "-1"),
            ("KEY_VAULT_URI", f"{CANARY}-vault"),
            ("GRAPH_AUTHORITY_HOST", f"login.{CANARY}.example"),
            ("GRAPH_BASE_URL", f"http://graph.{CANARY}.example"),
            ("SYNNEX_API_BASE_URL", f"ftp://api.{CANARY}.example"),
            ("SYNNEX_TOKEN_URL", f"https://sso {CANARY}.example/token"),
        ],
    )
    def test_names_the_setting_of_a_bad_value(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        """A malformed value raises ConfigurationError naming the setting."""
        error = configuration_error(monkeypatch, name, value)
        assert error.setting == name
        assert name in str(error)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("LICENSE_WAIT_INITIAL_SECONDS", f"{CANARY}-sixty"),
            ("KEY_VAULT_URI", f"{CANARY}-vault"),
            ("GRAPH_BASE_URL", f"http://graph.{CANARY}.example"),
            ("SYNNEX_TOKEN_URL", f"https://sso {CANARY}.example/token"),
        ],
    )
    def test_never_echoes_a_bad_value(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        """Neither the message nor the printed traceback repeats the value, which may be secret."""
        error = configuration_error(monkeypatch, name, value)
        printed = "".join(traceback.format_exception(error))
        assert CANARY not in str(error)
        assert CANARY not in repr(error)
        assert CANARY not in printed

    @pytest.mark.parametrize(
        "name",
        [
            "KEY_VAULT_URI",
            "GRAPH_AUTHORITY_HOST",
            "GRAPH_BASE_URL",
            "SYNNEX_API_BASE_URL",
            "SYNNEX_TOKEN_URL",
            "LICENSE_WAIT_INITIAL_SECONDS",
            "LICENSE_WAIT_MAX_SECONDS",
            "LICENSE_WAIT_DEADLINE_HOURS",
            "USER_LOOKUP_DEADLINE_SECONDS",
            "WEBSITE_INSTANCE_ID",
            "WEBSITE_SITE_NAME",
            "CONTAINER_NAME",
        ],
    )
    def test_counts_an_empty_value_as_unset(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        """An empty app setting is the same as a missing one: the default applies."""
        monkeypatch.setenv(name, "")
        assert getattr(load_settings(), name) == Settings.model_fields[name].default

    def test_keeps_the_graph_secret_out_of_the_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """GRAPH_CLIENT_SECRET is read but never shown by repr."""
        monkeypatch.setenv("GRAPH_CLIENT_SECRET", CANARY)
        settings = load_settings()
        assert settings.GRAPH_CLIENT_SECRET == CANARY
        assert CANARY not in repr(settings)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("WEBSITE_INSTANCE_ID", "4f2a9c1e7b3d"),
            ("WEBSITE_SITE_NAME", "msplic-func-7x2k4q"),
            ("CONTAINER_NAME", "msplic-func-7x2k4q_1a2b3c"),
        ],
    )
    def test_knows_when_it_runs_in_azure(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        """Any one of the platform's variables (Flex Consumption sets CONTAINER_NAME) is Azure."""
        monkeypatch.setenv(name, value)
        assert load_settings().running_in_azure

    @pytest.mark.parametrize("name", ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "CONTAINER_NAME"])
    def test_does_not_count_a_blank_platform_variable_as_azure(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        """A platform variable of spaces says nothing about where the app runs."""
        monkeypatch.setenv(name, "  ")
        assert not load_settings().running_in_azure

    def test_counts_a_key_vault_uri_of_spaces_as_unset(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A blank KEY_VAULT_URI is unset (so the secret store's clear error applies)."""
        monkeypatch.setenv("KEY_VAULT_URI", "   ")
        assert load_settings().KEY_VAULT_URI is None


class TestRequireGraph:
    def test_returns_the_client_id_and_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Both set: the pair is returned."""
        monkeypatch.setenv("GRAPH_CLIENT_ID", "0c3f6a2e-8d41-4b7a-9f15-2e6d8c4a1b70")
        monkeypatch.setenv("GRAPH_CLIENT_SECRET", CANARY)
        assert load_settings().require_graph() == ("0c3f6a2e-8d41-4b7a-9f15-2e6d8c4a1b70", CANARY)

    @pytest.mark.parametrize("client_id", [None, ""])
    def test_names_a_missing_client_id(
        self, monkeypatch: pytest.MonkeyPatch, client_id: str | None
    ) -> None:
        """No (or an empty) GRAPH_CLIENT_ID: ConfigurationError names it."""
        if client_id is not None:
            monkeypatch.setenv("GRAPH_CLIENT_ID", client_id)
        monkeypatch.setenv("GRAPH_CLIENT_SECRET", CANARY)
        with pytest.raises(ConfigurationError) as caught:
            load_settings().require_graph()
        assert caught.value.setting == "GRAPH_CLIENT_ID"
        assert CANARY not in str(caught.value)

    @pytest.mark.parametrize("secret", [None, ""])
    def test_names_a_missing_client_secret(
        self, monkeypatch: pytest.MonkeyPatch, secret: str | None
    ) -> None:
        """No (or an empty) GRAPH_CLIENT_SECRET: ConfigurationError names it."""
        monkeypatch.setenv("GRAPH_CLIENT_ID", "0c3f6a2e-8d41-4b7a-9f15-2e6d8c4a1b70")
        if secret is not None:
            monkeypatch.setenv("GRAPH_CLIENT_SECRET", secret)
        with pytest.raises(ConfigurationError) as caught:
            load_settings().require_graph()
        assert caught.value.setting == "GRAPH_CLIENT_SECRET"


class TestRequireStorage:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
            ("AzureWebJobsStorage__accountName", "contosomspfunc"),
            (
                "AzureWebJobsStorage__tableServiceUri",
                "https://contosomspfunc.table.core.windows.net",
            ),
        ],
    )
    def test_accepts_a_connection_string_or_an_identity_based_connection(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        """A connection string, an account name or a service URI is enough."""
        monkeypatch.setenv(name, value)
        load_settings().require_storage()

    @pytest.mark.parametrize("value", [None, ""])
    def test_names_azure_web_jobs_storage_when_missing(
        self, monkeypatch: pytest.MonkeyPatch, value: str | None
    ) -> None:
        """No (or an empty) AzureWebJobsStorage: ConfigurationError names it."""
        if value is not None:
            monkeypatch.setenv("AzureWebJobsStorage", value)
        with pytest.raises(ConfigurationError) as caught:
            load_settings().require_storage()
        assert caught.value.setting == "AzureWebJobsStorage"


class TestIdentityBasedStorage:
    def test_names_the_queue_setting_when_only_tables_are_given(self) -> None:
        """Identity-based storage with a table URI alone cannot reach the queues."""
        from shared.adapters.storage import queue_service_from_settings
        from shared.errors import ConfigurationError
        from shared.settings import Settings

        settings = Settings(
            AzureWebJobsStorage__tableServiceUri="https://stcontoso.table.core.windows.net"
        )
        with pytest.raises(ConfigurationError) as caught:
            queue_service_from_settings(settings)
        assert caught.value.setting == "AzureWebJobsStorage__queueServiceUri"
