"""Microsoft's product names for licence SKUs, and how a Synnex subscription's name relates to one.

The table is Microsoft's "Product names and service plan identifiers for licensing", reduced to
one row per product (`shared/data/m365-products.csv`: `sku_id`, `sku_part_number`,
`product_name`; `scripts/refresh-products` refreshes it). It ships as package data and is read
once, on first use: importing this module reads nothing. Apart from that read, pure.

Synnex cannot say which Microsoft SKU a subscription sells; its product name is all there is,
decorated (`Microsoft 365 Business Premium (NCE COM MTH)`, `M365 Business Premium - Annual`).
Both names are compared after `_normalise`: case folded, brackets and punctuation gone, `&` and
`+` read as "and", `M365`/`O365` spelled out as Microsoft 365 / Office 365, and the decorations
removed (`NCE`, `COM`, `MTH`, `ANN`, `Annual`, `Monthly`, `Yearly`, `Triennial`, `P1M`/`P1Y`/`P3Y`,
`Billing`, `Billed`, `Paid`, `Commitment`, `Term`, "New Commerce", and a number followed by a
term unit such as `1 Year` or `12 Months`). No product name in the table uses any of these words,
so removing them never makes two products alike.

`match_subscription(sku_id, name)` says how a subscription relates to a SKU:

- `exact`: the normalised subscription name is the SKU's product's normalised name;
- `none`: it is the normalised name of a different product of the table (the guard's case);
- `likely`: it names no product of the table, but one of the two normalised names is a run of
  whole words inside the other, and the shorter has a word beyond the generic ones (`Microsoft`,
  `Office`, `365`, `Online`, `Plan`, ...): `Business Premium`, or `Microsoft 365 Business
  Premium Promo`, for Microsoft 365 Business Premium;
- `unknown`: anything else, i.e. the name matches no product of the table and is not `likely`.
  A SKU that is not in the table gets `unknown` for every subscription: its product is not
  known, so nothing can be said to match it or to differ from it.

So `none` is exactly the refusable case: the subscription names a known product that is not
the SKU's known product. Fourteen product names are shared by two SKUs each in Microsoft's
table (e.g. `Visio Plan 1`: VISIO_PLAN1_DEPT and VISIOONLINE_PLAN1); such a name matches both
SKUs `exact`, and `subscription_product` answers the first of them in the table.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

Match = Literal["exact", "likely", "none", "unknown"]

_DATA_PACKAGE = "shared"
_DATA_FILE = ("data", "m365-products.csv")

# Spelled out before comparing; keys are whole words after case folding.
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "m365": ("microsoft", "365"),
    "o365": ("office", "365"),
}
# What distributors add to a product name: programme, segment, term and billing words.
_DECORATIONS = frozenset({
    "nce", "com", "mth", "ann", "annual", "annually", "monthly", "yearly", "triennial",
    "p1m", "p1y", "p3y", "billing", "billed", "paid", "commitment", "term",
})  # fmt: skip
# "<number> <unit>" is a term ("1 Year", "12 Months"); "month" alone is part of some products'
# names ("100 users/per site/month capacity pack"), so only a unit after a number goes.
_TERM_UNITS = frozenset(
    {"year", "years", "yr", "yrs", "month", "months", "mo", "mos"}
)
_PHRASES: tuple[tuple[str, ...], ...] = (("new", "commerce"),)
# Words too common in product names to make two names "likely" the same on their own.
_GENERIC = frozenset({
    "microsoft", "office", "365", "online", "plan", "for", "and", "the", "with", "add", "on",
    "addon", "user", "users", "edition", "suite", "license", "licence",
})  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Product:
    """One row of Microsoft's table: the SKU's GUID, its part number and its product name."""

    sku_id: str
    sku_part_number: str
    product_name: str


@dataclass(frozen=True)
class _Catalogue:
    by_id: dict[str, Product]
    names: dict[str, tuple[str, ...]]  # sku_id -> normalised words of its product name
    by_name: dict[tuple[str, ...], tuple[Product, ...]]  # normalised words -> products


def find_product(sku_id: str) -> Product | None:
    """The product of this SKU (GUID compared case-insensitively), or None when not listed."""
    return _catalogue().by_id.get(sku_id.strip().lower())


def subscription_product(subscription_name: str) -> Product | None:
    """The product a subscription's name names exactly, once decorations are removed, or None.

    For a name that two products share, the first of them in the table.
    """
    products = _catalogue().by_name.get(_normalise(subscription_name))
    return products[0] if products else None


def match_subscription(sku_id: str, subscription_name: str) -> Match:
    """How a subscription of this name relates to the SKU: exact, likely, none or unknown."""
    catalogue = _catalogue()
    wanted = catalogue.names.get(sku_id.strip().lower())
    if wanted is None:
        return "unknown"  # the SKU's product is not known: neither a match nor a mismatch
    name = _normalise(subscription_name)
    if name == wanted:
        return "exact"
    if name in catalogue.by_name:
        return "none"
    return "likely" if _related(name, wanted) else "unknown"


# Bounded: the same few subscription names come back with every lookup of the dropdown.
@lru_cache(maxsize=4096)
def _normalise(name: str) -> tuple[str, ...]:
    """The words of a product name that tell products apart, as compared everywhere here."""
    text = name.casefold().replace("&", " and ").replace("+", " and ")
    words: list[str] = []
    for word in _WORD.findall(text):
        words.extend(_ABBREVIATIONS.get(word, (word,)))
    kept: list[str] = []
    index = 0
    while index < len(words):
        phrase = next((p for p in _PHRASES if tuple(words[index : index + len(p)]) == p), None)
        if phrase is not None:
            index += len(phrase)
            continue
        word = words[index]
        if word.isdigit() and index + 1 < len(words) and words[index + 1] in _TERM_UNITS:
            index += 2
            continue
        if word not in _DECORATIONS:
            kept.append(word)
        index += 1
    return tuple(kept)


def _related(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One name is a run of whole words inside the other, and the shorter says something."""
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    if not shorter or all(word in _GENERIC for word in shorter):
        return False
    size = len(shorter)
    return any(longer[i : i + size] == shorter for i in range(len(longer) - size + 1))


@cache
def _catalogue() -> _Catalogue:
    """The table, read from the package data on first use and kept for the process."""
    text = resources.files(_DATA_PACKAGE).joinpath(*_DATA_FILE).read_text(encoding="utf-8-sig")
    by_id: dict[str, Product] = {}
    for row in csv.DictReader(io.StringIO(text)):
        product = Product(
            sku_id=row["sku_id"].strip().lower(),
            sku_part_number=row["sku_part_number"].strip(),
            product_name=row["product_name"].strip(),
        )
        by_id.setdefault(product.sku_id, product)
    names = {sku_id: _normalise(p.product_name) for sku_id, p in by_id.items()}
    by_name: dict[tuple[str, ...], tuple[Product, ...]] = {}
    for sku_id, words in names.items():
        by_name[words] = (*by_name.get(words, ()), by_id[sku_id])
    return _Catalogue(by_id=by_id, names=names, by_name=by_name)
