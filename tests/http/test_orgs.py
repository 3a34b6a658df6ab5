"""HTTP: orgs and org variables (contract sections 3 and 4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.http.conftest import CONTOSO_CUSTOMER_NO, CONTOSO_TENANT, Api

CHOOSE = "licencing_choose_subscription"
CAP = "licencing_max_seats_per_day"


class TestPutOrg:
    def test_creates_with_201_then_replaces_with_200(self, api: Api, msp: str) -> None:
        """The first PUT creates (201), the second replaces (200); both answer the org."""
        org_id = f"{msp}-contoso"
        body = {
            "name": "Contoso Ltd",
            "parent_id": msp,
            "m365_tenant_id": CONTOSO_TENANT.upper(),
            "synnex_customer_no": CONTOSO_CUSTOMER_NO,
        }
        created = api.put_org(org_id, body)
        assert created.status == 201
        assert created.mimetype == "application/json"
        assert created.json == {**body, "org_id": org_id, "m365_tenant_id": CONTOSO_TENANT}
        replaced = api.put_org(org_id, {"name": "Contoso Group", "parent_id": msp})
        assert replaced.status == 200
        assert replaced.json == {
            "org_id": org_id,
            "name": "Contoso Group",
            "parent_id": msp,
            "m365_tenant_id": None,
            "synnex_customer_no": None,
        }

    def test_refuses_a_parent_that_does_not_exist_with_422(
        self, api: Api, new_id: Callable[[str], str]
    ) -> None:
        """A missing parent: 422 naming parent_id, and no org is created."""
        org_id = new_id("contoso")
        answer = api.put_org(org_id, {"name": "Contoso Ltd", "parent_id": new_id("nobody")})
        assert answer.is_problem(422)
        assert "parent_id" in answer.detail
        assert api.get_org(org_id).is_problem(404)

    def test_refuses_a_cycle_with_422(self, api: Api, msp: str, customer: str) -> None:
        """Putting the MSP under its own customer: 422 naming parent_id; the MSP is unchanged."""
        before = api.get_org(msp).json
        answer = api.put_org(msp, {"name": "Northwind IT", "parent_id": customer})
        assert answer.is_problem(422)
        assert "parent_id" in answer.detail
        assert api.get_org(msp).json == before

    def test_refuses_an_org_as_its_own_parent_with_422(self, api: Api, msp: str) -> None:
        """An org named as its own parent is a cycle: 422 naming parent_id."""
        answer = api.put_org(msp, {"name": "Northwind IT", "parent_id": msp})
        assert answer.is_problem(422)
        assert "parent_id" in answer.detail

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (
                {"name": "Contoso Ltd", "m365_tenant_id": "contoso.onmicrosoft.com"},
                "m365_tenant_id",
            ),
            (
                {"name": "Contoso Ltd", "m365_tenant_id": "5b1e7c8a-3f2d-4e6a-9c0b"},
                "m365_tenant_id",
            ),
            ({"name": "Contoso Ltd", "parent_id": "north wind"}, "parent_id"),
            ({"name": "Contoso Ltd", "synnex_customer_no": 100234}, "synnex_customer_no"),
            ({"name": ""}, "name"),
            ({"parent_id": None}, "name"),
        ],
    )
    def test_refuses_a_malformed_field_with_422_naming_it(
        self, api: Api, new_id: Callable[[str], str], body: dict[str, object], field: str
    ) -> None:
        """A bad GUID, org id, type or a missing name: 422 naming the field."""
        answer = api.put_org(new_id("contoso"), body)
        assert answer.is_problem(422)
        assert answer.detail.startswith(field)

    @pytest.mark.parametrize("org_id", ["contoso.ltd", "contoso ltd", "c" * 65, "contoso%2F1"])
    def test_refuses_a_malformed_org_id_in_the_path_with_400(self, api: Api, org_id: str) -> None:
        """An org id outside 1-64 of A-Z a-z 0-9 _ -: 400 naming org_id."""
        answer = api.put_org(org_id, {"name": "Contoso Ltd"})
        assert answer.is_problem(400)
        assert answer.detail.startswith("org_id")

    @pytest.mark.parametrize("raw", [b"", b"{name: Contoso}", b'["Contoso Ltd"]'])
    def test_refuses_a_body_that_is_not_a_json_object_with_400(
        self, api: Api, new_id: Callable[[str], str], raw: bytes
    ) -> None:
        """No body, broken JSON or an array: 400 naming the body."""
        answer = api.put_org(new_id("contoso"), raw)
        assert answer.is_problem(400)
        assert answer.detail.startswith("body")


class TestGetOrg:
    def test_answers_the_org(self, api: Api, msp: str, customer: str) -> None:
        """The stored org, as it was put."""
        answer = api.get_org(customer)
        assert answer.status == 200
        assert answer.json == {
            "org_id": customer,
            "name": "Contoso Ltd",
            "parent_id": msp,
            "m365_tenant_id": CONTOSO_TENANT,
            "synnex_customer_no": CONTOSO_CUSTOMER_NO,
        }

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An org never put: 404 problem."""
        assert api.get_org(new_id("nobody")).is_problem(404)

    def test_answers_400_for_a_malformed_org_id(self, api: Api) -> None:
        """A malformed org id: 400 naming org_id."""
        answer = api.get_org("contoso.ltd")
        assert answer.is_problem(400)
        assert "org_id" in answer.detail


class TestPutVariable:
    def test_stores_and_answers_the_variable(self, api: Api, msp: str) -> None:
        """PUT answers 200 with the variable; GET reads it back."""
        answer = api.put_variable(msp, CHOOSE, {"value": "1", "cascade": True})
        expected = {"org_id": msp, "name": CHOOSE, "value": "1", "cascade": True}
        assert (answer.status, answer.json) == (200, expected)
        assert api.get_variable(msp, CHOOSE).json == expected

    def test_defaults_cascade_to_false(self, api: Api, msp: str) -> None:
        """No cascade given: false."""
        assert api.put_variable(msp, CAP, {"value": "3"}).json["cascade"] is False

    def test_accepts_a_value_of_1024_characters(self, api: Api, msp: str) -> None:
        """The longest value allowed is stored whole."""
        assert api.put_variable(msp, "notes", {"value": "x" * 1024}).status == 200
        assert api.get_variable(msp, "notes").json["value"] == "x" * 1024

    def test_refuses_a_value_of_1025_characters_and_stores_nothing(
        self, api: Api, msp: str
    ) -> None:
        """One character too long: 422 naming value, and nothing stored."""
        answer = api.put_variable(msp, "notes", {"value": "x" * 1025})
        assert answer.is_problem(422)
        assert answer.detail.startswith("value")
        assert "x" * 1025 not in answer.text
        assert api.get_variable(msp, "notes").is_problem(404)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"cascade": True}, "value"),
            ({"value": 1}, "value"),
            ({"value": "1", "cascade": "yes"}, "cascade"),
        ],
    )
    def test_refuses_a_malformed_body_with_422_naming_the_field(
        self, api: Api, msp: str, body: dict[str, object], field: str
    ) -> None:
        """A missing or mistyped field: 422 naming it."""
        answer = api.put_variable(msp, CHOOSE, body)
        assert answer.is_problem(422)
        assert answer.detail.startswith(field)

    @pytest.mark.parametrize("name", ["Licencing_Choose", "licencing-choose", "n" * 65])
    def test_refuses_a_malformed_name_with_400(self, api: Api, msp: str, name: str) -> None:
        """A name outside 1-64 of a-z 0-9 _: 400 naming name."""
        answer = api.put_variable(msp, name, {"value": "1"})
        assert answer.is_problem(400)
        assert answer.detail.startswith("name")

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """A variable of an org never put: 404, and the org is not created."""
        org_id = new_id("nobody")
        assert api.put_variable(org_id, CHOOSE, {"value": "1"}).is_problem(404)
        assert api.get_org(org_id).is_problem(404)


class TestGetVariable:
    def test_answers_404_for_an_unknown_variable(self, api: Api, msp: str) -> None:
        """A variable never set: 404 problem."""
        assert api.get_variable(msp, CHOOSE).is_problem(404)

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404 problem."""
        assert api.get_variable(new_id("nobody"), CHOOSE).is_problem(404)

    def test_answers_only_the_orgs_own_variable(self, api: Api, msp: str, customer: str) -> None:
        """An MSP's cascading value is not the customer's own variable: 404."""
        api.put_variable(msp, CHOOSE, {"value": "1", "cascade": True})
        assert api.get_variable(customer, CHOOSE).is_problem(404)

    def test_answers_400_for_a_malformed_name(self, api: Api, msp: str) -> None:
        """A malformed name: 400 naming name."""
        answer = api.get_variable(msp, "Bad-Name")
        assert answer.is_problem(400)
        assert "name" in answer.detail


class TestDeleteVariable:
    def test_answers_204_twice(self, api: Api, msp: str) -> None:
        """Delete answers 204, and 204 again once the variable is gone."""
        api.put_variable(msp, CHOOSE, {"value": "1"})
        first, second = api.delete_variable(msp, CHOOSE), api.delete_variable(msp, CHOOSE)
        assert (first.status, first.text) == (204, "")
        assert (second.status, second.text) == (204, "")
        assert api.get_variable(msp, CHOOSE).is_problem(404)

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404 problem."""
        assert api.delete_variable(new_id("nobody"), CHOOSE).is_problem(404)

    def test_answers_400_for_a_malformed_name(self, api: Api, msp: str) -> None:
        """A malformed name: 400 naming name."""
        answer = api.delete_variable(msp, "Bad Name")
        assert answer.is_problem(400)
        assert "name" in answer.detail


class TestListVariables:
    def test_lists_the_orgs_own_variables(self, api: Api, msp: str) -> None:
        """Without effective: the org's own variables, sorted by name."""
        api.put_variable(msp, CHOOSE, {"value": "1", "cascade": True})
        api.put_variable(msp, CAP, {"value": "3"})
        answer = api.list_variables(msp)
        assert answer.status == 200
        assert answer.json == [
            {"org_id": msp, "name": CHOOSE, "value": "1", "cascade": True},
            {"org_id": msp, "name": CAP, "value": "3", "cascade": False},
        ]

    def test_lists_every_variable_that_applies_with_its_source(
        self, api: Api, msp: str, new_id: Callable[[str], str]
    ) -> None:
        """effective=true: own values, else the nearest cascading ancestor's, with the source."""
        reseller = new_id("northwind-east")
        customer = new_id("contoso")
        api.put_org(reseller, {"name": "Northwind East", "parent_id": msp})
        api.put_org(customer, {"name": "Contoso Ltd", "parent_id": reseller})
        api.put_variable(msp, CHOOSE, {"value": "1", "cascade": True})
        api.put_variable(msp, CAP, {"value": "5", "cascade": True})
        api.put_variable(msp, "licencing_dry_run", {"value": "1"})
        api.put_variable(reseller, CAP, {"value": "2", "cascade": True})
        api.put_variable(customer, "licencing_usage_location", {"value": "GB"})
        answer = api.list_variables(customer, {"effective": "true"})
        assert answer.status == 200
        assert answer.json == [
            {"name": CHOOSE, "value": "1", "source_org_id": msp},
            {"name": CAP, "value": "2", "source_org_id": reseller},
            {"name": "licencing_usage_location", "value": "GB", "source_org_id": customer},
        ]

    def test_lists_nothing_when_nothing_applies(self, api: Api, customer: str) -> None:
        """No variable in the tree: an empty list."""
        assert api.list_variables(customer, {"effective": "true"}).json == []

    def test_answers_404_for_an_unknown_org(self, api: Api, new_id: Callable[[str], str]) -> None:
        """An unknown org: 404, with or without effective."""
        org_id = new_id("nobody")
        assert api.list_variables(org_id).is_problem(404)
        assert api.list_variables(org_id, {"effective": "true"}).is_problem(404)

    def test_answers_400_for_a_malformed_effective_flag(self, api: Api, msp: str) -> None:
        """effective=maybe: 400 naming effective."""
        answer = api.list_variables(msp, {"effective": "maybe"})
        assert answer.is_problem(400)
        assert "effective" in answer.detail
