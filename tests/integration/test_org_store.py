"""The org store and the secret store against Azurite."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.org_store import TableOrgStore
from shared.adapters.secret_store import TableSecretStore, synnex_secret_name
from shared.adapters.storage import Tables
from shared.models import Org, Variable
from tests.azurite import Azurite, unique_name


@pytest.fixture
def tables(azurite: Azurite) -> Tables:
    return Tables(TableServiceClient.from_connection_string(azurite.connection_string))


@pytest.fixture
def store(tables: Tables) -> TableOrgStore:
    orgs, variables = unique_name("orgs"), unique_name("vars")
    return TableOrgStore(orgs=lambda: tables.get(orgs), variables=lambda: tables.get(variables))


class TestTableOrgStore:
    def test_returns_none_for_an_unknown_org(self, store: TableOrgStore) -> None:
        """An org never stored reads as None."""
        assert store.get_org("nobody") is None

    def test_round_trips_an_org(self, store: TableOrgStore) -> None:
        """An org is read back exactly as it was written, creating the table on first use."""
        org = Org(
            org_id="contoso",
            name="Contoso Ltd",
            parent_id="northwind",
            m365_tenant_id="0c8f6f7e-6d3a-4a3e-9f53-2f1f0b6c1d2e",
            synnex_customer_no="100234",
        )
        store.put_org(org)
        assert store.get_org("contoso") == org

    def test_replaces_an_org_wholly(self, store: TableOrgStore) -> None:
        """A second put drops fields the new version leaves out."""
        store.put_org(Org(org_id="contoso", name="Contoso", synnex_customer_no="100234"))
        store.put_org(Org(org_id="contoso", name="Contoso Ltd"))
        assert store.get_org("contoso") == Org(org_id="contoso", name="Contoso Ltd")

    def test_lists_every_org(self, store: TableOrgStore) -> None:
        """list_orgs answers every org as get_org reads it (none: an empty list)."""
        assert store.list_orgs() == []
        northwind = Org(org_id="northwind", name="Northwind IT")
        contoso = Org(
            org_id="contoso", name="Contoso Ltd", parent_id="northwind",
            synnex_customer_no="100234",
        )
        store.put_org(northwind)
        store.put_org(contoso)
        assert sorted(store.list_orgs(), key=lambda org: org.org_id) == [contoso, northwind]

    def test_keeps_variables_per_org(self, store: TableOrgStore) -> None:
        """Variables are listed for their own org only."""
        store.put_variable(Variable(org_id="contoso", name="a", value="1", cascade=True))
        store.put_variable(Variable(org_id="contoso", name="b", value="x"))
        store.put_variable(Variable(org_id="fabrikam", name="a", value="2"))
        names = sorted((v.name, v.value, v.cascade) for v in store.list_variables("contoso"))
        assert names == [("a", "1", True), ("b", "x", False)]

    def test_deletes_a_variable_even_when_already_gone(self, store: TableOrgStore) -> None:
        """Deleting twice succeeds and leaves nothing."""
        store.put_variable(Variable(org_id="contoso", name="a", value="1"))
        store.delete_variable("contoso", "a")
        store.delete_variable("contoso", "a")
        assert store.get_variable("contoso", "a") is None


class TestTableSecretStore:
    def test_round_trips_and_deletes_a_secret(self, tables: Tables) -> None:
        """A stored secret reads back, and reads as None once deleted."""
        name = unique_name("secrets")
        secrets = TableSecretStore(table=lambda: tables.get(name))
        assert secrets.get_secret("synnex-northwind") is None
        secrets.set_secret("synnex-northwind", '{"client_id": "abc"}')
        assert secrets.get_secret("synnex-northwind") == '{"client_id": "abc"}'
        secrets.delete_secret("synnex-northwind")
        secrets.delete_secret("synnex-northwind")
        assert secrets.get_secret("synnex-northwind") is None


class TestSynnexSecretName:
    def test_is_a_valid_key_vault_name(self) -> None:
        """Names keep to Key Vault's alphabet and length."""
        name = synnex_secret_name("North_wind-IT" * 4)
        assert len(name) <= 127
        assert all(c.isalnum() or c == "-" for c in name)

    def test_keeps_org_ids_that_differ_only_in_case_or_underscore_apart(self) -> None:
        """Key Vault ignores case; org ids do not, so their secret names must differ."""
        names = {synnex_secret_name(o) for o in ("contoso", "Contoso", "con_toso", "con-toso")}
        assert len(names) == 4
