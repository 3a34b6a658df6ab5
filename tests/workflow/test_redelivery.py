"""At-least-once delivery: every message handled again and again still buys one seat per hire."""

from __future__ import annotations

import pytest

from tests.workflow.conftest import World
from tests.workflow.world import E3, SPB, SPB_ANNUAL, Sku


class TestRedelivery:
    @pytest.mark.parametrize("deliveries", [1, 2, 3, 4, 5])
    def test_buys_exactly_one_seat_per_hire_and_licence(
        self, world: World, deliveries: int
    ) -> None:
        """Each message handled 1 to 5 times: one seat per (event, sku), one result each."""
        world.stellr.provisioning_delay = 30
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event("hire-2026-000123", licenses=[
            {"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}, {"sku_id": E3},
        ]))
        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))

        world.run(redeliver=deliveries)

        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.stellr.quantity(SPB_ANNUAL) == 14
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]
        assert world.graph.skus[SPB].consumed == 14
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]
        assert world.graph.skus[E3].consumed == 23
        assert world.state("hire-2026-000123") == "purchased_and_assigned"
        assert world.state("hire-2026-000123", E3) == "assigned"
        assert world.state("hire-2026-000124") == "purchased_and_assigned"
        for event_id in ("hire-2026-000123", "hire-2026-000124"):
            [result] = world.queues.results(event_id)
            assert result["status"] == "completed"
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 2
        assert world.errors == []

    def test_a_second_copy_of_a_finished_event_buys_nothing(self, world: World) -> None:
        """The same event sent again a day later is answered from the ledger."""
        world.queues.put_event(world.event())
        world.run()
        world.clock.advance(86_400)
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert len(world.queues.results("hire-2026-000123")) == 1

    def test_an_event_id_reused_for_another_hire_is_not_acted_on(self, world: World) -> None:
        """A second body under a known event_id does not buy a seat for someone else."""
        world.graph.add_user("other.hire@contoso.com")
        world.queues.put_event(world.event())
        world.run()
        world.queues.put_event(world.event(user="other.hire@contoso.com"))
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
