"""Hypothesis strategies for the domain core."""

from __future__ import annotations

from hypothesis import strategies as st

from thinkgate.domain.thinking import ClearHistory, RecordThought

small_int = st.integers(min_value=-1, max_value=12)
maybe_small = st.none() | st.integers(min_value=-1, max_value=12)
texts = st.text(max_size=60)
branch_ids = st.none() | st.sampled_from(["a", "b", "alt", ""]) | st.text(min_size=1, max_size=8)
request_ids = st.none() | st.sampled_from(["r1", "r2", "r3"])

record_thoughts = st.builds(
    RecordThought,
    thought=texts,
    thought_number=small_int,
    total_thoughts=small_int,
    next_thought_needed=st.booleans(),
    is_revision=st.none() | st.booleans(),
    revises_thought=maybe_small,
    branch_from_thought=maybe_small,
    branch_id=branch_ids,
    needs_more_thoughts=st.none() | st.booleans(),
    request_id=request_ids,
)
commands = st.one_of(record_thoughts, record_thoughts, record_thoughts, st.builds(ClearHistory, request_id=request_ids))
