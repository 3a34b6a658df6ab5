"""Refresh `shared/data/m365-products.csv` from Microsoft's published licensing table.

    scripts/refresh-products [--source FILE_OR_URL] [--output PATH]

Microsoft publishes "Product names and service plan identifiers for licensing" (Microsoft Entra
documentation) as a CSV with one row per product *and service plan*: `Product_Display_Name`,
`String_Id`, `GUID`, `Service_Plan_Name`, ... This reduces it to one row per product the way the
shipped file is made: keep `GUID` (lower case), `String_Id` and `Product_Display_Name` with
surrounding spaces trimmed (some `String_Id`s carry a trailing space), the first row of each
GUID, sorted by product name case-insensitively (ties keep Microsoft's order). A development
tool: it needs the internet, and the app never downloads the table at run time.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

SOURCE_URL = (
    "https://download.microsoft.com/download/e/3/e/e3e9faf2-f28b-490a-9ada-c6089a1fc5b0/"
    "Product%20names%20and%20service%20plan%20identifiers%20for%20licensing.csv"
)
OUTPUT = Path(__file__).resolve().parent.parent / "shared" / "data" / "m365-products.csv"
COLUMNS = ("sku_id", "sku_part_number", "product_name")
_SOURCE_COLUMNS = ("GUID", "String_Id", "Product_Display_Name")


def reduce_rows(rows: Iterable[Mapping[str, str | None]]) -> list[tuple[str, str, str]]:
    """Microsoft's rows as (sku_id, sku_part_number, product_name), one per GUID, sorted."""
    seen: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        missing = [name for name in _SOURCE_COLUMNS if name not in row]
        if missing:
            raise ValueError(f"not Microsoft's licensing table: no column {missing[0]}")
        sku_id = (row["GUID"] or "").strip().lower()
        if not sku_id or sku_id in seen:
            continue
        seen[sku_id] = (
            sku_id,
            (row["String_Id"] or "").strip(),
            (row["Product_Display_Name"] or "").strip(),
        )
    # sorted() is stable: products of the same name keep the order Microsoft lists them in.
    return sorted(seen.values(), key=lambda product: product[2].lower())


def reduce_csv(text: str) -> str:
    """Microsoft's CSV text as the shipped file's text (CRLF lines, as `csv` writes them)."""
    reduced = reduce_rows(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(reduced)
    return out.getvalue()


def read_source(source: str) -> str:
    """The CSV text of a local file, or of a URL (downloaded)."""
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=60) as response:
            data: bytes = response.read()
        return data.decode("utf-8-sig")
    return Path(source).read_text(encoding="utf-8-sig")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=SOURCE_URL, help="a URL or a local copy of the CSV")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the table")
    args = parser.parse_args(argv)
    try:
        text = reduce_csv(read_source(args.source))
    except (OSError, ValueError) as exc:
        print(f"refresh-products: {exc}", file=sys.stderr)
        return 1
    count = text.count("\n") - 1
    args.output.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {count} products to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
