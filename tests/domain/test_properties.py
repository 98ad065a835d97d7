"""Properties of the pure core: replay is exact, failures change nothing, the chain catches tampering."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import commands

from thinkgate.domain.chain import GENESIS_HASH, verify_chain
from thinkgate.domain.events import Event, event_from_payload
from thinkgate.domain.state import SessionState, apply, replay
from thinkgate.domain.thinking import Limits, decide
from thinkgate.errors import ThinkGateError
from thinkgate.store.base import NewEvent, StoredEvent, chain_events

LIMITS = Limits(max_thought_bytes=40, max_thoughts_per_session=15)


def run(cmds: list) -> tuple[SessionState | None, list[Event], int]:  # type: ignore[type-arg]
    state: SessionState | None = None
    events: list[Event] = []
    failures = 0
    for i, cmd in enumerate(cmds):
        before = state.to_snapshot() if state else None
        try:
            decision = decide(state, cmd, session_id="s1", now=f"t{i}", limits=LIMITS)
        except ThinkGateError:
            failures += 1
            assert (state.to_snapshot() if state else None) == before
            continue
        for event in decision.events:
            state = apply(state, event)
            events.append(event)
    return state, events, failures


@settings(max_examples=300, deadline=None)
@given(st.lists(commands, max_size=40))
def test_replaying_the_events_rebuilds_the_same_state(cmds: list) -> None:  # type: ignore[type-arg]
    state, events, _ = run(cmds)
    rebuilt = replay(events)
    assert (rebuilt.to_snapshot() if rebuilt else None) == (state.to_snapshot() if state else None)


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, max_size=40))
def test_events_round_trip_through_their_stored_payload(cmds: list) -> None:  # type: ignore[type-arg]
    state, events, _ = run(cmds)
    stored = chain_events("s1", GENESIS_HASH, 1, [NewEvent(e.TYPE, e.to_payload(), "t") for e in events])
    decoded = [event_from_payload(s.type, s.data()) for s in stored]
    assert decoded == events
    rebuilt = replay(decoded)
    assert (rebuilt.to_snapshot() if rebuilt else None) == (state.to_snapshot() if state else None)


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, max_size=40))
def test_a_snapshot_restores_the_state_exactly(cmds: list) -> None:  # type: ignore[type-arg]
    state, _, _ = run(cmds)
    if state is not None:
        assert SessionState.from_snapshot(state.to_snapshot()) == state


def _chain(n: int) -> list[StoredEvent]:
    events = [
        NewEvent("thought_recorded", {"n": i, "text": f"thought {i}"}, f"2026-01-01T00:00:0{i % 10}Z") for i in range(n)
    ]
    return chain_events("s1", GENESIS_HASH, 1, events)


@given(st.integers(min_value=1, max_value=12), st.data())
def test_the_chain_detects_any_single_edit(n: int, data: st.DataObject) -> None:
    rows = _chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(st.sampled_from(["payload", "type", "recorded_at", "prev_hash", "hash"]))
    row = rows[i]
    if field == "payload":
        new_value: object = row.payload.replace(b"thought", b"th0ught")
    elif field in ("prev_hash", "hash"):
        old = getattr(row, field)
        new_value = ("1" if old[0] != "1" else "2") + old[1:]
    else:
        new_value = getattr(row, field) + "x"
    rows[i] = dataclasses.replace(row, **{field: new_value})
    head = _chain(n)[-1]
    brk = verify_chain("s1", rows, head.version, head.hash)
    assert brk is not None
    assert brk.version <= i + 2  # the edited event, or the next one whose prev_hash no longer matches


@given(st.integers(min_value=1, max_value=12), st.data())
def test_the_chain_detects_any_single_deletion(n: int, data: st.DataObject) -> None:
    rows = _chain(n)
    head = rows[-1]
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    del rows[i]
    brk = verify_chain("s1", rows, head.version, head.hash)
    assert brk is not None
    assert brk.version == i + 1


@given(st.integers(min_value=2, max_value=12), st.data())
def test_the_chain_detects_any_reordering(n: int, data: st.DataObject) -> None:
    rows = _chain(n)
    head = rows[-1]
    i = data.draw(st.integers(min_value=0, max_value=n - 2))
    j = data.draw(st.integers(min_value=i + 1, max_value=n - 1))
    # Swap the contents of two positions, keeping the version numbers in order.
    a, b = rows[i], rows[j]
    rows[i] = dataclasses.replace(b, version=a.version)
    rows[j] = dataclasses.replace(a, version=b.version)
    assert verify_chain("s1", rows, head.version, head.hash) is not None


def test_an_intact_chain_verifies() -> None:
    rows = _chain(5)
    assert verify_chain("s1", rows, 5, rows[-1].hash) is None


@pytest.mark.parametrize("bad", ["unknown_type"])
def test_unknown_event_types_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_payload(bad, {})
