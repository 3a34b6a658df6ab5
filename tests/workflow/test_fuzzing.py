"""Whatever lands on `onboarding-events`: recorded as invalid_event or run, never a crash or a
purchase from a message that is not a valid event."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.core.workflow import InvalidEvent, OnboardingEvent, parse_event
from tests.workflow.conftest import World
from tests.workflow.world import E3, SPB_ANNUAL, Sku

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELDS = ["event_id", "org_id", "user", "usage_location", "licenses", "attempt"]
ODD_TEXT = st.sampled_from([
    "", " ", "x" * 129, "hire/2026", "hire#1", "hire?", "50%", "a\u0000b", "\u2028", "US", "usa",
    "u", "user@", "@contoso.com", "a@b.c", "new.hire@contoso.com", "NEW.HIRE@CONTOSO.COM",
    "CBDC14AB-D96C-4C30-B9F4-6ADA7CDC1D46", "not-a-guid", "northwind", "contoso",
    "fabrikam", "🙂" * 3, "null", "0", "-1", "1e9",
])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30) | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=10,
)
EVENT_LIKE = st.fixed_dictionaries({}, optional={name: JSON_VALUES for name in FIELDS})
MUTATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(FIELDS), st.none()),
        st.tuples(st.just("set"), st.sampled_from(FIELDS), JSON_VALUES),
        st.tuples(st.just("license"),
                  st.sampled_from(["sku_id", "synnex_subscription_id", "drop_sku", "extra"]),
                  JSON_VALUES),
        st.tuples(st.just("licenses"), st.sampled_from(["none", "six", "twice"]), st.none()),
    ),
    min_size=1, max_size=3,
)


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


class Fuzzer:
    """Feeds bodies to one workflow and checks each one's outcome in the ledger."""

    def __init__(self, world: World) -> None:
        world.graph.skus[E3] = Sku(enabled=100_000, consumed=0)
        self.world = world
        self.flow = world.workflow()
        self.count = 0
        self.seen: set[str] = set()

    def valid_event(self) -> dict[str, Any]:
        return self.world.event(f"hire-fuzz-{self.count:05d}", licenses=[
            {"sku_id": E3, "synnex_subscription_id": SPB_ANNUAL}])

    def feed(self, body: str | bytes) -> None:
        """Handle `body` once; assert it was recorded as invalid, or taken as an event."""
        world = self.world
        self.count += 1
        message_id = f"fuzz-{self.count:05d}"
        try:
            parsed: OnboardingEvent | InvalidEvent = parse_event(body)
        except InvalidEvent as exc:
            parsed = exc
        changes, graph_calls = len(world.stellr.changes), len(world.graph.calls)

        self.flow.handle_event(body, message_id=message_id)

        assert len(world.stellr.changes) == changes, "bought from a fuzzed message"
        if isinstance(parsed, InvalidEvent):
            key = parsed.event_id or f"invalid-{message_id}"
            found = world.ledger.find_event(key)
            assert found is not None, f"invalid event not recorded under {key!r}"
            record = found[0]
            if key not in self.seen:
                assert (record.status, record.reason, record.field) == (
                    "failed", "invalid_event", parsed.field)
                assert record.field
                [result] = world.queues.results(key)
                assert result["reason"] == "invalid_event"
            assert len(world.graph.calls) == graph_calls
            assert world.queues.pending() == 0, "an invalid event was retried"
        else:
            key = parsed.event_id
            found = world.ledger.find_event(key)
            assert found is not None
            if key not in self.seen:
                assert found[0].request == parsed.request_key()
        self.seen.add(key)
        world.queues.discard_pending()


@pytest.fixture
def fuzzer(world: World) -> Fuzzer:
    """One per test, kept across hypothesis examples: ids stay unique in the shared ledger."""
    return Fuzzer(world)


class TestEventMessageBodies:
    @FUZZ
    @given(body=st.one_of(EVENT_LIKE, JSON_VALUES).map(json.dumps))
    @example(body='{"event_id": "\\ud800", "org_id": "contoso"}')
    @example(body='{"event_id": "hire-\\u0000", "licenses": []}')
    @example(body='{"event_id": "hire-2026-9", "licenses": "' + "[" * 5000 + '"}')
    @example(body="[" * 10_000)
    def test_any_json_is_recorded_as_invalid_or_run(self, fuzzer: Fuzzer, body: str) -> None:
        """JSON of any shape: invalid_event with its field, never an exception or a buy."""
        fuzzer.feed(body)

    @FUZZ
    @given(body=st.binary(max_size=300))
    @example(body=b"\xff\xfe{}")
    @example(body=b"")
    def test_any_bytes_are_recorded_as_invalid_or_run(self, fuzzer: Fuzzer, body: bytes) -> None:
        """Random bytes: recorded as invalid_event (body), never an exception."""
        fuzzer.feed(body)

    @FUZZ
    @given(payload=st.one_of(
        st.just("valid"), JSON_VALUES.map(json.dumps), st.binary(max_size=80)),
        padding=st.sampled_from(["", "\n", "  "]))
    def test_base64_bodies_are_decoded_or_recorded_as_invalid(
        self, fuzzer: Fuzzer, payload: Any, padding: str
    ) -> None:
        """Base64 of a valid event runs it; base64 of anything else is invalid_event."""
        if payload == "valid":
            payload = json.dumps(fuzzer.valid_event())
        fuzzer.feed(_b64(payload) + padding)

    @FUZZ
    @given(mutations=MUTATIONS, encode=st.booleans())
    def test_valid_events_with_mutated_fields_are_recorded_or_run(
        self, fuzzer: Fuzzer, mutations: list[tuple[str, str, Any]], encode: bool
    ) -> None:
        """A good event with fields dropped or replaced: run if still valid, else invalid."""
        event = fuzzer.valid_event()
        for kind, name, value in mutations:
            license_ = event["licenses"][0] if isinstance(event.get("licenses"), list) and (
                event["licenses"] and isinstance(event["licenses"][0], dict)) else None
            if kind == "drop":
                event.pop(name, None)
            elif kind == "set":
                event[name] = value
            elif kind == "license" and license_ is not None:
                if name == "drop_sku":
                    license_.pop("sku_id", None)
                else:
                    license_[name] = value
            elif kind == "licenses":
                item = {"sku_id": E3}
                event["licenses"] = {"none": [], "six": [item] * 6, "twice": [item, item]}[name]
        body = json.dumps(event)
        fuzzer.feed(_b64(body) if encode else body)

    def test_one_workflow_takes_many_bodies_in_a_row(self, world: World, fuzzer: Fuzzer) -> None:
        """Invalid and valid bodies interleaved on one workflow: each handled on its own."""
        for body in ["", "{}", "[]", "null", _b64("{}"), "not json", '{"event_id": 7}']:
            fuzzer.feed(body)
        fuzzer.feed(json.dumps(fuzzer.valid_event()))
        fuzzer.feed(_b64(json.dumps(fuzzer.valid_event())))
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]
        assert world.stellr.changes == []
