"""Orgs and effective org variables (contract section 3) through the use cases, on Azurite."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.org_store import TableOrgStore
from shared.adapters.storage import Tables
from shared.errors import InvalidInput
from shared.models import EffectiveVariable, Org, OrgIn, VariableIn
from shared.use_cases import orgs
from tests.azurite import Azurite, unique_name

CHOOSE = "licencing_choose_subscription"
CAP = "licencing_max_seats_per_day"
CONTOSO_TENANT = "5b1e7c8a-3f2d-4e6a-9c0b-7d4f1a2e3b6c"


@pytest.fixture(scope="module")
def tables(azurite: Azurite) -> Tables:
    return Tables(TableServiceClient.from_connection_string(azurite.connection_string))


@pytest.fixture
def store(tables: Tables) -> TableOrgStore:
    """An org store on throwaway tables of its own."""
    org_table, variable_table = unique_name("orgs"), unique_name("vars")
    return TableOrgStore(
        orgs=lambda: tables.get(org_table), variables=lambda: tables.get(variable_table)
    )


def add_org(store: TableOrgStore, org_id: str, parent_id: str | None = None) -> Org:
    org, _ = orgs.put_org(store, org_id, OrgIn(name=org_id.title(), parent_id=parent_id))
    return org


def set_variable(
    store: TableOrgStore, org_id: str, name: str, value: str, *, cascade: bool = False
) -> None:
    orgs.put_variable(store, org_id, name, VariableIn(value=value, cascade=cascade))


def effective(store: TableOrgStore, org_id: str) -> dict[str, EffectiveVariable]:
    return orgs.effective_variables(store, orgs.get_org(store, org_id))


@pytest.fixture
def tree(store: TableOrgStore) -> TableOrgStore:
    """Northwind IT (MSP root) > Northwind East (reseller sub-org) > Contoso (customer)."""
    add_org(store, "northwind")
    add_org(store, "northwind-east", parent_id="northwind")
    add_org(store, "contoso", parent_id="northwind-east")
    return store


class TestEffectiveVariables:
    def test_applies_an_msp_cascade_to_a_customer(self, tree: TableOrgStore) -> None:
        """The MSP's cascading value reaches a customer two levels down, naming the MSP."""
        set_variable(tree, "northwind", CHOOSE, "1", cascade=True)
        assert effective(tree, "contoso")[CHOOSE] == EffectiveVariable(
            name=CHOOSE, value="1", source_org_id="northwind"
        )

    def test_lets_an_own_value_win_over_a_cascading_ancestor(self, tree: TableOrgStore) -> None:
        """The org's own value wins, even when it does not cascade itself."""
        set_variable(tree, "northwind", CHOOSE, "1", cascade=True)
        set_variable(tree, "contoso", CHOOSE, "0")
        assert effective(tree, "contoso")[CHOOSE] == EffectiveVariable(
            name=CHOOSE, value="0", source_org_id="contoso"
        )

    def test_ignores_a_non_cascading_ancestor_value(self, tree: TableOrgStore) -> None:
        """An ancestor's value without cascade applies to that ancestor only."""
        set_variable(tree, "northwind", CHOOSE, "1")
        assert CHOOSE not in effective(tree, "contoso")
        assert CHOOSE not in effective(tree, "northwind-east")
        assert effective(tree, "northwind")[CHOOSE].source_org_id == "northwind"

    def test_takes_the_nearest_cascading_ancestor(self, tree: TableOrgStore) -> None:
        """MSP and reseller both cascade: the reseller, nearer the customer, wins."""
        set_variable(tree, "northwind", CAP, "5", cascade=True)
        set_variable(tree, "northwind-east", CAP, "2", cascade=True)
        assert effective(tree, "contoso")[CAP] == EffectiveVariable(
            name=CAP, value="2", source_org_id="northwind-east"
        )

    def test_skips_a_nearer_ancestor_that_does_not_cascade(self, tree: TableOrgStore) -> None:
        """A reseller value without cascade is passed over for the MSP's cascading one."""
        set_variable(tree, "northwind", CAP, "5", cascade=True)
        set_variable(tree, "northwind-east", CAP, "0")
        assert effective(tree, "contoso")[CAP] == EffectiveVariable(
            name=CAP, value="5", source_org_id="northwind"
        )
        assert effective(tree, "northwind-east")[CAP].source_org_id == "northwind-east"

    def test_names_the_source_of_each_variable(self, tree: TableOrgStore) -> None:
        """Each effective variable names the org whose value it is."""
        set_variable(tree, "northwind", CHOOSE, "1", cascade=True)
        set_variable(tree, "northwind-east", CAP, "3", cascade=True)
        set_variable(tree, "contoso", "licencing_usage_location", "US")
        sources = {name: v.source_org_id for name, v in effective(tree, "contoso").items()}
        assert sources == {
            CHOOSE: "northwind",
            CAP: "northwind-east",
            "licencing_usage_location": "contoso",
        }

    def test_is_empty_for_an_org_without_any_variable(self, tree: TableOrgStore) -> None:
        """No variable anywhere in the tree: nothing applies."""
        assert effective(tree, "contoso") == {}

    def test_stops_applying_a_value_once_deleted(self, tree: TableOrgStore) -> None:
        """Deleting the MSP's variable removes it below."""
        set_variable(tree, "northwind", CHOOSE, "1", cascade=True)
        orgs.delete_variable(tree, "northwind", CHOOSE)
        assert CHOOSE not in effective(tree, "contoso")


class TestPutOrg:
    def test_tells_a_new_org_from_a_replaced_one(self, store: TableOrgStore) -> None:
        """The first put creates; the second replaces."""
        body = OrgIn(name="Contoso Ltd", m365_tenant_id=CONTOSO_TENANT)
        assert orgs.put_org(store, "contoso", body)[1] is True
        assert orgs.put_org(store, "contoso", body)[1] is False

    def test_refuses_a_missing_parent_and_stores_nothing(self, store: TableOrgStore) -> None:
        """A parent that does not exist: InvalidInput naming parent_id, no org written."""
        with pytest.raises(InvalidInput) as caught:
            orgs.put_org(store, "contoso", OrgIn(name="Contoso Ltd", parent_id="northwind"))
        assert (caught.value.field, caught.value.status) == ("parent_id", 422)
        assert store.get_org("contoso") is None

    def test_refuses_a_cycle_and_changes_nothing(self, tree: TableOrgStore) -> None:
        """Making the MSP a child of its own customer: InvalidInput naming parent_id."""
        before = tree.get_org("northwind")
        with pytest.raises(InvalidInput) as caught:
            orgs.put_org(tree, "northwind", OrgIn(name="Northwind IT", parent_id="contoso"))
        assert (caught.value.field, caught.value.status) == ("parent_id", 422)
        assert "cycle" in caught.value.detail
        assert tree.get_org("northwind") == before

    def test_refuses_an_org_as_its_own_parent(self, store: TableOrgStore) -> None:
        """An existing org named as its own parent is a cycle."""
        add_org(store, "contoso")
        with pytest.raises(InvalidInput) as caught:
            orgs.put_org(store, "contoso", OrgIn(name="Contoso Ltd", parent_id="contoso"))
        assert caught.value.field == "parent_id"
        assert "cycle" in caught.value.detail
        assert store.get_org("contoso") == Org(org_id="contoso", name="Contoso")

    def test_moves_an_org_under_another_parent(self, tree: TableOrgStore) -> None:
        """Re-parenting without a cycle is allowed, and effective values follow the new tree."""
        add_org(tree, "fabrikam-msp")
        set_variable(tree, "fabrikam-msp", CHOOSE, "1", cascade=True)
        orgs.put_org(tree, "contoso", OrgIn(name="Contoso", parent_id="fabrikam-msp"))
        assert effective(tree, "contoso")[CHOOSE].source_org_id == "fabrikam-msp"
