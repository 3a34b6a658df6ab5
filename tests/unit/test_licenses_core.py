"""The pure licence arithmetic: free seats, SKU lookup, dropdown options, record parsing."""

from __future__ import annotations

from typing import Any

from shared.core.licenses import (
    all_in_warning,
    find_sku,
    free_seats,
    is_user_assignable,
    license_options,
    parse_subscribed_sku,
    to_option,
)
from shared.models import LicenseOption, SubscribedSku

ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
WINDOWS_STORE = "6470687e-a428-4b7a-bef2-8a291ad947c9"
UNLISTED = "0b2d6f3e-7a41-4c58-9e1f-2a3b4c5d6e7f"  # in no copy of Microsoft's table


def sku(
    sku_id: str = ENTERPRISEPACK,
    part: str = "ENTERPRISEPACK",
    *,
    enabled: int = 25,
    consumed: int = 22,
    warning: int = 0,
    suspended: int = 0,
    locked_out: int = 0,
    status: str = "Enabled",
    applies_to: str = "User",
) -> SubscribedSku:
    """A subscribed SKU of the contoso tenant."""
    return SubscribedSku(
        sku_id=sku_id,
        sku_part_number=part,
        applies_to=applies_to,
        capability_status=status,
        consumed_units=consumed,
        enabled_units=enabled,
        warning_units=warning,
        suspended_units=suspended,
        locked_out_units=locked_out,
    )


class TestFreeSeats:
    def test_counts_enabled_minus_consumed(self) -> None:
        """25 enabled and 22 consumed leave 3 free."""
        assert free_seats(sku(enabled=25, consumed=22)) == 3

    def test_is_zero_when_every_seat_is_taken(self) -> None:
        """A full SKU has nothing free."""
        assert free_seats(sku(enabled=25, consumed=25)) == 0

    def test_is_never_negative_when_consumed_exceeds_enabled(self) -> None:
        """consumedUnits above enabled (after a quantity decrease) gives 0, not -2."""
        assert free_seats(sku(enabled=10, consumed=12)) == 0

    def test_does_not_count_suspended_or_locked_out_units(self) -> None:
        """Suspended and locked-out units are never free."""
        assert free_seats(sku(enabled=5, consumed=5, suspended=10, locked_out=3)) == 0

    def test_does_not_count_warning_units(self) -> None:
        """Units in warning are not free, even with none consumed."""
        assert free_seats(sku(enabled=0, consumed=0, warning=25, status="Warning")) == 0

    def test_counts_enabled_units_of_a_sku_in_warning(self) -> None:
        """A SKU whose status is Warning still hands out its enabled units."""
        assert free_seats(sku(enabled=10, consumed=8, warning=5, status="Warning")) == 2

    def test_is_zero_for_a_suspended_sku(self) -> None:
        """A Suspended SKU cannot be assigned, whatever its counts say."""
        assert free_seats(sku(enabled=25, consumed=0, status="Suspended")) == 0

    def test_is_zero_for_a_locked_out_sku(self) -> None:
        """A LockedOut SKU cannot be assigned."""
        assert free_seats(sku(enabled=25, consumed=0, status="LockedOut")) == 0

    def test_is_zero_for_a_company_sku(self) -> None:
        """A SKU that applies to the Company is never a user seat."""
        company = sku(WINDOWS_STORE, "WINDOWS_STORE", enabled=1, consumed=0, applies_to="Company")
        assert free_seats(company) == 0


class TestAllInWarning:
    def test_flags_a_sku_whose_units_all_sit_in_warning(self) -> None:
        """Near an annual expiry: enabled 0, warning 25 is the case to record."""
        assert all_in_warning(sku(enabled=0, consumed=20, warning=25, status="Warning"))

    def test_does_not_flag_a_sku_with_enabled_units(self) -> None:
        """Some enabled units mean the SKU is not wholly in warning."""
        assert not all_in_warning(sku(enabled=5, consumed=5, warning=20, status="Warning"))

    def test_does_not_flag_an_empty_sku(self) -> None:
        """No units at all is not the warning case."""
        assert not all_in_warning(sku(enabled=0, consumed=0))


class TestIsUserAssignable:
    def test_accepts_enabled_and_warning_user_skus(self) -> None:
        """User SKUs in Enabled or Warning can be assigned."""
        assert is_user_assignable(sku(status="Enabled"))
        assert is_user_assignable(sku(status="Warning"))

    def test_rejects_company_and_inactive_skus(self) -> None:
        """Company SKUs and Suspended, Deleted or LockedOut ones cannot."""
        assert not is_user_assignable(sku(applies_to="Company"))
        for status in ("Suspended", "Deleted", "LockedOut"):
            assert not is_user_assignable(sku(status=status))


class TestFindSku:
    def test_finds_a_sku_whatever_the_case_of_the_guid(self) -> None:
        """GUIDs compare lower-cased: an upper-case id finds the stored one."""
        skus = [sku(SPB, "SPB"), sku(ENTERPRISEPACK, "ENTERPRISEPACK")]
        found = find_sku(skus, ENTERPRISEPACK.upper())
        assert found is not None and found.sku_part_number == "ENTERPRISEPACK"

    def test_finds_a_sku_stored_in_upper_case(self) -> None:
        """A record that kept upper case is found by a lower-case id."""
        found = find_sku([sku(SPB.upper(), "SPB")], SPB)
        assert found is not None and found.sku_part_number == "SPB"

    def test_returns_none_when_the_tenant_has_no_such_sku(self) -> None:
        """A SKU the tenant does not subscribe to is None, not an error."""
        assert find_sku([sku(SPB, "SPB")], ENTERPRISEPACK) is None


class TestToOption:
    def test_labels_the_option_with_the_product_name_and_free_and_total_seats(self) -> None:
        """ENTERPRISEPACK with 25 enabled and 22 consumed reads `Office 365 E3 · 3 of 25 free`."""
        assert to_option(sku(enabled=25, consumed=22)) == LicenseOption(
            sku_id=ENTERPRISEPACK,
            sku_part_number="ENTERPRISEPACK",
            product_name="Office 365 E3",
            total=25,
            consumed=22,
            available=3,
            label="Office 365 E3 · 3 of 25 free",
        )

    def test_shows_none_available_when_over_consumed(self) -> None:
        """consumed above enabled shows 0 available."""
        option = to_option(sku(SPB, "SPB", enabled=10, consumed=12))
        assert (option.available, option.label) == (
            0, "Microsoft 365 Business Premium · 0 of 10 free"
        )

    def test_keeps_the_part_number_for_a_sku_missing_from_microsofts_table(self) -> None:
        """A SKU not in the product table: `product_name` None, the part number in the label."""
        option = to_option(sku(UNLISTED, "CONTOSO_PILOT", enabled=5, consumed=1))
        assert (option.product_name, option.label) == (None, "CONTOSO_PILOT · 4 of 5 free")

    def test_finds_the_product_of_an_upper_case_sku_id(self) -> None:
        """Graph's GUID in upper case still finds Microsoft's name."""
        option = to_option(sku(SPB.upper(), "SPB", enabled=1, consumed=0))
        assert option.product_name == "Microsoft 365 Business Premium"

    def test_falls_back_to_the_sku_id_without_a_name_or_part_number(self) -> None:
        """A SKU neither in the table nor with a part number is labelled by its id."""
        assert to_option(sku(UNLISTED, "", enabled=2, consumed=1)).label == (
            f"{UNLISTED} · 1 of 2 free"
        )


class TestLicenseOptions:
    def test_lists_user_assignable_skus_sorted_by_name(self) -> None:
        """Company and suspended SKUs are left out; the rest sorted by what the label shows."""
        skus = [
            sku(ENTERPRISEPACK, "ENTERPRISEPACK", enabled=25, consumed=22),
            sku(UNLISTED, "CONTOSO_PILOT", enabled=3, consumed=3),
            sku(WINDOWS_STORE, "WINDOWS_STORE", applies_to="Company"),
            sku(EMS, "EMS", status="Suspended"),
            sku(SPB, "SPB", enabled=12, consumed=12),
        ]
        assert [option.label for option in license_options(skus)] == [
            "CONTOSO_PILOT · 0 of 3 free",
            "Microsoft 365 Business Premium · 0 of 12 free",
            "Office 365 E3 · 3 of 25 free",
        ]

    def test_returns_an_empty_list_for_a_tenant_without_skus(self) -> None:
        """No SKUs: an empty list, never None."""
        assert license_options([]) == []


class TestParseSubscribedSku:
    def test_reads_a_graph_record(self) -> None:
        """Every field of a subscribedSku record lands in the model, the GUID lower-cased."""
        record: dict[str, Any] = {
            "skuId": ENTERPRISEPACK.upper(),
            "skuPartNumber": "ENTERPRISEPACK",
            "appliesTo": "User",
            "capabilityStatus": "Warning",
            "consumedUnits": 22,
            "prepaidUnits": {"enabled": 20, "warning": 5, "suspended": 1, "lockedOut": 2},
            "subscriptionIds": ["9b1c7e3a-55d2-4f0e-8a6b-2c4d6e8f0a1b"],
        }
        assert parse_subscribed_sku(record) == SubscribedSku(
            sku_id=ENTERPRISEPACK,
            sku_part_number="ENTERPRISEPACK",
            applies_to="User",
            capability_status="Warning",
            consumed_units=22,
            enabled_units=20,
            warning_units=5,
            suspended_units=1,
            locked_out_units=2,
        )

    def test_reads_missing_counts_as_zero(self) -> None:
        """A record without prepaidUnits or consumedUnits has no seats."""
        parsed = parse_subscribed_sku({"skuId": SPB, "skuPartNumber": "SPB"})
        assert (parsed.enabled_units, parsed.consumed_units, free_seats(parsed)) == (0, 0, 0)

    def test_reads_malformed_counts_as_zero(self) -> None:
        """Counts that are not whole numbers are not trusted as seats."""
        parsed = parse_subscribed_sku(
            {"skuId": SPB, "consumedUnits": None, "prepaidUnits": {"enabled": "lots"}}
        )
        assert (parsed.enabled_units, parsed.consumed_units) == (0, 0)
