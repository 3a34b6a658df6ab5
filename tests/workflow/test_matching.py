"""The purchase-time guard: a subscription whose product is known to differ is not bought."""

from __future__ import annotations

from tests.workflow.conftest import World
from tests.workflow.world import CUSTOMER_NO, SPB, SPB_ANNUAL

EXCHANGE = "411837_1"


def _choose(world: World, subscription_id: str, product: str) -> None:
    world.stellr.add_subscription(subscription_id, quantity=4, sku_id=None, product=product,
                                  customer_no=CUSTOMER_NO)
    world.queues.put_event(world.event(
        licenses=[{"sku_id": SPB, "synnex_subscription_id": subscription_id}]))


class TestSubscriptionGuard:
    def test_an_exchange_subscription_for_business_premium_ends_mismatched_unbought(
        self, world: World
    ) -> None:
        """Exchange chosen for a Business Premium hire: subscription_mismatch, no change."""
        _choose(world, EXCHANGE, "Exchange Online (Plan 1) (NCE COM MTH)")
        world.run()
        found = world.ledger.find_license("hire-2026-000123", SPB)
        assert found is not None
        row = found[0]
        assert (row.state, row.reason) == ("failed", "subscription_mismatch")
        assert "Exchange Online (Plan 1)" in (row.detail or "")
        assert "Microsoft 365 Business Premium" in (row.detail or "")
        assert world.stellr.changes == []
        assert world.ledger.purchases_on("contoso", world.clock.now().date().isoformat()) == 0

    def test_the_variable_lifts_the_guard(self, world: World) -> None:
        """licencing_allow_unmatched_subscription = 1: bought through it as chosen."""
        world.set_variable("northwind", "licencing_allow_unmatched_subscription", "1",
                           cascade=True)
        _choose(world, EXCHANGE, "Exchange Online (Plan 1) (NCE COM MTH)")
        world.run(until=world.clock.now())
        assert world.stellr.changes == [(EXCHANGE, 5)]

    def test_a_product_the_table_does_not_know_is_bought_and_noted(self, world: World) -> None:
        """An unknown product name is allowed, and the licence's history says so."""
        _choose(world, "411842_1", "Contoso Pilot Bundle (NCE Annual)")
        world.run(until=world.clock.now())
        assert world.stellr.changes == [("411842_1", 5)]
        found = world.ledger.find_license("hire-2026-000123", SPB)
        assert found is not None
        assert any("names no known Microsoft product" in (line.detail or "")
                   for line in found[0].history)

    def test_a_decorated_name_of_the_same_product_is_bought(self, world: World) -> None:
        """`M365 Business Premium - Annual` is Business Premium: bought."""
        _choose(world, "411839_1", "M365 Business Premium - Annual")
        world.run(until=world.clock.now())
        assert world.stellr.changes == [("411839_1", 5)]
        assert SPB_ANNUAL not in [sub for sub, _ in world.stellr.changes]
