"""Which org below an MSP a Synnex customer seems to be (shared.core.customers)."""

from __future__ import annotations

import pytest

from shared.core.customers import descendants, domain_key, name_key, suggest_org
from shared.models import Customer, Org

NORTHWIND = Org(org_id="northwind", name="Northwind IT")
CONTOSO = Org(org_id="contoso", name="Contoso Ltd", parent_id="northwind")
FABRIKAM = Org(org_id="fab-001", name="Fabrikam, Inc.", parent_id="northwind")
LITWARE = Org(org_id="litware", name="Litware", parent_id="northwind", synnex_customer_no="100236")
CONTOSO_BERLIN = Org(org_id="contoso-berlin", name="Contoso GmbH", parent_id="contoso")
TAILSPIN = Org(org_id="tailspin", name="Tailspin Toys")
WINGTIP = Org(org_id="wingtip", name="Wingtip Toys", parent_id="tailspin")


class TestNameKey:
    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("Contoso Ltd", "contoso"),
            ("CONTOSO LTD.", "contoso"),
            ("contoso", "contoso"),
            ("Fabrikam, Inc.", "fabrikam"),
            ("Adventure Works Cycles", "adventureworkscycles"),
            ("Wide World Importers LLC", "wideworldimporters"),
            ("Smith & Sons Co", "smithandsons"),
            ("Café Nöir GmbH", "cafenoir"),
            ("fab-001", "fab001"),
        ],
    )
    def test_drops_case_accents_punctuation_and_a_trailing_legal_form(
        self, text: str, key: str
    ) -> None:
        """Names that differ only in spelling details meet at one key."""
        assert name_key(text) == key

    @pytest.mark.parametrize("text", [None, "", "  ", "---"])
    def test_gives_nothing_for_an_empty_name(self, text: str | None) -> None:
        """No letters or digits: no key, so it matches nothing."""
        assert name_key(text) is None

    def test_keeps_a_name_that_is_only_a_legal_form(self) -> None:
        """'Limited' alone is kept: dropping it would leave no name at all."""
        assert name_key("Limited") == "limited"


class TestDomainKey:
    @pytest.mark.parametrize(
        ("domain", "key"),
        [
            ("contoso.com", "contoso"),
            ("www.Contoso.com", "contoso"),
            ("contoso-ltd.co.uk", "contoso"),
            ("contoso.onmicrosoft.com.", "contoso"),
        ],
    )
    def test_takes_the_first_label(self, domain: str, key: str) -> None:
        """The label a company picks for itself is compared, not the TLD."""
        assert domain_key(domain) == key

    @pytest.mark.parametrize("domain", [None, "", "localhost"])
    def test_gives_nothing_without_a_dotted_domain(self, domain: str | None) -> None:
        """No domain, or not one: no key."""
        assert domain_key(domain) is None


class TestDescendants:
    def test_finds_children_and_grandchildren_of_the_root_only(self) -> None:
        """Every org below the root, at any depth; the root and other trees left out."""
        orgs = [NORTHWIND, CONTOSO, FABRIKAM, LITWARE, CONTOSO_BERLIN, TAILSPIN, WINGTIP]
        found = [org.org_id for org in descendants("northwind", orgs)]
        assert found == ["contoso", "contoso-berlin", "fab-001", "litware"]

    def test_survives_a_cycle_and_an_orphan(self) -> None:
        """A hand-written cycle or a deleted parent is simply not below the root."""
        loop_a = Org(org_id="loop-a", name="A", parent_id="loop-b")
        loop_b = Org(org_id="loop-b", name="B", parent_id="loop-a")
        orphan = Org(org_id="orphan", name="Orphan", parent_id="deleted")
        assert descendants("northwind", [NORTHWIND, CONTOSO, loop_a, loop_b, orphan]) == [CONTOSO]


BELOW_NORTHWIND = (CONTOSO, CONTOSO_BERLIN, FABRIKAM, LITWARE)


class TestSuggestOrg:
    def test_matches_the_name_whatever_its_spelling(self) -> None:
        """'FABRIKAM INC' is the org named 'Fabrikam, Inc.'."""
        customer = Customer(customer_no="100235", name="FABRIKAM INC")
        assert suggest_org(customer, BELOW_NORTHWIND) == "fab-001"

    def test_matches_the_org_id_when_the_name_differs(self) -> None:
        """A customer named like an org id ('contoso') finds that org."""
        orgs = [Org(org_id="contoso", name="Contoso Pharmaceuticals", parent_id="northwind")]
        assert suggest_org(Customer(customer_no="100234", name="Contoso"), orgs) == "contoso"

    def test_matches_the_domain_when_the_name_does_not(self) -> None:
        """A customer called 'Contoso Pharma' with domain contoso.com is the org 'contoso'."""
        orgs = [Org(org_id="contoso", name="Contoso Pharmaceuticals", parent_id="northwind")]
        customer = Customer(customer_no="100234", name="Contoso Pharma", domain="contoso.com")
        assert suggest_org(customer, orgs) == "contoso"

    def test_prefers_the_org_that_already_has_the_number(self) -> None:
        """An org carrying the customer's number is the answer, whatever its name."""
        customer = Customer(customer_no="100236", name="Litware, Inc.", domain="litwareinc.com")
        assert suggest_org(customer, BELOW_NORTHWIND) == "litware"

    def test_never_suggests_an_org_mapped_to_another_number(self) -> None:
        """Litware's org already belongs to 100236: a second 'Litware' customer gets nothing."""
        customer = Customer(customer_no="100999", name="Litware")
        assert suggest_org(customer, BELOW_NORTHWIND) is None

    def test_suggests_nothing_when_two_orgs_match(self) -> None:
        """Two orgs with the same key: ambiguous, so no suggestion."""
        twins = [CONTOSO, Org(org_id="contoso-2", name="Contoso", parent_id="northwind")]
        assert suggest_org(Customer(customer_no="100234", name="Contoso Ltd."), twins) is None

    def test_suggests_nothing_for_an_unknown_customer(self) -> None:
        """No name or domain in common: None."""
        customer = Customer(customer_no="100300", name="Proseware", domain="proseware.com")
        assert suggest_org(customer, BELOW_NORTHWIND) is None
