"""Which Stellr subscriptions the form offers, and how the dropdown names them. Pure: no I/O.

Stellr mixes vendors in one list, often leaves `status` blank and sometimes carries the
commitment term only in the product name, so these rules are deliberately forgiving.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from shared.core.products import Match, match_subscription
from shared.models import MatchedSubscriptionOption, Subscription, SubscriptionOption, Term

# Checked in this order; the first that matches decides. Word boundaries keep "11 year" or
# "P1YX" from matching.
_TERM_PATTERNS: tuple[tuple[Term, re.Pattern[str]], ...] = (
    ("triennial", re.compile(r"\b(triennial|3[\s-]*years?|36[\s-]*months?|P3Y)\b", re.IGNORECASE)),
    (
        "annual",
        re.compile(r"\b(annual(ly)?|yearly|1[\s-]*year|12[\s-]*months?|P1Y|ANN)\b", re.IGNORECASE),
    ),
    # MTH: TD SYNNEX's short form, as in "Microsoft 365 Business Premium (NCE COM MTH)".
    ("monthly", re.compile(r"\b(monthly|1[\s-]*month|P1M|MTH)\b", re.IGNORECASE)),
)
_TERM_ORDER: dict[Term, int] = {"monthly": 0, "annual": 1, "triennial": 2, "unknown": 3}
_MATCH_ORDER: dict[Match, int] = {"exact": 0, "likely": 1, "none": 2, "unknown": 3}

# New-commerce (NCE) Microsoft product ids all start CFQ7 (e.g. CFQ7TTC0LCHC:0002).
_MICROSOFT_PART = re.compile(r"^\s*CFQ7", re.IGNORECASE)
_NCE_WORD = re.compile(r"\bNCE\b", re.IGNORECASE)
# The commercial segment (COM, as opposed to EDU or GOV): a decoration, like NCE.
_SEGMENT_WORD = re.compile(r"\bCOM\b", re.IGNORECASE)

# A bracketed group at the end of a product name, e.g. "(NCE Annual)" or "[Monthly]", or a
# dashed one, as in "M365 Business Premium - Annual".
_TRAILING_GROUP = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")
_TRAILING_DASHED = re.compile(r"\s+[-–]\s+([^-–()\[\]]*)$")

_ACTIVE_STATUSES = frozenset({"", "active", "enabled"})

# Keys are lower case without separators, so "one_time", "one-time" and "OneTime" all match.
_BILLING_CYCLES: dict[str, str] = {
    "month": "monthly",
    "monthly": "monthly",
    "p1m": "monthly",
    "annual": "annual",
    "annually": "annual",
    "year": "annual",
    "yearly": "annual",
    "p1y": "annual",
    "onetime": "one_time",
}
_BILLING_WORDS: dict[str, str] = {
    "monthly": "monthly billing",
    "annual": "annual billing",
    "one_time": "one-time billing",
}


def _term_in(text: str | None) -> Term | None:
    if not text:
        return None
    for term, pattern in _TERM_PATTERNS:
        if pattern.search(text):
            return term
    return None


def derive_term(product_name: str, term_field: str | None) -> Term:
    """The commitment term: from the term field when it says one, else from the product name."""
    return _term_in(term_field) or _term_in(product_name) or "unknown"


def is_microsoft(sub: Subscription) -> bool:
    """A Microsoft line: the vendor says so, or (vendor blank) the part number is a CFQ7 id."""
    vendor = (sub.vendor or "").strip()
    if vendor:
        return "microsoft" in vendor.lower()
    return bool(sub.part_number and _MICROSOFT_PART.match(sub.part_number))


def is_active(sub: Subscription) -> bool:
    """Blank, "active" or "enabled". Any other status (suspended, pending, ...) is not offered."""
    return sub.status.strip().lower() in _ACTIVE_STATUSES


def _is_term_hint(text: str) -> bool:
    # A group is a hint when nothing but NCE, term words and separators are in it, so that
    # "(NCE Annual)" goes and "(no Teams)" stays.
    rest = _SEGMENT_WORD.sub(" ", _NCE_WORD.sub(" ", text))
    for _, pattern in _TERM_PATTERNS:
        rest = pattern.sub(" ", rest)
    return not re.sub(r"[\s,;/·-]+", "", rest)


def display_name(product_name: str) -> str:
    """The product name without a trailing term hint such as "(NCE Annual)" or " - Annual"."""
    name = " ".join(product_name.split())
    for pattern in (_TRAILING_GROUP, _TRAILING_DASHED):
        match = pattern.search(name)
        if match and _is_term_hint(match.group(1)):
            name = name[: match.start()].strip()
    return name.strip()


def billing_cycle(billing_frequency: str | None) -> str | None:
    """The billing cycle as "monthly", "annual" or "one_time"; None when not recognised."""
    return _BILLING_CYCLES.get(re.sub(r"[\s_-]+", "", (billing_frequency or "").lower()))


def is_nce(sub: Subscription) -> bool:
    """New commerce: the name or part number says NCE, or the part number is a CFQ7 id."""
    part = sub.part_number or ""
    return bool(
        _NCE_WORD.search(sub.product_name) or _NCE_WORD.search(part) or _MICROSOFT_PART.match(part)
    )


def _label(sub: Subscription, name: str, cycle: str | None) -> str:
    parts = [name]
    if sub.term != "unknown":
        parts.append(sub.term.capitalize() + (" (NCE)" if is_nce(sub) else ""))
    if cycle:
        parts.append(_BILLING_WORDS[cycle])
    parts.append(f"{sub.quantity} seat" + ("" if sub.quantity == 1 else "s"))
    return " · ".join(parts)


def to_option(sub: Subscription) -> SubscriptionOption:
    """One dropdown entry; a blank status is shown as "active", which is how it is treated."""
    name = display_name(sub.product_name) or sub.id
    cycle = billing_cycle(sub.billing_frequency)
    return SubscriptionOption(
        id=sub.id,
        name=name,
        term=sub.term,
        billing_cycle=cycle,
        quantity=sub.quantity,
        status=sub.status.strip().lower() or "active",
        renewal_date=sub.renewal_date,
        label=_label(sub, name, cycle),
    )


def dropdown_options(subs: Iterable[Subscription]) -> list[SubscriptionOption]:
    """Active Microsoft subscriptions as dropdown entries, sorted by name, then term."""
    return [option for _, option in _offered(subs)]


def matched_options(subs: Iterable[Subscription], sku_id: str) -> list[MatchedSubscriptionOption]:
    """The dropdown for one SKU: each entry with its `match`, exact first, then likely, none
    and unknown; within each, the order of `dropdown_options`.

    The subscription's product name as Stellr gives it is what is matched (see
    `shared.core.products.match_subscription`).
    """
    matched = [
        MatchedSubscriptionOption(
            **option.model_dump(), match=match_subscription(sku_id, sub.product_name)
        )
        for sub, option in _offered(subs)
    ]
    # sorted() is stable: entries that match alike keep their order.
    return sorted(matched, key=lambda o: _MATCH_ORDER[o.match])


def suggest(exact_ids: Sequence[str], last_bought: str | None) -> str | None:
    """The entry to preselect: the only exact match; among several, the one the org bought the
    SKU through last time, if it is one of them; else None.

    Every entry offered is active (`is_active`), so any exact match is an active one.
    """
    if len(exact_ids) == 1:
        return exact_ids[0]
    return last_bought if last_bought is not None and last_bought in exact_ids else None


def _offered(subs: Iterable[Subscription]) -> list[tuple[Subscription, SubscriptionOption]]:
    offered = [(sub, to_option(sub)) for sub in subs if is_microsoft(sub) and is_active(sub)]
    return sorted(offered, key=lambda p: (p[1].name.casefold(), _TERM_ORDER[p[1].term], p[1].id))
