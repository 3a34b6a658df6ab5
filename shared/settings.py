"""Settings from the environment (contract section 2), validated once per process."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError

# HTTPS only: the Graph and Stellr secrets travel to these hosts.
HttpsUrl = Annotated[str, Field(pattern=r"^https://[^/\s]+(/[^\s]*)?$")]

# Variables the Azure platform sets on every instance (contract section 6): any one of them
# means the app runs in Azure, where the plaintext `devsecrets` table is refused. Local tools
# (devtools/stack.py, the tests) clear them, since a container host may set CONTAINER_NAME.
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "CONTAINER_NAME")


class Settings(BaseSettings):
    """Every setting the app reads. Names are exactly the app setting names."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, env_ignore_empty=True
    )

    AzureWebJobsStorage: str | None = None
    AzureWebJobsStorage__accountName: str | None = None
    AzureWebJobsStorage__queueServiceUri: AnyHttpUrl | None = None
    AzureWebJobsStorage__tableServiceUri: AnyHttpUrl | None = None
    AzureWebJobsStorage__credential: str | None = None
    AzureWebJobsStorage__clientId: str | None = None

    KEY_VAULT_URI: AnyHttpUrl | None = None
    # Set by the platform, never by us: any one of them means the app runs in Azure
    # (AZURE_MARKERS). Flex Consumption tells instances apart by CONTAINER_NAME.
    WEBSITE_INSTANCE_ID: str | None = None
    WEBSITE_SITE_NAME: str | None = None
    CONTAINER_NAME: str | None = None

    GRAPH_CLIENT_ID: str | None = None
    GRAPH_CLIENT_SECRET: str | None = Field(default=None, repr=False)
    GRAPH_AUTHORITY_HOST: HttpsUrl = "https://login.microsoftonline.com"
    GRAPH_BASE_URL: HttpsUrl = "https://graph.microsoft.com"

    SYNNEX_API_BASE_URL: HttpsUrl | None = None
    SYNNEX_TOKEN_URL: HttpsUrl | None = None

    LICENSE_WAIT_INITIAL_SECONDS: float = Field(default=60, gt=0, allow_inf_nan=False)
    LICENSE_WAIT_MAX_SECONDS: float = Field(default=900, gt=0, allow_inf_nan=False)
    LICENSE_WAIT_DEADLINE_HOURS: float = Field(default=24, gt=0, allow_inf_nan=False)
    USER_LOOKUP_DEADLINE_SECONDS: float = Field(default=300, ge=0, allow_inf_nan=False)

    # Notifications (contract section 6). The URL may carry a token, so it is a secret too:
    # neither it nor the signing secret is ever logged (repr=False keeps them out of errors).
    # Not validated at start: an unresolved Key Vault reference must not stop the app, only
    # the notifications (`notify_webhook_url`).
    NOTIFY_WEBHOOK_URL: str | None = Field(default=None, repr=False)
    NOTIFY_WEBHOOK_SECRET: str | None = Field(default=None, repr=False)
    NOTIFY_FORMAT: Literal["json", "teams"] = "json"
    # Set by the platform in Azure: the app's host name, for the links in notifications.
    WEBSITE_HOSTNAME: str | None = None

    @field_validator("KEY_VAULT_URI", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # A value of spaces (a half-edited app setting) counts as unset, so that the clear
        # "KEY_VAULT_URI not set" error of the secret store applies, not a URL parse error.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("NOTIFY_FORMAT", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "GRAPH_AUTHORITY_HOST", "GRAPH_BASE_URL", "SYNNEX_API_BASE_URL", "SYNNEX_TOKEN_URL"
    )
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def running_in_azure(self) -> bool:
        """True when any platform variable of AZURE_MARKERS is set and not blank."""
        return any((getattr(self, name) or "").strip() for name in AZURE_MARKERS)

    @property
    def notify_webhook_url(self) -> str | None:
        """NOTIFY_WEBHOOK_URL when usable: https, or http to this machine (a local receiver).
        None when unset, or not a URL (e.g. a Key Vault reference the platform could not
        resolve: the app goes on, without notifications)."""
        url = (self.NOTIFY_WEBHOOK_URL or "").strip()
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"):
            return url
        return None

    @property
    def public_base_url(self) -> str:
        """Where the app's routes are reached, for links: the platform's host name in Azure,
        else the local host (`func start` and the local runner listen on port 7071)."""
        host = (self.WEBSITE_HOSTNAME or "").strip()
        return f"https://{host}" if host else "http://localhost:7071"

    def require_storage(self) -> None:
        """Raise ConfigurationError unless some form of AzureWebJobsStorage is set."""
        if not (
            self.AzureWebJobsStorage
            or self.AzureWebJobsStorage__accountName
            or self.AzureWebJobsStorage__tableServiceUri
            or self.AzureWebJobsStorage__queueServiceUri
        ):
            raise ConfigurationError(
                "AzureWebJobsStorage",
                "not set: give a connection string, or AzureWebJobsStorage__accountName",
            )

    def require_graph(self) -> tuple[str, str]:
        """The Graph app's client id and secret; ConfigurationError naming the missing one."""
        if not self.GRAPH_CLIENT_ID:
            raise ConfigurationError("GRAPH_CLIENT_ID", "not set; it is needed for licence work")
        if not self.GRAPH_CLIENT_SECRET:
            raise ConfigurationError(
                "GRAPH_CLIENT_SECRET", "not set; it is needed for licence work"
            )
        return self.GRAPH_CLIENT_ID, self.GRAPH_CLIENT_SECRET


def load_settings() -> Settings:
    """Read and validate the environment; ConfigurationError names the first bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        # The message of a validation error may echo the input; say only what was expected.
        raise ConfigurationError(name, first["msg"]) from None
