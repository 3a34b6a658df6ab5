"""Code, configuration and infrastructure agree: names, settings, main.bicep, docs, host files."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
from pycep import BicepParser

from shared.names import (
    ALL_QUEUES,
    ALL_TABLES,
    FORM_FUNCTIONS,
    FORM_KEY_NAME,
    ONBOARDING_EVENTS_QUEUE,
    ONBOARDING_RESULTS_QUEUE,
)
from shared.settings import Settings
from tests.unit.test_indexing import Index, index_app

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
MAIN_BICEP = INFRA_DIR / "main.bicep"
MAIN_PARAMETERS = INFRA_DIR / "main.parameters.json"
DEPLOY_SCRIPT = REPO_ROOT / "scripts" / "deploy"
OPERATOR_DOCS = (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "deploy.md")

# Contract section 2, kept here on purpose: CI must not depend on ../shared/contract.md.
CONTRACT_SETTINGS = (
    "AzureWebJobsStorage",
    "KEY_VAULT_URI",
    "GRAPH_CLIENT_ID",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_AUTHORITY_HOST",
    "GRAPH_BASE_URL",
    "SYNNEX_API_BASE_URL",
    "SYNNEX_TOKEN_URL",
    "LICENSE_WAIT_INITIAL_SECONDS",
    "LICENSE_WAIT_MAX_SECONDS",
    "LICENSE_WAIT_DEADLINE_HOURS",
    "USER_LOOKUP_DEADLINE_SECONDS",
)

# Settings the code reads that main.bicep deliberately does not set. Each one must be explained
# to operators in README.md or docs/deploy.md.
OPTIONAL_SETTINGS = {
    "AzureWebJobsStorage": "the local connection string (Azurite); in Azure no storage keys "
    "exist and main.bicep sets the identity-based AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__queueServiceUri": "alternative to __accountName for custom or "
    "sovereign-cloud endpoints; main.bicep uses __accountName",
    "AzureWebJobsStorage__tableServiceUri": "alternative to __accountName for custom or "
    "sovereign-cloud endpoints; main.bicep uses __accountName",
    "AzureWebJobsStorage__clientId": "only for a user-assigned identity; main.bicep gives the "
    "app a system-assigned one",
    "WEBSITE_INSTANCE_ID": "set by the platform on every instance in Azure, never by us",
    "WEBSITE_SITE_NAME": "set by the platform in Azure, never by us",
    "CONTAINER_NAME": "set by the platform on Flex Consumption instances, never by us",
    "WEBSITE_HOSTNAME": "set by the platform in Azure, never by us (links in notifications)",
    "SYNNEX_API_BASE_URL": "override of the Stellr API host that the stored environment and "
    "region select",
    "SYNNEX_TOKEN_URL": "override of the Stellr token endpoint",
}

# Settings in main.bicep that the platform reads, not the code.
PLATFORM_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host and worker send telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ingestion, local auth is disabled",
}

# On Flex Consumption the platform owns these; setting them fails the deployment.
FLEX_FORBIDDEN_SETTINGS = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
)
FLEX_FORBIDDEN_SITE_CONFIG = ("linuxFxVersion", "alwaysOn", "ftpsState")

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# The automation platform's two queue roles (Azure built-in role ids).
STORAGE_QUEUE_DATA_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR = "8a0f0c08-91a1-4084-bc3d-661d67233fed"
REFERENCE_ROLE_IDS = {
    STORAGE_BLOB_DATA_OWNER,
    STORAGE_QUEUE_DATA_CONTRIBUTOR,
    STORAGE_TABLE_DATA_CONTRIBUTOR,
    KEY_VAULT_SECRETS_USER,
    KEY_VAULT_SECRETS_OFFICER,
    MONITORING_METRICS_PUBLISHER,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
}
# The platform's principal parameter, and role id -> the queue its one assignment is scoped to.
PLATFORM_PRINCIPAL_PARAMETER = "platformPrincipalId"
PLATFORM_ROLE_QUEUES = {
    STORAGE_QUEUE_DATA_MESSAGE_SENDER: ONBOARDING_EVENTS_QUEUE,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR: ONBOARDING_RESULTS_QUEUE,
}
# Role id -> type of the resource it must be scoped to.
REQUIRED_ROLE_SCOPES = {
    STORAGE_BLOB_DATA_OWNER: "Microsoft.Storage/storageAccounts",
    STORAGE_QUEUE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts",
    STORAGE_TABLE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts",
    KEY_VAULT_SECRETS_OFFICER: "Microsoft.KeyVault/vaults",
    MONITORING_METRICS_PUBLISHER: "Microsoft.Insights/components",
}
BROAD_ROLE_IDS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42e0-ab88-20f7105524ad": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}

EXTENSION_BUNDLE_ID = "Microsoft.Azure.Functions.ExtensionBundle"
EXTENSION_BUNDLE_VERSION = "[4.*, 5.0.0)"

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")

Tree = dict[str, Any]


@pytest.fixture(scope="module")
def main_bicep() -> Tree:
    """main.bicep as pycep's JSON tree."""
    return cast(Tree, BicepParser().parse(file_path=MAIN_BICEP))


def resources_of_type(tree: Tree, resource_type: str) -> dict[str, Tree]:
    """Symbolic name -> resource, for every resource of one type."""
    return {
        symbol: resource
        for symbol, resource in tree["resources"].items()
        if resource["type"].lower() == resource_type.lower()
    }


def body(resource: Tree) -> Tree:
    """The resource body, under pycep's wrappers for a loop or a condition."""
    config: Tree = resource["config"]
    while "loop_type" in config or "condition" in config:
        config = config["config"]
    return config


def variable(tree: Tree, name: str) -> Any:
    """The value of a Bicep variable; KeyError names it when it does not exist."""
    return tree["variables"][name]["value"]


def created_names(tree: Tree, resource_type: str) -> set[str]:
    """Every name main.bicep gives resources of one type, loops over variables resolved."""
    names: set[str] = set()
    for symbol, resource in resources_of_type(tree, resource_type).items():
        config = resource["config"]
        name = body(resource)["name"]
        loop = config.get("loop_type")
        if loop is not None:
            detail = loop["detail"]
            assert loop["type"] == "array" and name == detail["item_name"], (
                f"{symbol}: only `[for x in someVariable: {{ name: x }}]` is understood here"
            )
            items = variable(tree, detail["array_name"])
            assert all(isinstance(item, str) for item in items), f"{symbol}: names not literal"
            names.update(items)
        elif isinstance(name, str):
            # pycep writes a reference as a bare string: resolve it when it names a variable.
            resolved = tree["variables"].get(name, {}).get("value", name)
            assert isinstance(resolved, str), f"{symbol}: name is not a literal"
            names.add(resolved)
        else:
            pytest.fail(f"{symbol}: name {name!r} is an expression this test cannot read")
    return names


def function_app(tree: Tree) -> tuple[str, Tree]:
    """The one function app: symbolic name and body."""
    sites = resources_of_type(tree, "Microsoft.Web/sites")
    assert len(sites) == 1, f"expected one Microsoft.Web/sites, found {sorted(sites)}"
    ((symbol, resource),) = sites.items()
    return symbol, body(resource)


def app_settings(tree: Tree) -> dict[str, Any]:
    """Name -> value of the function app's siteConfig.appSettings."""
    _, site = function_app(tree)
    entries = site["properties"]["siteConfig"]["appSettings"]
    return {entry["name"]: entry["value"] for entry in entries}


def role_assignments(tree: Tree) -> dict[str, Tree]:
    """Symbolic name -> body of every role assignment."""
    return {
        symbol: body(resource)
        for symbol, resource in resources_of_type(
            tree, "Microsoft.Authorization/roleAssignments"
        ).items()
    }


def is_for_platform(assignment: Tree) -> bool:
    """True for an assignment to the automation platform's principal (the parameter)."""
    return bool(assignment["properties"]["principalId"] == PLATFORM_PRINCIPAL_PARAMETER)


def app_role_assignments(tree: Tree) -> dict[str, Tree]:
    """The role assignments of the app's own identity (every one not for the platform)."""
    return {
        symbol: assignment
        for symbol, assignment in role_assignments(tree).items()
        if not is_for_platform(assignment)
    }


def platform_role_assignments(tree: Tree) -> dict[str, Tree]:
    """The role assignments of the automation platform's principal."""
    return {
        symbol: assignment
        for symbol, assignment in role_assignments(tree).items()
        if is_for_platform(assignment)
    }


def role_id(assignment: Tree) -> str:
    """The role definition GUID of an assignment; fails unless it is a literal GUID."""
    found = GUID.findall(json.dumps(assignment["properties"]["roleDefinitionId"]))
    assert len(found) == 1, f"roleDefinitionId is not one literal GUID: {found}"
    return str(found[0]).lower()


def operator_docs_text() -> str:
    """README.md and docs/deploy.md, whichever exist, as one text."""
    return "\n".join(path.read_text(encoding="utf-8") for path in OPERATOR_DOCS if path.exists())


class TestBicepFiles:
    """Every .bicep file under infra/."""

    @pytest.mark.parametrize(
        "path",
        sorted(INFRA_DIR.rglob("*.bicep")),
        ids=lambda path: str(path.relative_to(INFRA_DIR)),
    )
    def test_parses_with_pycep(self, path: Path) -> None:
        """The file parses with pycep-parser (the parser checkov uses)."""
        tree = BicepParser().parse(file_path=path)
        assert tree.get("resources") or tree.get("modules"), f"{path} declares nothing"

    def test_include_main_bicep(self) -> None:
        """main.bicep exists, so the parse test above is not vacuous."""
        assert MAIN_BICEP.is_file()


class TestStorageInMainBicep:
    """The storage account, queues and tables that main.bicep creates."""

    def test_creates_every_queue_in_names(self, main_bicep: Tree) -> None:
        """Every queue of shared.names.ALL_QUEUES, -poison twins included, is a resource."""
        created = created_names(
            main_bicep, "Microsoft.Storage/storageAccounts/queueServices/queues"
        )
        assert sorted(set(ALL_QUEUES) - created) == []

    def test_creates_every_table_in_names(self, main_bicep: Tree) -> None:
        """Every table of shared.names.ALL_TABLES is a resource."""
        created = created_names(
            main_bicep, "Microsoft.Storage/storageAccounts/tableServices/tables"
        )
        assert sorted(set(ALL_TABLES) - created) == []

    def test_creates_no_queue_or_table_the_code_does_not_name(self, main_bicep: Tree) -> None:
        """A queue or table only in main.bicep is a rename that the code missed."""
        queues = created_names(main_bicep, "Microsoft.Storage/storageAccounts/queueServices/queues")
        tables = created_names(main_bicep, "Microsoft.Storage/storageAccounts/tableServices/tables")
        assert sorted(queues - set(ALL_QUEUES)) == []
        assert sorted(tables - set(ALL_TABLES)) == []

    def test_uses_names_azure_accepts(self) -> None:
        """Queue and table names follow Azure's rules, so the deployment cannot reject them."""
        assert [name for name in ALL_QUEUES if not QUEUE_NAME.match(name)] == []
        assert [name for name in ALL_TABLES if not TABLE_NAME.match(name)] == []

    def test_hardens_the_account(self, main_bicep: Tree) -> None:
        """No shared keys, TLS 1.2, HTTPS only, no public blobs (checkov misses some of these)."""
        (account,) = resources_of_type(main_bicep, "Microsoft.Storage/storageAccounts").values()
        properties = body(account)["properties"]
        assert properties["allowSharedKeyAccess"] is False
        assert properties["minimumTlsVersion"] == "TLS1_2"
        assert properties["supportsHttpsTrafficOnly"] is True
        assert properties["allowBlobPublicAccess"] is False


class TestAppSettingsInMainBicep:
    """The function app's siteConfig.appSettings against shared.settings.Settings."""

    def test_set_or_document_every_setting_the_code_reads(self, main_bicep: Tree) -> None:
        """Each Settings field is set in main.bicep or is a documented optional setting."""
        unset = set(Settings.model_fields) - set(app_settings(main_bicep)) - set(OPTIONAL_SETTINGS)
        assert sorted(unset) == []

    def test_hold_only_settings_the_code_or_platform_reads(self, main_bicep: Tree) -> None:
        """An app setting nobody reads is a typo or a leftover."""
        known = set(Settings.model_fields) | set(PLATFORM_SETTINGS)
        assert sorted(set(app_settings(main_bicep)) - known) == []

    def test_optional_list_names_only_real_settings(self) -> None:
        """The allow-list in this test has no stale entry."""
        assert sorted(set(OPTIONAL_SETTINGS) - set(Settings.model_fields)) == []

    def test_optional_settings_are_documented_for_operators(self) -> None:
        """Every optional setting appears in README.md or docs/deploy.md."""
        text = operator_docs_text()
        missing = [
            name
            for name in OPTIONAL_SETTINGS
            if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text)
        ]
        assert missing == []

    def test_leave_flex_managed_settings_to_the_platform(self, main_bicep: Tree) -> None:
        """No worker runtime, extension version or package setting, which Flex rejects."""
        _, site = function_app(main_bicep)
        site_config = site["properties"]["siteConfig"]
        assert sorted(set(app_settings(main_bicep)) & set(FLEX_FORBIDDEN_SETTINGS)) == []
        assert sorted(set(site_config) & set(FLEX_FORBIDDEN_SITE_CONFIG)) == []

    def test_use_the_identity_for_host_storage(self, main_bicep: Tree) -> None:
        """Host storage is identity-based: account name and managed identity, no keys."""
        settings = app_settings(main_bicep)
        assert "AzureWebJobsStorage" not in settings
        assert "AzureWebJobsStorage__accountName" in settings
        assert settings["AzureWebJobsStorage__credential"] == "managedidentity"

    def test_read_the_graph_secret_from_key_vault(self, main_bicep: Tree) -> None:
        """GRAPH_CLIENT_SECRET is a Key Vault reference, never a value."""
        value = app_settings(main_bicep)["GRAPH_CLIENT_SECRET"]
        assert isinstance(value, str)
        assert value.startswith("@Microsoft.KeyVault(")
        assert "SecretName=graph-client-secret" in value

    def test_read_the_webhook_url_and_secret_from_key_vault(self, main_bicep: Tree) -> None:
        """NOTIFY_WEBHOOK_URL and NOTIFY_WEBHOOK_SECRET are Key Vault references."""
        settings = app_settings(main_bicep)
        for name, secret in (("NOTIFY_WEBHOOK_URL", "notify-webhook-url"),
                             ("NOTIFY_WEBHOOK_SECRET", "notify-webhook-secret")):
            value = settings[name]
            assert isinstance(value, str)
            assert value.startswith("@Microsoft.KeyVault(")
            assert f"SecretName={secret}" in value


class TestRoleAssignmentsInMainBicep:
    """The role assignments of main.bicep."""

    def test_grant_each_role_the_app_needs_on_its_resource(self, main_bicep: Tree) -> None:
        """The five data roles of the app, each on the resource it is for."""
        granted = {
            role_id(assignment): main_bicep["resources"][assignment["scope"]]["type"]
            for assignment in app_role_assignments(main_bicep).values()
        }
        assert granted == REQUIRED_ROLE_SCOPES

    def test_use_only_role_ids_of_the_reference(self, main_bicep: Tree) -> None:
        """Every role id is one of the built-in data roles listed here."""
        used = {role_id(assignment) for assignment in role_assignments(main_bicep).values()}
        assert sorted(used - REFERENCE_ROLE_IDS) == []

    def test_grant_no_owner_or_contributor(self) -> None:
        """No broad role id appears anywhere in main.bicep."""
        text = MAIN_BICEP.read_text(encoding="utf-8").lower()
        assert [name for guid, name in BROAD_ROLE_IDS.items() if guid in text] == []

    def test_go_to_the_function_app_identity_or_the_platform_only(
        self, main_bicep: Tree
    ) -> None:
        """Each principalId is the app's system-assigned identity, or the platform parameter."""
        symbol, _ = function_app(main_bicep)
        for assignment in app_role_assignments(main_bicep).values():
            principal = assignment["properties"]["principalId"]["operator"]["operands"]
            assert principal["operand_1"] == symbol
            assert principal["operand_2"]["operator"]["operands"] == {
                "operand_1": "identity",
                "operand_2": "principalId",
            }


class TestPlatformAccessInMainBicep:
    """The automation platform's optional access to its two queues."""

    def test_grant_send_on_events_and_read_delete_on_results_scoped_to_each_queue(
        self, main_bicep: Tree
    ) -> None:
        """Message Sender on onboarding-events, Message Processor on onboarding-results only."""
        granted: dict[str, str] = {}
        for assignment in platform_role_assignments(main_bicep).values():
            queue = main_bicep["resources"][assignment["scope"]]
            assert queue["type"] == "Microsoft.Storage/storageAccounts/queueServices/queues"
            name = body(queue)["name"]
            granted[role_id(assignment)] = variable(main_bicep, name)
        assert granted == PLATFORM_ROLE_QUEUES

    def test_grant_nothing_when_no_principal_is_given(self, main_bicep: Tree) -> None:
        """The principal is optional (empty by default), and each assignment is conditional."""
        parameter = main_bicep["parameters"][PLATFORM_PRINCIPAL_PARAMETER]
        assert parameter["default"] == ""
        resources = resources_of_type(main_bicep, "Microsoft.Authorization/roleAssignments")
        for symbol in platform_role_assignments(main_bicep):
            condition = resources[symbol]["config"].get("condition")
            assert condition is not None, f"{symbol} is not conditional"
            assert PLATFORM_PRINCIPAL_PARAMETER in json.dumps(condition), symbol

    def test_take_the_principal_type_as_a_parameter(self, main_bicep: Tree) -> None:
        """ServicePrincipal by default (a managed identity is one); User or Group allowed."""
        parameter = main_bicep["parameters"]["platformPrincipalType"]
        assert parameter["default"] == "ServicePrincipal"
        (allowed,) = [d["argument"] for d in parameter["decorators"] if d["type"] == "allowed"]
        assert set(allowed) == {"ServicePrincipal", "User", "Group"}
        for assignment in platform_role_assignments(main_bicep).values():
            assert assignment["properties"]["principalType"] == "platformPrincipalType"

    def test_output_the_url_of_each_queue(self, main_bicep: Tree) -> None:
        """The platform's two queue URLs are outputs (docs/deploy.md shows how to call them)."""
        outputs = main_bicep["outputs"]
        for output in ("onboardingEventsQueueUrl", "onboardingResultsQueueUrl"):
            value = outputs[output]["value"]
            assert "primaryEndpoints.queue" in value, output


# The routes the MSP's form backend calls: the two lookups, the intake and the
# status. Its key must open these and nothing else.
FORM_ROUTES = (
    ("GET", "orgs/{org_id}/subscriptions"),
    ("GET", "orgs/{org_id}/licenses"),
    ("POST", "onboarding"),
    ("GET", "onboarding/{event_id}"),
    ("POST", "onboarding/{event_id}/licenses/{sku_id}/approve"),
    ("POST", "onboarding/{event_id}/licenses/{sku_id}/deny"),
)
# Form routes that may come later; when a function serves one, it belongs to the form too.
# (GET /api/onboarding, the listing of every org's events, came as an operator route: issue
# 12 keeps it behind the host key, so the form's key cannot list other hires.)
OPTIONAL_FORM_ROUTES: tuple[tuple[str, str], ...] = ()


@pytest.fixture(scope="module")
def app_index() -> Index:
    """function_app as the host indexes it (a fresh interpreter, no settings)."""
    return index_app()


class TestFormKeySplit:
    """The form's function key reaches the form's functions only."""

    def test_form_functions_are_exactly_those_serving_the_form_routes(
        self, app_index: Index
    ) -> None:
        """FORM_FUNCTIONS = the functions of the lookups, intake and status (no other route)."""
        routes = FORM_ROUTES + tuple(
            (method, route) for method, route in OPTIONAL_FORM_ROUTES
            if app_index.serving(method, route)
        )
        serving = {name for method, route in routes for name, _ in app_index.serving(method, route)}
        missing = [f"{method} {route}" for method, route in FORM_ROUTES
                   if not app_index.serving(method, route)]
        assert missing == [], f"no function serves these form routes yet: {missing}"
        assert sorted(serving) == sorted(FORM_FUNCTIONS)

    def test_each_form_function_exists_and_asks_for_a_function_key(
        self, app_index: Index
    ) -> None:
        """Each name in FORM_FUNCTIONS is an HTTP function of function_app, auth level FUNCTION."""
        http = dict(app_index.http_functions())
        assert sorted(set(FORM_FUNCTIONS) - set(http)) == []
        assert {name: http[name]["authLevel"] for name in FORM_FUNCTIONS} == dict.fromkeys(
            FORM_FUNCTIONS, "FUNCTION"
        )

    def test_deploy_script_keys_exactly_the_form_functions(self) -> None:
        """scripts/deploy takes its list from shared/names.py and prints exactly it."""
        done = subprocess.run(
            ["bash", str(DEPLOY_SCRIPT), "--print-form-functions"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == list(FORM_FUNCTIONS)

    def test_deploy_script_names_no_other_function(self, app_index: Index) -> None:
        """No function outside FORM_FUNCTIONS appears in scripts/deploy (it would get the key)."""
        text = DEPLOY_SCRIPT.read_text(encoding="utf-8")
        named = {
            function["name"] for function in app_index.functions
            if re.search(rf"(?<![\w]){re.escape(function['name'])}(?![\w])", text)
        }
        assert sorted(named - set(FORM_FUNCTIONS)) == []

    def test_deploy_script_sets_function_keys_never_host_keys(self) -> None:
        """The form's key is set per function (`function keys set`), never as a host key."""
        text = DEPLOY_SCRIPT.read_text(encoding="utf-8")
        assert 'az functionapp function keys set' in text
        assert '--key-name "$FORM_KEY_NAME"' in text
        assert "az functionapp keys set" not in text
        assert FORM_KEY_NAME == "form"

    def test_main_bicep_creates_no_function_key(self, main_bicep: Tree) -> None:
        """Function keys need published functions, so Bicep (which runs first) makes none."""
        # A host key would open every route: the form must never get one.
        for resource_type in (
            "Microsoft.Web/sites/functions/keys",
            "Microsoft.Web/sites/host/functionKeys",
        ):
            assert resources_of_type(main_bicep, resource_type) == {}


class TestParametersFile:
    """infra/main.parameters.json against main.bicep's parameters."""

    def test_names_only_parameters_main_bicep_declares(self, main_bicep: Tree) -> None:
        """An unknown parameter makes `az deployment group create` fail."""
        given = json.loads(MAIN_PARAMETERS.read_text(encoding="utf-8"))["parameters"]
        assert sorted(set(given) - set(main_bicep["parameters"])) == []

    def test_leaves_only_the_graph_client_id_to_the_command_line(self, main_bicep: Tree) -> None:
        """The one required parameter left out is graphClientId (docs/deploy.md passes it)."""
        given = json.loads(MAIN_PARAMETERS.read_text(encoding="utf-8"))["parameters"]
        required = {
            name for name, param in main_bicep["parameters"].items() if param.get("default") is None
        }
        assert required - set(given) == {"graphClientId"}


class TestOperatorAlert:
    """The scheduled query rule that tells the operator something went wrong."""

    def test_matches_failed_licenses_and_poison_moves(self, main_bicep: Tree) -> None:
        """The KQL looks at traces for `state=failed` and for `-poison` queue moves."""
        (rule,) = resources_of_type(main_bicep, "Microsoft.Insights/scheduledQueryRules").values()
        (criterion,) = body(rule)["properties"]["criteria"]["allOf"]
        query = criterion["query"]
        query = main_bicep["variables"].get(query, {}).get("value", query)
        assert re.match(r"\s*(AppTraces|traces)\b", query)
        assert "state=failed" in query
        assert "-poison" in query
        assert all(name.endswith("-poison") for name in ALL_QUEUES if "poison" in name)


class TestLocalSettingsExample:
    """local.settings.json.example, the template developers copy."""

    def test_carries_every_contract_setting(self) -> None:
        """Values holds every setting of contract section 2."""
        example = json.loads(
            (REPO_ROOT / "local.settings.json.example").read_text(encoding="utf-8")
        )
        assert sorted(set(CONTRACT_SETTINGS) - set(example["Values"])) == []


class TestHostJson:
    """host.json at the repository root."""

    def test_uses_extension_bundle_v4(self) -> None:
        """The extension bundle is Microsoft's, range [4.*, 5.0.0)."""
        host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
        assert host["extensionBundle"] == {
            "id": EXTENSION_BUNDLE_ID,
            "version": EXTENSION_BUNDLE_VERSION,
        }

    def test_keeps_traces_out_of_sampling(self) -> None:
        """The operator alert reads traces, so App Insights sampling must not drop them."""
        host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
        sampling = (
            host.get("logging", {}).get("applicationInsights", {}).get("samplingSettings", {})
        )
        excluded = {kind.strip() for kind in sampling.get("excludedTypes", "").split(";")}
        assert sampling.get("isEnabled") is False or "Trace" in excluded
