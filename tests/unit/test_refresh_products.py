"""The refresh of the product table: Microsoft's CSV reduced as the shipped file is (no network)."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pytest

from devtools.refresh_products import main, reduce_csv

HEADER = (
    "Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,"
    "Service_Plans_Included_Friendly_Names"
)
# As Microsoft publishes it: a BOM, one row per product and service plan, unsorted, a
# String_Id with a trailing space, an upper-case GUID, and two SKUs sharing one name.
MICROSOFT_CSV = "\ufeff" + "\r\n".join([
    HEADER,
    "Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,EXCHANGE_S_ENTERPRISE,"
    "efb87545-963c-4e0d-99df-69c6916d9eb0,EXCHANGE ONLINE (PLAN 2)",
    "Visio Plan 1,VISIOONLINE_PLAN1,4b244418-9658-4451-a2b8-b5e2b364e9bd,VISIOONLINE,"
    "2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f,VISIO WEB APP",
    "Microsoft 365 Business Premium,SPB ,CBDC14AB-D96C-4C30-B9F4-6ADA7CDC1D46,AAD_SMB,"
    "de377cbc-0019-4ec2-b77c-3f223947e102,AZURE ACTIVE DIRECTORY",
    "Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,SHAREPOINTENTERPRISE,"
    "5dbe027f-2339-4123-9542-606e4d348a72,SHAREPOINT (PLAN 2)",
    '"Exchange Online (Plan 1)",EXCHANGESTANDARD,4b9405b0-7788-4568-add1-99614e613b69,'
    "EXCHANGE_S_STANDARD,9aaf7827-d63c-4b61-89c3-182f06f82e5c,EXCHANGE ONLINE (PLAN 1)",
    "Visio Plan 1,VISIO_PLAN1_DEPT,ca7f3140-d88c-455b-9a1c-7f0679e31a76,VISIO_CLIENT_SUBSCRIPTION,"
    "663a804f-1c30-4ff0-9915-9db84f0d1cea,VISIO DESKTOP APP",
    "Microsoft 365 Business Premium,SPB,cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46,EXCHANGE_S_STANDARD,"
    "9aaf7827-d63c-4b61-89c3-182f06f82e5c,EXCHANGE ONLINE (PLAN 1)",
    " microsoft 365 apps for business ,O365_BUSINESS,cdd28e44-67e3-425e-be4c-737fab2899d3,"
    "OFFICE_BUSINESS,094e7854-93fc-4d55-b2c0-3ab5369ebdc1,OFFICE 365 BUSINESS",
]) + "\r\n"  # fmt: skip

REDUCED = "\r\n".join([
    "sku_id,sku_part_number,product_name",
    "4b9405b0-7788-4568-add1-99614e613b69,EXCHANGESTANDARD,Exchange Online (Plan 1)",
    "cdd28e44-67e3-425e-be4c-737fab2899d3,O365_BUSINESS,microsoft 365 apps for business",
    "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46,SPB,Microsoft 365 Business Premium",
    "6fd2c87f-b296-42f0-b197-1e91e994b900,ENTERPRISEPACK,Office 365 E3",
    "4b244418-9658-4451-a2b8-b5e2b364e9bd,VISIOONLINE_PLAN1,Visio Plan 1",
    "ca7f3140-d88c-455b-9a1c-7f0679e31a76,VISIO_PLAN1_DEPT,Visio Plan 1",
]) + "\r\n"  # fmt: skip


class TestReduceCsv:
    def test_keeps_one_trimmed_row_per_guid_sorted_by_name(self) -> None:
        """Deduped on the GUID (first row wins), spaces trimmed, GUIDs lower case, sorted by
        name case-insensitively, same-named SKUs in Microsoft's order."""
        assert reduce_csv(MICROSOFT_CSV) == REDUCED

    def test_reproduces_the_shipped_table_from_its_own_rows(self) -> None:
        """The shipped file, put back into Microsoft's shape, reduces to itself byte for byte."""
        shipped = resources.files("shared").joinpath("data/m365-products.csv").read_bytes()
        rows = list(csv.DictReader(io.StringIO(shipped.decode("utf-8"))))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADER.split(","))
        for row in rows:
            for plan in ("EXCHANGE_S_STANDARD", "AAD_SMB"):  # several plans per product
                writer.writerow([
                    row["product_name"], row["sku_part_number"] + " ", row["sku_id"].upper(),
                    plan, "", "",
                ])  # fmt: skip
        assert reduce_csv(out.getvalue()).encode("utf-8") == shipped

    def test_refuses_a_csv_that_is_not_microsofts_table(self) -> None:
        """No GUID column: an error naming it, nothing reduced."""
        with pytest.raises(ValueError, match="GUID"):
            reduce_csv("Product_Display_Name,String_Id\r\nOffice 365 E3,ENTERPRISEPACK\r\n")


class TestMain:
    def test_writes_the_reduced_table_from_a_local_copy(self, tmp_path: Path) -> None:
        """--source a downloaded file, --output a path: the reduced table is written there."""
        source, output = tmp_path / "microsoft.csv", tmp_path / "m365-products.csv"
        source.write_text(MICROSOFT_CSV, encoding="utf-8", newline="")
        assert main(["--source", str(source), "--output", str(output)]) == 0
        assert output.read_bytes() == REDUCED.encode("utf-8")

    def test_fails_without_writing_when_the_source_cannot_be_read(self, tmp_path: Path) -> None:
        """A missing source: exit code 1, the table left as it was."""
        output = tmp_path / "m365-products.csv"
        output.write_text("kept", encoding="utf-8")
        assert main(["--source", str(tmp_path / "missing.csv"), "--output", str(output)]) == 1
        assert output.read_text(encoding="utf-8") == "kept"
