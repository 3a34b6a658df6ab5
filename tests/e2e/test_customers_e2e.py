"""The MSP's Synnex customers and the customer-number check, over the running stack and the
Stellr simulator (contract section 6)."""

from __future__ import annotations

from tests.e2e.conftest import App


class TestSynnexCustomers:
    def test_lists_every_customer_of_the_reseller_with_suggestions(self, app: App) -> None:
        """All 205 of Northwind's customers; seeded contoso is the suggestion for 100234."""
        answer = app.http.get("/orgs/northwind/synnex-customers")
        assert answer.status_code == 200, answer.text
        customers = {c["customer_no"]: c for c in answer.json()["customers"]}
        assert len(customers) == 205
        assert "200100" not in customers  # Tailspin's customer, another reseller
        assert customers["100234"] == {
            "customer_no": "100234",
            "name": "Contoso Ltd",
            "domain": "contoso.com",
            "suggested_org_id": "contoso",
        }

    def test_suggests_a_new_org_by_name_and_then_accepts_its_number(self, app: App) -> None:
        """An org named like a customer is suggested; putting that number on it is accepted."""
        created = app.http.put(
            "/orgs/fabrikam-e2e", json={"name": "Fabrikam", "parent_id": "northwind"}
        )
        assert created.status_code in (200, 201), created.text
        listed = app.http.get("/orgs/northwind/synnex-customers").json()["customers"]
        (fabrikam,) = [c for c in listed if c["customer_no"] == "100235"]
        assert fabrikam["suggested_org_id"] == "fabrikam-e2e"
        saved = app.http.put(
            "/orgs/fabrikam-e2e",
            json={"name": "Fabrikam", "parent_id": "northwind", "synnex_customer_no": "100235"},
        )
        assert saved.status_code == 200, saved.text

    def test_refuses_a_number_the_reseller_does_not_show(self, app: App) -> None:
        """Tailspin's customer under Northwind: 422 naming synnex_customer_no."""
        answer = app.http.put(
            "/orgs/wide-world-e2e",
            json={"name": "Wide World", "parent_id": "northwind", "synnex_customer_no": "200100"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "synnex_customer_no"
        assert app.http.get("/orgs/wide-world-e2e").status_code == 404

    def test_answers_422_for_a_customer_org(self, app: App) -> None:
        """Only an MSP root has Synnex customers."""
        answer = app.http.get("/orgs/contoso/synnex-customers")
        assert answer.status_code == 422
        assert answer.json()["field"] == "org_id"
