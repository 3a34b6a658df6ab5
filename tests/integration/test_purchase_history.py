"""The last subscription each org bought each SKU through, against Azurite."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.ledger import escape_key
from shared.adapters.purchase_history import TablePurchaseHistory
from shared.adapters.storage import Tables
from tests.azurite import Azurite, unique_name

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"


@pytest.fixture
def tables(azurite: Azurite) -> Tables:
    return Tables(TableServiceClient.from_connection_string(azurite.connection_string))


@pytest.fixture
def table_name() -> str:
    return unique_name("purchases")


@pytest.fixture
def history(tables: Tables, table_name: str) -> TablePurchaseHistory:
    return TablePurchaseHistory(table=lambda: tables.get(table_name))


class TestTablePurchaseHistory:
    def test_finds_nothing_before_any_purchase(self, history: TablePurchaseHistory) -> None:
        """An org that never bought the SKU: None, also before the table exists."""
        assert history.find_last("contoso", SPB) is None

    def test_finds_the_subscription_recorded_last(self, history: TablePurchaseHistory) -> None:
        """Two purchases of one SKU: the later subscription is the one found."""
        history.record("contoso", SPB, "411833_1")
        history.record("contoso", SPB, "411834_1")
        assert history.find_last("contoso", SPB) == "411834_1"

    def test_keeps_orgs_and_skus_apart(self, history: TablePurchaseHistory) -> None:
        """Another org, or another SKU, has its own last subscription."""
        history.record("contoso", SPB, "411833_1")
        history.record("fabrikam", SPB, "412001_1")
        history.record("contoso", ENTERPRISEPACK, "411835_1")
        assert history.find_last("contoso", SPB) == "411833_1"
        assert history.find_last("fabrikam", SPB) == "412001_1"
        assert history.find_last("contoso", ENTERPRISEPACK) == "411835_1"
        assert history.find_last("fabrikam", ENTERPRISEPACK) is None

    def test_compares_sku_ids_case_insensitively(self, history: TablePurchaseHistory) -> None:
        """Graph's upper-case GUID and the form's lower-case one are the same SKU."""
        history.record("contoso", SPB.upper(), "411833_1")
        assert history.find_last("contoso", SPB) == "411833_1"

    def test_stores_rows_in_the_org_lastsub_partition_by_sku(
        self, history: TablePurchaseHistory, tables: Tables, table_name: str
    ) -> None:
        """PartitionKey `<org>:lastsub` (escaped), RowKey the SKU: beside the ledger's rows."""
        history.record("contoso", SPB, "411833_1")
        entity = tables.get(table_name).get_entity(escape_key("contoso:lastsub"), SPB)
        assert entity["subscription_id"] == "411833_1"
