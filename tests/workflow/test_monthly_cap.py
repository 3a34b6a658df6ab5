"""`licencing_max_seats_per_month`: reserved with the day's cap, given back alike."""

from __future__ import annotations

import threading

from shared.errors import UpstreamRejected
from tests.workflow.conftest import World
from tests.workflow.faults import FailOnce
from tests.workflow.world import SPB, SPB_ANNUAL

EVENT = "hire-2026-000123"


def _hire(world: World, n: int) -> str:
    event_id = f"hire-2026-00020{n}"
    user = f"hire{n}@contoso.com"
    world.graph.add_user(user)
    world.queues.put_event(world.event(event_id, user=user))
    world.run()
    return event_id


class TestMonthlyCap:
    def test_refuses_past_the_months_cap_on_a_later_day(self, world: World) -> None:
        """Month cap 2, day cap 5: the third hire of the month, a day later, is refused."""
        world.set_variable("contoso", "licencing_max_seats_per_month", "2")
        first, second = _hire(world, 1), _hire(world, 2)
        world.clock.advance(24 * 3600)
        third = _hire(world, 3)
        assert [world.state(e) for e in (first, second)] == ["purchased_and_assigned"] * 2
        assert (world.state(third), world.reason(third)) == ("failed", "cap_reached")
        found = world.ledger.find_license(third, SPB)
        assert found is not None
        assert "licencing_max_seats_per_month" in (found[0].detail or "")
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.ledger.purchases_in_month("contoso", "2026-11") == 2

    def test_names_the_days_cap_when_that_one_is_reached(self, world: World) -> None:
        """Day cap 1, month cap 10: the detail names the day's cap."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "1")
        world.set_variable("contoso", "licencing_max_seats_per_month", "10")
        _hire(world, 1)
        second = _hire(world, 2)
        found = world.ledger.find_license(second, SPB)
        assert found is not None
        assert found[0].reason == "cap_reached"
        assert "licencing_max_seats_per_day" in (found[0].detail or "")

    def test_counts_per_utc_month(self, world: World) -> None:
        """Month cap 1: a hire in the next month buys again."""
        world.set_variable("contoso", "licencing_max_seats_per_month", "1")
        _hire(world, 1)
        world.clock.advance(5 * 24 * 3600)  # 2 December
        second = _hire(world, 2)
        assert world.state(second) == "purchased_and_assigned"
        assert world.ledger.purchases_in_month("contoso", "2026-12") == 1

    def test_zero_forbids_buying_and_a_malformed_value_fails_closed(self, world: World) -> None:
        """0 or "ten": cap_reached, nothing bought."""
        for n, value in enumerate(("0", "ten"), start=1):
            world.set_variable("contoso", "licencing_max_seats_per_month", value)
            event_id = _hire(world, n)
            assert world.reason(event_id) == "cap_reached"
        assert world.stellr.changes == []

    def test_gives_the_unit_back_when_the_purchase_fails(self, world: World) -> None:
        """Synnex refuses the change: both the day's and the month's units come back."""
        world.set_variable("contoso", "licencing_max_seats_per_month", "1")
        world.inject(stellr=FailOnce(world.stellr, "change_seats",
                                     error=UpstreamRejected("synnex", "400 not allowed")))
        first = _hire(world, 1)
        assert world.reason(first) == "synnex_error"
        assert world.ledger.purchases_in_month("contoso", "2026-11") == 0
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 0
        world.inject(stellr=world.stellr)
        second = _hire(world, 2)
        assert world.state(second) == "purchased_and_assigned"


class TestReservationsOnTableStorage:
    """The ledger's reservation transaction on Azurite."""

    def test_concurrent_buyers_never_exceed_the_months_cap(self, world: World) -> None:
        """20 threads, month cap 7 over several days: exactly 7 reserved."""
        ledger = world.ledger
        days = ["2026-11-03", "2026-11-04", "2026-11-05"]
        granted: list[bool] = []

        def reserve(n: int) -> None:
            granted.append(ledger.reserve_purchase("contoso", days[n % 3], f"e{n}/{SPB}", 5,
                                                   month_cap=7))

        threads = [threading.Thread(target=reserve, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert granted.count(True) == 7
        assert ledger.purchases_in_month("contoso", "2026-11") == 7
        assert sum(ledger.purchases_on("contoso", day) for day in days) == 7

    def test_reserving_is_idempotent_and_releasing_gives_both_units_back(
        self, world: World
    ) -> None:
        """The same key twice counts once; released, the day and the month go down."""
        ledger, key = world.ledger, f"{EVENT}/{SPB}"
        assert ledger.reserve_purchase("contoso", "2026-11-27", key, 5, month_cap=1)
        assert ledger.reserve_purchase("contoso", "2026-11-27", key, 5, month_cap=1)
        assert not ledger.reserve_purchase("contoso", "2026-11-28", "other/x", 5, month_cap=1)
        assert (ledger.purchases_on("contoso", "2026-11-27"),
                ledger.purchases_in_month("contoso", "2026-11")) == (1, 1)
        ledger.release_purchase("contoso", "2026-11-27", key)
        ledger.release_purchase("contoso", "2026-11-27", key)
        assert (ledger.purchases_on("contoso", "2026-11-27"),
                ledger.purchases_in_month("contoso", "2026-11")) == (0, 0)

    def test_keeps_one_partition_per_org_and_month(self, world: World) -> None:
        """A reservation, its day's count and the month's count share one partition."""
        world.ledger.reserve_purchase("contoso", "2026-11-27", f"{EVENT}/{SPB}", 5)
        rows = list(world.table("purchaseledger").list_entities())
        assert {row["PartitionKey"] for row in rows} == {"contoso:2026-11"}
        assert sorted(row["RowKey"] for row in rows) == [
            "count", "count:2026-11-27", f"r:2026-11-27:{EVENT}%2F{SPB}"]
