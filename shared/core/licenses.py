"""Licence arithmetic on a tenant's subscribed SKUs: free seats, lookups and dropdown options.

Pure: no I/O, no clock (Microsoft's product names come from the table `shared.core.products`
reads once). The rules are Graph's (see `subscribedSkus`): only `prepaidUnits.enabled`
of a user-assignable SKU that is `Enabled` or `Warning` can be handed out; suspended, locked-out
and warning units never count as free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.core.products import find_product
from shared.models import LicenseOption, SubscribedSku

# Statuses under which Graph still lets a SKU be assigned to a user.
_ASSIGNABLE_STATUSES = frozenset({"enabled", "warning"})


def is_user_assignable(sku: SubscribedSku) -> bool:
    """True when the SKU is for users (not `Company`) and its status still allows assignment."""
    return (
        sku.applies_to.lower() == "user" and sku.capability_status.lower() in _ASSIGNABLE_STATUSES
    )


def free_seats(sku: SubscribedSku) -> int:
    """Seats that can be assigned now: max(0, enabled - consumed) for an assignable user SKU."""
    if not is_user_assignable(sku):
        return 0
    # consumedUnits can exceed enabled (e.g. after a quantity decrease): never negative.
    return max(0, sku.enabled_units - sku.consumed_units)


def all_in_warning(sku: SubscribedSku) -> bool:
    """True near an annual expiry: no enabled unit left, every unit sits in `warning`."""
    return sku.enabled_units == 0 and sku.warning_units > 0


def find_sku(skus: Iterable[SubscribedSku], sku_id: str) -> SubscribedSku | None:
    """The SKU with this id (GUIDs compared lower-cased), or None when the tenant has none."""
    wanted = sku_id.strip().lower()
    return next((sku for sku in skus if sku.sku_id.lower() == wanted), None)


def to_option(sku: SubscribedSku) -> LicenseOption:
    """One entry of the form's licence dropdown, e.g. `Office 365 E3 · 3 of 25 free`.

    The label starts with Microsoft's product name; a SKU missing from that table keeps its
    part number (`ENTERPRISEPACK · 3 of 25 free`), and `product_name` is None.
    """
    product = find_product(sku.sku_id)
    product_name = product.product_name if product is not None else None
    name = product_name or sku.sku_part_number or sku.sku_id
    available = free_seats(sku)
    return LicenseOption(
        sku_id=sku.sku_id,
        sku_part_number=sku.sku_part_number,
        product_name=product_name,
        total=sku.enabled_units,
        consumed=sku.consumed_units,
        available=available,
        label=f"{name} · {available} of {sku.enabled_units} free",
    )


def license_options(skus: Iterable[SubscribedSku]) -> list[LicenseOption]:
    """Dropdown entries for the SKUs a user can be given, sorted by their label's name."""
    options = [to_option(sku) for sku in skus if is_user_assignable(sku)]
    options.sort(key=lambda o: (_name(o).casefold(), o.sku_id))
    return options


def _name(option: LicenseOption) -> str:
    """What the label starts with: the product name, else the part number, else the GUID."""
    return option.product_name or option.sku_part_number or option.sku_id


def parse_subscribed_sku(record: Mapping[str, Any]) -> SubscribedSku:
    """A `subscribedSku` record from Graph as a model; missing counts read as 0."""
    prepaid = record.get("prepaidUnits")
    units: Mapping[str, Any] = prepaid if isinstance(prepaid, Mapping) else {}
    return SubscribedSku(
        sku_id=str(record.get("skuId") or "").lower(),
        sku_part_number=str(record.get("skuPartNumber") or ""),
        applies_to=str(record.get("appliesTo") or "User"),
        capability_status=str(record.get("capabilityStatus") or "Enabled"),
        consumed_units=_count(record.get("consumedUnits")),
        enabled_units=_count(units.get("enabled")),
        warning_units=_count(units.get("warning")),
        suspended_units=_count(units.get("suspended")),
        locked_out_units=_count(units.get("lockedOut")),
    )


def _count(value: Any) -> int:
    """A unit count as a non-negative int; anything unreadable counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):
        return max(0, int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0
