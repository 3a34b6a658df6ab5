"""The pure rules behind the subscription dropdown."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shared.core.subscriptions import (
    billing_cycle,
    derive_term,
    display_name,
    dropdown_options,
    is_active,
    is_microsoft,
    matched_options,
    suggest,
    to_option,
)
from shared.models import Subscription


def sub(**fields: Any) -> Subscription:
    base: dict[str, Any] = {
        "id": "411833_1",
        "customer_no": "100234",
        "vendor": "Microsoft",
        "product_name": "Microsoft 365 Business Premium (NCE Annual)",
        "part_number": "CFQ7TTC0LCHC:0002",
        "quantity": 12,
        "status": "active",
        "billing_frequency": "month",
        "term": "annual",
        "renewal_date": date(2027, 3, 1),
    }
    return Subscription(**{**base, **fields})


class TestDeriveTerm:
    """derive_term"""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Microsoft 365 Business Premium (Annual)", "annual"),
            ("Microsoft 365 Business Premium (NCE Annual)", "annual"),
            ("Microsoft 365 E3 1 year", "annual"),
            ("Microsoft 365 E3 P1Y", "annual"),
            ("NCE Exchange Online Plan 1 Monthly", "monthly"),
            ("Exchange Online Plan 1 P1M", "monthly"),
            ("Microsoft 365 Business Premium (NCE COM MTH)", "monthly"),
            ("Microsoft 365 E5 3 year", "triennial"),
            ("Microsoft 365 E5 Triennial", "triennial"),
            ("Windows Server 2022 P3Y", "triennial"),
            ("Microsoft 365 Business Basic", "unknown"),
            ("", "unknown"),
        ],
    )
    def test_reads_the_term_from_the_product_name(self, name: str, expected: str) -> None:
        """A term hint in the product name decides when no field carries one."""
        assert derive_term(name, None) == expected

    def test_prefers_the_term_field_over_the_name(self) -> None:
        """The term field wins over what the name says."""
        assert derive_term("Microsoft 365 E3 (NCE Annual)", "monthly") == "monthly"
        assert derive_term("Microsoft 365 E3", "P3Y") == "triennial"

    def test_falls_back_to_the_name_when_the_field_says_nothing_known(self) -> None:
        """A blank or unreadable term field leaves the decision to the name."""
        assert derive_term("Microsoft 365 E3 (Annual)", "") == "annual"
        assert derive_term("Microsoft 365 E3 (Annual)", "commitment") == "annual"

    def test_does_not_read_eleven_years_as_one(self) -> None:
        """Word boundaries keep "11 year" from matching "1 year"."""
        assert derive_term("Archive 11 year retention", None) == "unknown"


class TestIsMicrosoft:
    """is_microsoft"""

    def test_accepts_a_microsoft_vendor_in_any_case(self) -> None:
        """The vendor name decides, case-insensitively."""
        assert is_microsoft(sub(vendor="MICROSOFT Corporation"))

    def test_rejects_other_vendors_even_with_a_cfq7_part(self) -> None:
        """A named vendor that is not Microsoft is not Microsoft."""
        assert not is_microsoft(sub(vendor="Cisco", part_number="CFQ7TTC0LCHC:0002"))

    def test_accepts_a_cfq7_part_number_when_the_vendor_is_blank(self) -> None:
        """Without a vendor, a CFQ7 part number identifies Microsoft."""
        assert is_microsoft(sub(vendor=None, part_number="cfq7ttc0lh18:0001"))
        assert is_microsoft(sub(vendor="  ", part_number="CFQ7TTC0LF8R"))

    def test_rejects_a_blank_vendor_without_a_microsoft_part_number(self) -> None:
        """Nothing says Microsoft: not offered."""
        assert not is_microsoft(sub(vendor="", part_number="GWS-BUS-STD"))
        assert not is_microsoft(sub(vendor=None, part_number=None))


class TestIsActive:
    """is_active"""

    @pytest.mark.parametrize("status", ["", "  ", "active", "Active", "ENABLED"])
    def test_counts_blank_active_and_enabled_as_active(self, status: str) -> None:
        """Stellr often leaves status blank; that counts as active."""
        assert is_active(sub(status=status))

    @pytest.mark.parametrize("status", ["suspended", "Cancelled", "expired", "deleted", "pending"])
    def test_counts_other_states_as_inactive(self, status: str) -> None:
        """Suspended, cancelled, expired, deleted and pending lines are not offered."""
        assert not is_active(sub(status=status))


class TestDisplayName:
    """display_name"""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Microsoft 365 Business Premium (NCE Annual)", "Microsoft 365 Business Premium"),
            ("Microsoft 365 E3 (Monthly)", "Microsoft 365 E3"),
            ("Microsoft 365 E3 [NCE P1Y]", "Microsoft 365 E3"),
            ("Microsoft 365 E3 (NCE)", "Microsoft 365 E3"),
            ("Microsoft 365 E5 (no Teams)", "Microsoft 365 E5 (no Teams)"),
            ("  Exchange   Online Plan 1 ", "Exchange Online Plan 1"),
            ("Microsoft 365 Business Premium (NCE COM MTH)", "Microsoft 365 Business Premium"),
            ("M365 Business Premium - Annual", "M365 Business Premium"),
            ("Exchange Online (Plan 1) (NCE Annual)", "Exchange Online (Plan 1)"),
            (
                "Microsoft 365 Business Standard - Prepaid Legacy",
                "Microsoft 365 Business Standard - Prepaid Legacy",
            ),
        ],
    )
    def test_strips_only_a_trailing_term_hint(self, name: str, expected: str) -> None:
        """A bracketed or dashed term hint goes; other brackets and dashes stay."""
        assert display_name(name) == expected


class TestBillingCycle:
    """billing_cycle"""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("month", "monthly"),
            ("Monthly", "monthly"),
            ("annual", "annual"),
            ("one_time", "one_time"),
            ("One-Time", "one_time"),
            ("", None),
            (None, None),
            ("fortnightly", None),
        ],
    )
    def test_normalises_the_billing_frequency(self, value: str | None, expected: str) -> None:
        """Stellr's spellings map to monthly, annual, one_time or None."""
        assert billing_cycle(value) == expected


class TestToOption:
    """to_option"""

    def test_labels_an_nce_line_with_term_billing_and_seats(self) -> None:
        """The label reads like the contract's example."""
        option = to_option(sub())
        assert option.label == (
            "Microsoft 365 Business Premium · Annual (NCE) · monthly billing · 12 seats"
        )
        assert option.model_dump() == {
            "id": "411833_1",
            "name": "Microsoft 365 Business Premium",
            "term": "annual",
            "billing_cycle": "monthly",
            "quantity": 12,
            "status": "active",
            "renewal_date": date(2027, 3, 1),
            "label": option.label,
        }

    def test_says_seat_in_the_singular_for_one(self) -> None:
        """One seat is "1 seat"."""
        assert to_option(sub(quantity=1)).label.endswith(" · 1 seat")

    def test_marks_nce_from_the_name_when_the_part_number_is_not_cfq7(self) -> None:
        """ "NCE" in the product name is enough."""
        line = sub(
            product_name="NCE Exchange Online Plan 1 Monthly",
            part_number="EXO-P1",
            term="monthly",
            billing_frequency="annual",
        )
        assert to_option(line).label == (
            "NCE Exchange Online Plan 1 Monthly · Monthly (NCE) · annual billing · 12 seats"
        )

    def test_leaves_out_nce_for_a_legacy_part_number(self) -> None:
        """No NCE word and no CFQ7 id: the term stands alone."""
        line = sub(product_name="Office 365 E1", part_number="AAA-10726", term="annual")
        assert to_option(line).label == "Office 365 E1 · Annual · monthly billing · 12 seats"

    def test_omits_unknown_term_and_billing_cleanly(self) -> None:
        """Parts that are not known are left out, separators included."""
        line = sub(
            product_name="Microsoft 365 Business Basic", term="unknown", billing_frequency=None
        )
        option = to_option(line)
        assert option.label == "Microsoft 365 Business Basic · 12 seats"
        assert option.billing_cycle is None

    def test_labels_one_time_billing(self) -> None:
        """one_time billing reads "one-time billing"."""
        assert "· one-time billing ·" in to_option(sub(billing_frequency="one_time")).label

    def test_shows_a_blank_status_as_active(self) -> None:
        """A blank status is treated as active, so it is shown as such."""
        assert to_option(sub(status="")).status == "active"


class TestDropdownOptions:
    """dropdown_options"""

    def test_keeps_only_active_microsoft_lines_sorted_by_name_then_term(self) -> None:
        """Other vendors and inactive lines go; the rest sort by name, then term."""
        subs = [
            sub(id="1_1", product_name="Microsoft 365 E3 (NCE Annual)", term="annual"),
            sub(id="1_2", vendor="Cisco", product_name="Webex Meetings", part_number="A-WX"),
            sub(id="1_3", product_name="Exchange Online Plan 1", term="monthly", status=""),
            sub(id="1_4", product_name="Microsoft 365 E3 (NCE Monthly)", term="monthly"),
            sub(id="1_5", product_name="Microsoft 365 E5", status="suspended"),
            sub(id="1_6", vendor="Google", product_name="Workspace Business", part_number=None),
        ]
        assert [option.id for option in dropdown_options(subs)] == ["1_3", "1_4", "1_1"]

    def test_answers_an_empty_list_for_no_subscriptions(self) -> None:
        """No lines: no options."""
        assert dropdown_options([]) == []


SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


class TestMatchedOptions:
    """matched_options"""

    def test_puts_exact_matches_first_and_keeps_the_dropdown_order_within_each(self) -> None:
        """exact, likely, none, unknown; alike entries in name-then-term order."""
        lines = [
            sub(id="1_1", product_name="Microsoft 365 Pilot Bundle (NCE)"),
            sub(id="2_1", product_name="Exchange Online (Plan 1) (NCE Annual)"),
            sub(
                id="3_1",
                product_name="Microsoft 365 Business Premium (NCE COM MTH)",
                term="unknown",
            ),
            sub(id="4_1", product_name="Business Premium"),
            sub(id="5_1", product_name="M365 Business Premium - Annual"),
            sub(id="6_1", product_name="Office 365 E3", vendor="Cisco"),
        ]
        options = matched_options(lines, SPB)
        assert [(o.id, o.match) for o in options] == [
            ("5_1", "exact"),
            ("3_1", "exact"),
            ("4_1", "likely"),
            ("2_1", "none"),
            ("1_1", "unknown"),
        ]
        assert [o.id for o in dropdown_options(lines)] == ["4_1", "2_1", "5_1", "3_1", "1_1"]

    def test_answers_an_empty_list_for_no_subscriptions(self) -> None:
        """No lines: an empty list."""
        assert matched_options([], SPB) == []


class TestSuggest:
    """suggest"""

    def test_suggests_the_only_exact_match(self) -> None:
        """One exact match: that one, whatever was bought before."""
        assert suggest(["411833_1"], None) == "411833_1"
        assert suggest(["411833_1"], "411834_1") == "411833_1"

    def test_suggests_the_last_one_bought_through_among_several(self) -> None:
        """Several exact matches: the one the org bought the SKU through last time."""
        assert suggest(["411833_1", "411834_1"], "411834_1") == "411834_1"

    def test_suggests_nothing_when_the_last_one_is_not_among_them(self) -> None:
        """Several exact, and the last one bought is not one of them, or none was: None."""
        assert suggest(["411833_1", "411834_1"], "411835_1") is None
        assert suggest(["411833_1", "411834_1"], None) is None

    def test_suggests_nothing_without_an_exact_match(self) -> None:
        """No exact match: None, even with a purchase on record."""
        assert suggest([], "411833_1") is None
