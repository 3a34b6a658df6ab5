"""Which org below an MSP a Synnex customer seems to be: decided from names and domains.

Pure: no I/O. Names are compared as keys (`name_key`): accents, case, punctuation, spaces and
a trailing legal form dropped, so "Contoso Ltd." and "contoso" meet. A customer's domain is
compared by its first label ("contoso" of "contoso.com"). A suggestion is only made when it is
unambiguous; the operator still confirms it by putting the number on the org.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from shared.models import Customer, Org

# Legal forms that say nothing about which company it is, dropped from the end of a name.
LEGAL_FORMS = frozenset({
    "ab", "ag", "bv", "co", "company", "corp", "corporation", "gmbh", "inc", "incorporated",
    "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pty", "sa", "sarl", "sas", "srl",
})
# Deeper than this is not an MSP tree (shared.use_cases.orgs.MAX_DEPTH is smaller).
_MAX_WALK = 64
_WORD = re.compile(r"[a-z0-9]+")


def name_key(text: str | None) -> str | None:
    """'Contoso Ltd.' -> 'contoso', 'Fabrikam, Inc.' -> 'fabrikam'; None when nothing is left."""
    if not text:
        return None
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _WORD.findall(ascii_text.casefold().replace("&", " and "))
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return "".join(words) or None


def domain_key(domain: str | None) -> str | None:
    """'www.Contoso.com' -> 'contoso', 'contoso-ltd.co.uk' -> 'contoso'; None for no domain."""
    if not domain:
        return None
    host = domain.strip().lower().rstrip(".").removeprefix("www.")
    return name_key(host.split(".", 1)[0]) if "." in host else None


def descendants(root_id: str, orgs: Iterable[Org]) -> list[Org]:
    """Every org whose chain of parents reaches `root_id` (the root itself excluded)."""
    by_id = {org.org_id: org for org in orgs}
    found: list[Org] = []
    for org in by_id.values():
        parent_id, seen = org.parent_id, {org.org_id}
        while parent_id is not None and parent_id != root_id and len(seen) < _MAX_WALK:
            parent = by_id.get(parent_id)
            if parent is None or parent.org_id in seen:
                break  # an orphan or a hand-written cycle: not below this root
            seen.add(parent.org_id)
            parent_id = parent.parent_id
        if parent_id == root_id and org.org_id != root_id:
            found.append(org)
    return sorted(found, key=lambda org: org.org_id)


def suggest_org(customer: Customer, orgs: Sequence[Org]) -> str | None:
    """The org that seems to be `customer`, among `orgs` (the MSP's descendants), or None.

    An org that already carries the customer's number wins. Otherwise only orgs without a
    number are candidates: the one whose name or org id has the customer's name key, else the
    one that has its domain key; several at one step (ambiguous) is no suggestion.
    """
    mapped = [org for org in orgs if org.synnex_customer_no == customer.customer_no]
    if mapped:
        return mapped[0].org_id
    unmapped = [org for org in orgs if not org.synnex_customer_no]
    for key in (name_key(customer.name), domain_key(customer.domain)):
        if key is None:
            continue
        matches = [org for org in unmapped if key in _org_keys(org)]
        if len(matches) == 1:
            return matches[0].org_id
        if matches:
            return None
    return None


def _org_keys(org: Org) -> set[str]:
    return {key for key in (name_key(org.name), name_key(org.org_id)) if key}
