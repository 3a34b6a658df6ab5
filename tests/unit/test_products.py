"""Microsoft's product table, and matching Synnex subscription names against it."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from importlib import resources

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from shared.core.products import (
    Product,
    find_product,
    match_subscription,
    subscription_product,
)

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # Microsoft 365 Business Premium
ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # Office 365 E3
EXCHANGESTANDARD = "4b9405b0-7788-4568-add1-99614e613b69"  # Exchange Online (Plan 1)
UNLISTED = "0b2d6f3e-7a41-4c58-9e1f-2a3b4c5d6e7f"  # in no copy of Microsoft's table


def _shipped() -> list[Product]:
    """The shipped table, read here independently of the module under test."""
    text = resources.files("shared").joinpath("data/m365-products.csv").read_text("utf-8")
    return [
        Product(row["sku_id"], row["sku_part_number"], row["product_name"])
        for row in csv.DictReader(text.splitlines())
    ]


TABLE = _shipped()
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
# Microsoft's own table gives these names to two SKUs each (an older and a newer GUID, or a
# department and an online edition): a subscription of that name may be either SKU, so it
# matches both exactly; nothing in the names can tell them apart.
DUPLICATE_NAMES = {
    "Azure Information Protection Plan 1",
    "Dynamics 365 Customer Voice Additional Responses",
    "Dynamics 365 Enterprise Edition - Additional Portal for Government",
    "Dynamics 365 for Case Management, Enterprise Edition for Government",
    "Microsoft 365 Apps for Business",
    "Microsoft 365 Business Basic",
    "Microsoft 365 Business Standard EEA (no Teams)",
    "Microsoft 365 F1",
    "Microsoft Copilot for Microsoft 365",
    "Power BI Premium Per User Add-On for GCC",
    "Privacy Management - subject rights request (50)",
    "Visio Plan 1",
    "Visio Plan 2",
    "Windows 10/11 Enterprise E3",
}
_BY_NAME: defaultdict[str, set[str]] = defaultdict(set)
for _product in TABLE:
    _BY_NAME[_product.product_name].add(_product.sku_id)


def same_name(product: Product) -> set[str]:
    """The SKUs sharing this product's name: itself, and its twin for a duplicate name."""
    return _BY_NAME[product.product_name]


# --- decorations, as distributors add them -----------------------------------------------------

TERM_WORDS = [
    "NCE", "COM", "MTH", "ANN", "Annual", "Monthly", "Yearly", "Triennial", "P1Y", "P1M", "P3Y",
    "1 Year", "3 Years", "12 Months", "1 Month", "36 months", "Annual Billing",
    "Monthly Billing", "Billed Monthly", "Paid Yearly", "Annual Commitment", "Term",
    "New Commerce",
]  # fmt: skip
PREFIXES = ["", "NCE ", "NCE COM ", "[NCE] ", "(NCE) ", "New Commerce ", "COM - "]
SEPARATORS = [" ", "  ", " - ", "_", " / ", ", ", " – ", ": "]


def _cased(text: str, how: str) -> str:
    return {
        "as is": text,
        "lower": text.lower(),
        "upper": text.upper(),
        "title": text.title(),
        "swap": text.swapcase(),
    }[how]


@st.composite
def decorated(draw: st.DrawFn, name: str) -> str:
    """The product name as a Synnex subscription might carry it."""
    if "Microsoft 365" in name and draw(st.booleans()):
        name = name.replace("Microsoft 365", draw(st.sampled_from(["M365", "m365", "M365 "])))
    if "Office 365" in name and draw(st.booleans()):
        name = name.replace("Office 365", draw(st.sampled_from(["O365", "o365"])))
    if re.search(r"\bO365\b", name) and draw(st.booleans()):
        name = re.sub(r"\bO365\b", "Office 365", name)
    if draw(st.booleans()):
        name = name.replace("(", "").replace(")", "")
    words = name.split()
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) - 1,
                               max_size=len(words) - 1))  # fmt: skip
    name = words[0] + "".join(sep + word for sep, word in zip(separators, words[1:], strict=True))
    suffix_words = draw(st.lists(st.sampled_from(TERM_WORDS), max_size=4))
    suffix = ""
    if suffix_words:
        inner = draw(st.sampled_from([" ", ", ", " / ", "-"])).join(suffix_words)
        suffix = draw(st.sampled_from(["({})", "[{}]", " - {}", " {}", " -{}", ": {}"]))
        suffix = suffix.format(inner)
        if suffix.startswith(("(", "[")):
            suffix = draw(st.sampled_from([" ", ""])) + suffix
    text = draw(st.sampled_from(PREFIXES)) + name + suffix
    text = _cased(text, draw(st.sampled_from(["as is", "lower", "upper", "title", "swap"])))
    return draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " ", "."]))


def products_matching_exactly(subscription_name: str) -> set[str]:
    """Every SKU of the table the name matches exactly."""
    return {p.sku_id for p in TABLE if match_subscription(p.sku_id, subscription_name) == "exact"}


# --- property tests over the whole table -------------------------------------------------------


class TestEveryProductDecorated:
    # No shrinking: an example is 569 draws, which Hypothesis shrinks for many minutes; the
    # failure report already lists every draw by its part number.
    @settings(max_examples=3, deadline=None, database=None, phases=NO_SHRINK)
    @given(data=st.data())
    def test_matches_its_own_product_and_no_other_exactly_across_the_table(
        self, data: st.DataObject
    ) -> None:
        """Each of the 569 names, decorated at random: exact for itself (and a same-named
        twin), for no other product, and `subscription_product` names it."""
        for product in TABLE:
            name = data.draw(decorated(product.product_name), label=product.sku_part_number)
            assert products_matching_exactly(name) == same_name(product), name
            found = subscription_product(name)
            assert found is not None and found.product_name == product.product_name, name

    @settings(max_examples=300, deadline=None, database=None)
    @given(product=st.sampled_from(TABLE), data=st.data())
    def test_matches_a_sampled_product_exactly_under_many_decorations(
        self, product: Product, data: st.DataObject
    ) -> None:
        """Many more decorations of products drawn from the table: the same two facts."""
        name = data.draw(decorated(product.product_name))
        assert match_subscription(product.sku_id, name) == "exact", name
        assert products_matching_exactly(name) == same_name(product), name

    @settings(max_examples=200, deadline=None, database=None)
    @given(product=st.sampled_from(TABLE), other=st.sampled_from(TABLE), data=st.data())
    def test_calls_another_products_decorated_name_none(
        self, product: Product, other: Product, data: st.DataObject
    ) -> None:
        """A subscription named for a different product (not a same-named twin): `none`."""
        name = data.draw(decorated(other.product_name))
        expected = "exact" if other.sku_id in same_name(product) else "none"
        assert match_subscription(product.sku_id, name) == expected, name


class TestTheTable:
    def test_ships_microsofts_569_products_once_each(self) -> None:
        """569 rows, one per GUID, every GUID lower case; each is found by its id."""
        assert len(TABLE) == 569
        assert len({p.sku_id for p in TABLE}) == 569
        assert all(p.sku_id == p.sku_id.lower() for p in TABLE)
        assert all(find_product(p.sku_id) == p for p in TABLE)

    def test_shares_a_name_between_two_skus_only_where_microsoft_does(self) -> None:
        """The only names that match more than one SKU exactly are Microsoft's 14 duplicates."""
        shared = {
            p.product_name for p in TABLE if len(products_matching_exactly(p.product_name)) > 1
        }
        assert shared == DUPLICATE_NAMES
        assert all(len(same_name(p)) == 2 for p in TABLE if p.product_name in DUPLICATE_NAMES)


# --- examples ----------------------------------------------------------------------------------


class TestFindProduct:
    def test_finds_business_premium_by_its_guid(self) -> None:
        """SPB's GUID: Microsoft 365 Business Premium."""
        assert find_product(SPB) == Product(SPB, "SPB", "Microsoft 365 Business Premium")

    def test_compares_the_guid_case_insensitively(self) -> None:
        """Graph's upper-case GUID, with stray spaces, finds the same product."""
        assert find_product(f" {SPB.upper()} ") == find_product(SPB)

    def test_trims_the_part_numbers_microsoft_publishes_with_a_trailing_space(self) -> None:
        """No part number keeps surrounding spaces."""
        assert all(p.sku_part_number == p.sku_part_number.strip() for p in TABLE)

    def test_returns_none_for_a_sku_not_in_the_table(self) -> None:
        """An unlisted GUID, or something that is not one: None."""
        assert find_product(UNLISTED) is None
        assert find_product("SPB") is None


class TestMatchSubscription:
    def test_matches_the_decorations_synnex_uses_exactly(self) -> None:
        """The names of m365-products.md: each is Business Premium, or Office 365 E3."""
        for name in [
            "Microsoft 365 Business Premium",
            "Microsoft 365 Business Premium (NCE COM MTH)",
            "M365 Business Premium - Annual",
            "microsoft 365 business premium [NCE Annual]",
            "NCE M365 BUSINESS PREMIUM 1 Year",
        ]:
            assert match_subscription(SPB, name) == "exact", name
        assert match_subscription(ENTERPRISEPACK, "Office 365 E3 (NCE)") == "exact"
        assert match_subscription(ENTERPRISEPACK, "O365 E3 - Monthly Billing") == "exact"

    def test_keeps_brackets_that_are_part_of_the_product(self) -> None:
        """`(Plan 1)` is the product's; `(NCE Annual)` is decoration."""
        assert match_subscription(EXCHANGESTANDARD, "Exchange Online (Plan 1) (NCE Annual)") == (
            "exact"
        )
        assert match_subscription(EXCHANGESTANDARD, "Exchange Online Plan 1 NCE") == "exact"
        assert match_subscription(EXCHANGESTANDARD, "Exchange Online (Plan 2)") == "none"

    def test_calls_another_known_product_none(self) -> None:
        """The Exchange subscription for a Business Premium hire: `none`, the guard's case."""
        assert match_subscription(SPB, "Exchange Online (Plan 1) (NCE Annual)") == "none"
        assert match_subscription(SPB, "Microsoft 365 Business Standard (NCE)") == "none"
        assert match_subscription(SPB, "Microsoft 365 Business Premium (no Teams) (NCE)") == "none"

    def test_calls_a_shortened_or_lengthened_name_of_the_product_likely(self) -> None:
        """Not a product of the table, but one name runs inside the other: `likely`."""
        assert match_subscription(SPB, "Business Premium (NCE)") == "likely"
        assert match_subscription(SPB, "M365 Business Premium Promo - Annual") == "likely"
        assert match_subscription(EXCHANGESTANDARD, "Exchange Online (NCE)") == "likely"

    def test_does_not_call_a_name_of_generic_words_likely(self) -> None:
        """`Microsoft 365` alone is inside many names and says nothing: `unknown`."""
        assert match_subscription(SPB, "Microsoft 365 (NCE)") == "unknown"
        assert match_subscription(SPB, "Online Plan") == "unknown"

    def test_calls_a_name_of_no_known_product_unknown(self) -> None:
        """No product of the table has this name, nor is it Business Premium's: `unknown`."""
        assert match_subscription(SPB, "Microsoft 365 Pilot Bundle (NCE Annual)") == "unknown"
        assert match_subscription(SPB, "Acronis Cyber Protect Cloud") == "unknown"

    def test_calls_an_empty_or_decoration_only_name_unknown(self) -> None:
        """Nothing left once the decorations go: `unknown`."""
        assert match_subscription(SPB, "") == "unknown"
        assert match_subscription(SPB, "(NCE COM MTH)") == "unknown"

    def test_calls_everything_unknown_for_a_sku_not_in_the_table(self) -> None:
        """The SKU's product is not known: no subscription matches it or differs from it."""
        for name in ["Microsoft 365 Business Premium", "Exchange Online (Plan 1)", "Anything"]:
            assert match_subscription(UNLISTED, name) == "unknown"

    def test_compares_the_sku_guid_case_insensitively(self) -> None:
        """Graph's upper-case GUID matches like the lower-case one."""
        assert match_subscription(SPB.upper(), "M365 Business Premium") == "exact"

    def test_matches_a_name_microsoft_gives_two_skus_exactly_for_both(self) -> None:
        """`Visio Plan 1` is VISIO_PLAN1_DEPT and VISIOONLINE_PLAN1 alike."""
        dept = "ca7f3140-d88c-455b-9a1c-7f0679e31a76"
        online = "4b244418-9658-4451-a2b8-b5e2b364e9bd"
        assert match_subscription(dept, "Visio Plan 1 (NCE Annual)") == "exact"
        assert match_subscription(online, "Visio Plan 1 (NCE Annual)") == "exact"

    def test_keeps_month_where_it_is_part_of_the_product(self) -> None:
        """`.../month capacity pack` is a product's own wording, not a term."""
        pack = "debc9e58-f2d7-412c-a0b6-575608564228"
        name = "Power Pages authenticated users T1 100 users/per site/month capacity pack"
        assert match_subscription(pack, f"{name} (NCE Monthly)") == "exact"


class TestSubscriptionProduct:
    def test_names_the_product_of_a_decorated_name(self) -> None:
        """`M365 Business Premium - Annual` is Microsoft 365 Business Premium."""
        assert subscription_product("M365 Business Premium - Annual") == find_product(SPB)
        assert subscription_product("Exchange Online (Plan 1) (NCE Annual)") == find_product(
            EXCHANGESTANDARD
        )

    def test_returns_none_for_a_name_of_no_known_product(self) -> None:
        """Unknown and merely likely names name no product."""
        assert subscription_product("Microsoft 365 Pilot Bundle (NCE Annual)") is None
        assert subscription_product("Business Premium (NCE)") is None
        assert subscription_product("") is None

    def test_answers_the_first_in_the_table_for_a_name_two_skus_share(self) -> None:
        """`Visio Plan 1`: VISIO_PLAN1_DEPT, listed first."""
        found = subscription_product("Visio Plan 1")
        assert found is not None and found.sku_part_number == "VISIO_PLAN1_DEPT"
