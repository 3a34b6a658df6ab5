"""The workflow's main paths, asserting what was bought and assigned."""

from __future__ import annotations

from tests.workflow.conftest import World
from tests.workflow.world import E3, SPB, SPB_ANNUAL, Sku


class TestOnboardingWorkflow:
    def test_assigns_a_free_seat_without_buying(self, world: World) -> None:
        """A free seat is assigned and nothing is bought."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.queues.put_event(world.event(licenses=[{"sku_id": E3}]))
        world.run()
        assert world.state("hire-2026-000123", E3) == "assigned"
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]
        assert world.stellr.changes == []
        [result] = world.queues.results()
        assert result["status"] == "completed"

    def test_buys_one_seat_when_none_is_free(self, world: World) -> None:
        """No free seat: the chosen subscription goes up by one and the seat is assigned."""
        world.stellr.provisioning_delay = 90
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 13
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.state("hire-2026-000123") == "purchased_and_assigned"
        [result] = world.queues.results()
        assert result["licenses"][0]["state"] == "purchased_and_assigned"
        assert result["licenses"][0]["quantity_before"] == 12
        assert result["licenses"][0]["quantity_target"] == 13
