"""Effective org variables (contract section 3) and the values this app reads from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.models import EffectiveVariable, Variable

CHOOSE_SUBSCRIPTION = "licencing_choose_subscription"
MAX_SEATS_PER_DAY = "licencing_max_seats_per_day"
DRY_RUN = "licencing_dry_run"
USAGE_LOCATION = "licencing_usage_location"

DEFAULT_MAX_SEATS_PER_DAY = 5


def resolve_effective(
    chain: Sequence[tuple[str, Sequence[Variable]]],
) -> dict[str, EffectiveVariable]:
    """Every variable that applies to the first org of `chain` (the org, then its ancestors).

    The org's own value wins; otherwise the nearest ancestor whose variable cascades. An
    ancestor's variable without `cascade` applies to that ancestor only.
    """
    effective: dict[str, EffectiveVariable] = {}
    for depth, (org_id, variables) in enumerate(chain):
        for variable in variables:
            if variable.name in effective:
                continue
            if depth == 0 or variable.cascade:
                effective[variable.name] = EffectiveVariable(
                    name=variable.name, value=variable.value, source_org_id=org_id
                )
    return effective


def choice_enabled(effective: Mapping[str, EffectiveVariable]) -> bool:
    variable = effective.get(CHOOSE_SUBSCRIPTION)
    return variable is not None and variable.value.strip() == "1"


def dry_run(effective: Mapping[str, EffectiveVariable]) -> bool:
    variable = effective.get(DRY_RUN)
    return variable is not None and variable.value.strip() == "1"


def max_seats_per_day(effective: Mapping[str, EffectiveVariable]) -> int:
    """The day's cap; a value that is not a whole number >= 0 counts as 0 (buy nothing)."""
    variable = effective.get(MAX_SEATS_PER_DAY)
    if variable is None:
        return DEFAULT_MAX_SEATS_PER_DAY
    text = variable.value.strip()
    # Fail closed: a typo in a spending cap must not lift it.
    return int(text) if text.isascii() and text.isdigit() else 0


def usage_location(effective: Mapping[str, EffectiveVariable]) -> str | None:
    variable = effective.get(USAGE_LOCATION)
    if variable is None:
        return None
    text = variable.value.strip().upper()
    return text if len(text) == 2 and text.isalpha() and text.isascii() else None


APPROVAL_REQUIRED = "licencing_approval_required"
APPROVAL_HOURS = "licencing_approval_hours"
MAX_SEATS_PER_MONTH = "licencing_max_seats_per_month"

DEFAULT_APPROVAL_HOURS = 24.0


def approval_required(effective: Mapping[str, EffectiveVariable]) -> bool:
    variable = effective.get(APPROVAL_REQUIRED)
    return variable is not None and variable.value.strip() == "1"


def approval_hours(effective: Mapping[str, EffectiveVariable]) -> float:
    """How long an approval may take; a value that is not a positive number: the default."""
    variable = effective.get(APPROVAL_HOURS)
    try:
        hours = float(variable.value.strip()) if variable is not None else 0.0
    except ValueError:
        hours = 0.0
    # Not NaN, not infinite, not absurd: a queue message waits at most 7 days per hop anyway.
    return hours if 0 < hours <= 24 * 365 else DEFAULT_APPROVAL_HOURS


def max_seats_per_month(effective: Mapping[str, EffectiveVariable]) -> int | None:
    """The UTC month's cap, None when unlimited (unset or blank); a value that is not a
    whole number >= 0 counts as 0 (buy nothing), like the day's cap."""
    variable = effective.get(MAX_SEATS_PER_MONTH)
    if variable is None or not variable.value.strip():
        return None
    text = variable.value.strip()
    return int(text) if text.isascii() and text.isdigit() else 0
