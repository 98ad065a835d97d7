"""The engine: runs commands against sessions and keeps their event logs.

Writes go through one writer at a time, in batches (group commit, ``execute_many``):
the calls of a batch are decided in order against their sessions' states, all their
events are appended with one ``append_many`` (one round trip on a network store, whatever
the number of sessions) in one store transaction, and only after it commits are the states
advanced and the results returned: nothing is acknowledged before the store has it.
Callers that arrive while a batch is being written join the next one. A version
conflict (another process wrote the session) reloads the session and decides again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from thinkgate.domain.chain import ChainBreak, verify_chain
from thinkgate.domain.deliberation import GRAPH_COMMANDS, Answer, GraphCommand, op_name, text_needs
from thinkgate.domain.events import (
    DeliberationStarted,
    Event,
    GraphUpdated,
    HistoryCleared,
    LedgerUpdated,
    OutcomeRecorded,
    ThoughtRecorded,
    event_from_payload,
)
from thinkgate.domain.governance import (
    GOVERNANCE_COMMANDS,
    GovernanceCommand,
    RunPipeline,
    governance_op,
    governance_text_needs,
)
from thinkgate.domain.ids import check_session_id
from thinkgate.domain.state import SessionState, apply, thought_id
from thinkgate.domain.thinking import CLEAR_DIGEST, ClearHistory, Command, Decision, Limits, RecordThought, decide
from thinkgate.engine.cache import StateCache
from thinkgate.errors import (
    IntegrityError,
    InternalError,
    InvalidInput,
    LimitExceeded,
    SessionNotFound,
    StoreError,
    ThinkGateError,
    VersionConflict,
)
from thinkgate.store.base import EventStore, NewEvent, SessionInfo, Snapshot, StoredEvent

__all__ = ["Engine", "EngineConfig", "HistoryPage", "SessionPage", "utc_now"]

log = logging.getLogger("thinkgate.engine")

SNAPSHOT_FORMAT = 7  # 2: request ids moved to the store's index; 3: numbers map to seqs; 4: markers;
# 5: numbers and seqs as parallel lists; 6: the thought graph (replaces markers); 7: the verification ledger
CONFLICT_RETRIES = 8
_COUNT_TTL = 10.0  # seconds a session count is reused for the session cap
MAX_PAGE = 500
_LOAD_BATCH = 2000


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with milliseconds (``2026-11-26T09:47:05.123Z``).

    Formats the date and time once per second (``datetime.isoformat`` costs ~3 µs a call
    on the write path; this ~0.4 µs).
    """
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[0], _second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second[1]}.{int((now - second) * 1000):03d}Z"


def new_session_id() -> str:
    """An unguessable, path-safe session id (128 random bits)."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine tuning; every value has a safe default."""

    limits: Limits = Limits()
    max_sessions: int = 100_000
    cache_max_sessions: int = 2048
    cache_max_bytes: int = 16 * 1024 * 1024
    snapshot_every: int = 256
    # Evidence checks (verify_thoughts): roots when the client offers none (None: the working
    # directory), programs a ``command`` item may run, and how long one may run.
    evidence_roots: tuple[str, ...] | None = None
    evidence_commands: frozenset[str] = frozenset()
    evidence_timeout: float = 30.0


@dataclass(slots=True)
class _Call:
    """One command in a write batch, and what became of it."""

    session_id: str
    command: Command
    outcome: Event | Answer | ThinkGateError | None = None
    pending: bool = False  # its events wait for the batch's commit


@dataclass(slots=True)
class _Plan:
    """A session's decided calls: the events to append at its version, and the state they lead to."""

    session_id: str
    expected: int
    state: SessionState
    events: list[NewEvent]


def _unwrap(outcome: Event | Answer | ThinkGateError) -> Event:
    if isinstance(outcome, ThinkGateError):
        raise outcome
    if isinstance(outcome, Answer):
        raise InternalError("a write answered without an event")
    return outcome


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of sessions."""

    sessions: list[SessionInfo]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a session's thought history."""

    session_id: str
    thoughts: list[dict[str, Any]]
    next_cursor: str | None


class Engine:
    """Executes commands on sessions stored in an ``EventStore``."""

    def __init__(
        self,
        store: EventStore,
        config: EngineConfig | None = None,
        *,
        clock: Callable[[], str] = utc_now,
        id_factory: Callable[[], str] = new_session_id,
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.clock = clock
        self.id_factory = id_factory
        self.cache = StateCache(self.config.cache_max_sessions, self.config.cache_max_bytes)
        self._writing = False  # a write batch is running
        self._queue: list[tuple[list[_Call], asyncio.Future[None]]] = []  # batches waiting for it
        self._drainer: asyncio.Future[None] | None = None
        self._writer_idle = asyncio.Event()  # set while no batch (or delete) is being written
        self._writer_idle.set()
        self._counted: tuple[int, float] | None = None  # sessions in the store, and when counted
        self._created = 0  # sessions this engine created since that count
        # Fitted calibration maps by governance profile (refreshed by engine.governance).
        self.calibrations: dict[str, Any] = {}
        self.calibrated_at: float | None = None  # time.monotonic() of their last fit

    async def start(self) -> None:
        await self.store.open()

    async def stop(self) -> None:
        await self.store.close()

    def new_session_id(self) -> str:
        return self.id_factory()

    # -- commands -----------------------------------------------------------------------------

    async def record_thought(self, session_id: str, command: RecordThought) -> dict[str, Any]:
        """Record one thought; returns the structured result (the first one again for a retried request)."""
        event = _unwrap((await self.execute_many([(check_session_id(session_id), command)]))[0])
        if not isinstance(event, ThoughtRecorded):
            raise InvalidInput(f"requestId {command.request_id!r} was used for a different kind of call")
        return dict(event.result)

    async def clear_history(self, session_id: str, request_id: str | None = None) -> dict[str, Any]:
        """Start a session's history afresh; returns how many thoughts were cleared."""
        check_session_id(session_id)
        if await self.load(session_id) is None:
            raise SessionNotFound(f"no session {session_id!r}")
        event = _unwrap((await self.execute_many([(session_id, ClearHistory(request_id=request_id))]))[0])
        if not isinstance(event, HistoryCleared):
            raise InvalidInput(f"requestId {request_id!r} was used for a different kind of call")
        return {"sessionId": session_id, "cleared": event.cleared}

    async def graph_command(self, session_id: str, command: GraphCommand) -> dict[str, Any]:
        """Run one deliberation command; its result (the first one again for a retried request)."""
        outcome = (await self.execute_many([(check_session_id(session_id), command)]))[0]
        if isinstance(outcome, ThinkGateError):
            raise outcome
        if isinstance(outcome, Answer):
            return dict(outcome.result)
        if isinstance(outcome, DeliberationStarted if op_name(command) == "start_deliberation" else GraphUpdated) and (
            not isinstance(outcome, GraphUpdated) or outcome.op == op_name(command)
        ):
            return dict(outcome.result)
        raise InvalidInput(f"requestId {command.request_id!r} was used for a different kind of call")

    async def governance_command(self, session_id: str, command: GovernanceCommand) -> dict[str, Any]:
        """Run one verification or governance command; its result (the first one again for a retry)."""
        outcome = (await self.execute_many([(check_session_id(session_id), command)]))[0]
        if isinstance(outcome, ThinkGateError):
            raise outcome
        if isinstance(outcome, Answer):
            return dict(outcome.result)
        op = governance_op(command)
        if (isinstance(outcome, LedgerUpdated) and outcome.op == op) or (
            isinstance(outcome, OutcomeRecorded) and op == "record_outcome"
        ):
            return dict(outcome.result)
        raise InvalidInput(f"requestId {command.request_id!r} was used for a different kind of call")

    async def outcomes(self) -> list[dict[str, Any]]:
        """Every recorded outcome of every session (for calibration), oldest session first."""
        from thinkgate.engine.governance import outcomes

        return await outcomes(self)

    async def graph_view(self, session_id: str) -> dict[str, Any]:
        """The session's thought graph (nodes with texts, edges, frontier) as JSON-safe data."""
        from thinkgate.engine.graphview import graph_view

        return await graph_view(self, check_session_id(session_id))

    async def frontier_view(self, session_id: str) -> dict[str, Any]:
        """The session's frontier nodes with their texts."""
        from thinkgate.engine.graphview import frontier_view

        return await frontier_view(self, check_session_id(session_id))

    async def node_texts(self, session_id: str, state: SessionState, ids: Sequence[str]) -> dict[str, str]:
        """The stored texts of the nodes ``ids`` (those that exist), read by the events that created them."""
        return await self._node_texts(session_id, state, ids, {})

    async def _node_texts(
        self, session_id: str, state: SessionState | None, ids: Sequence[str], batch_texts: dict[str, str]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        if state is None:
            return out
        by_version: dict[int, list[str]] = {}
        for nid in ids:
            if nid in batch_texts:
                out[nid] = batch_texts[nid]
                continue
            node = state.graph.nodes.get(nid)
            if node is not None:
                by_version.setdefault(node.version, []).append(nid)
        versions = sorted(by_version)
        i = 0
        while i < len(versions):
            # One read per run of nearby versions (profile lesson: one read per node was ~40% of
            # scoring a 1,000-node frontier); a gap of up to 8 events is read through.
            j = i
            while j + 1 < len(versions) and versions[j + 1] - versions[j] <= 8:
                j += 1
            first, last = versions[i], versions[j]
            rows = await self.store.read(session_id, first, limit=last - first + 1)
            found = {row.version: row for row in rows}
            for version in versions[i : j + 1]:
                row = found.get(version)
                if row is None:
                    raise IntegrityError(f"session {session_id!r} has no event {version}")
                out.update(_texts_in(row.type, row.data(), by_version[version]))
            i = j + 1
        return out

    async def execute_many(self, calls: Sequence[tuple[str, Command]]) -> list[Event | Answer | ThinkGateError]:
        """Run commands with one group commit; per call, the event that answers it or the error.

        Calls on one session are decided in order, each against the state its predecessors
        left. Every call's events are written in one store transaction, and nothing is
        returned before it has committed. A call that fails validation writes nothing and
        does not disturb the others; if the store fails, every call that would have written
        gets that error and nothing is kept. Session ids must already be checked.

        Callers arriving while a batch is being written (only possible on a store that
        suspends, such as a network database) are merged into the next batch.
        """
        batch = [_Call(sid, cmd) for sid, cmd in calls]
        if self._writing:
            done = asyncio.get_running_loop().create_future()
            self._queue.append((batch, done))
            await asyncio.shield(done)
        else:
            self._take_writer()
            try:
                await self._write(batch)
            finally:
                self._release_writer()
        return [c.outcome if c.outcome is not None else InternalError("the call was not run") for c in batch]

    def _take_writer(self) -> None:
        self._writing = True
        self._writer_idle.clear()

    def _release_writer(self) -> None:
        if self._queue:
            # Hand the writer role to a task that writes what queued up meanwhile;
            # `_writing` stays set until it is done, so batches never overlap.
            self._drainer = asyncio.ensure_future(self._drain())
        else:
            self._writing = False
            self._writer_idle.set()

    async def _drain(self) -> None:
        """Write the batches that queued up behind a running one, merged (holding the writer role)."""
        try:
            while self._queue:
                waiting, self._queue = self._queue, []
                merged = [c for batch, _ in waiting for c in batch]
                try:
                    await self._write(merged)
                except BaseException as exc:
                    for _, done in waiting:
                        if not done.done():
                            done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for _, done in waiting:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._writing = False
            self._writer_idle.set()

    async def _write(self, calls: list[_Call]) -> None:
        by_session: dict[str, list[_Call]] = {}
        for call in calls:
            by_session.setdefault(call.session_id, []).append(call)
        staged: list[SessionState] = []
        try:
            async with self.store.write_batch(by_session.keys()):
                staged = await self._write_sessions(by_session)
        except ThinkGateError as exc:
            # Nothing of the batch was kept; our cached states may be ahead of the store.
            for session_id in by_session:
                self.cache.drop(session_id)
            for call in calls:
                if call.pending or call.outcome is None:
                    call.outcome, call.pending = exc, False
            return
        except BaseException:
            # Committed or not (a failed COMMIT, a cancellation): reload from the store next time.
            for session_id in by_session:
                self.cache.drop(session_id)
            raise
        # Only now is the batch committed: the cache must never run ahead of the store.
        for state in staged:
            self.cache.put(state)
        for call in calls:
            call.pending = False

    async def _write_sessions(self, by_session: dict[str, list[_Call]]) -> list[SessionState]:
        """Decide every session's calls, append all their events at once (``append_many``), snapshot.

        The new states of the sessions written. Inside the store's write batch no other process
        can write these sessions, so a conflict (our cached state was stale) is resolved by the
        first reload: only the sessions that conflicted are decided and appended again.
        """
        todo = by_session
        written: list[tuple[_Plan, str]] = []  # and the hash of its last stored event
        for _ in range(CONFLICT_RETRIES):
            plans: list[_Plan] = []
            for session_id, group in todo.items():
                plan = await self._decide(session_id, group)
                if plan is not None:
                    plans.append(plan)
            todo = {}
            if not plans:
                break
            results = await self.store.append_many([(p.session_id, p.expected, p.events) for p in plans])
            for plan, result in zip(plans, results, strict=True):
                if isinstance(result, VersionConflict):
                    # Another process wrote this session: forget what we knew and decide again.
                    self.cache.drop(plan.session_id)
                    todo[plan.session_id] = by_session[plan.session_id]
                else:
                    written.append((plan, result[-1].hash))
            if not todo:
                break
        for session_id, group in todo.items():  # still conflicting: these calls fail, the others go on
            exc = VersionConflict(
                f"session {session_id!r} is being written by other processes too fast; retry the call"
            )
            for call in group:
                call.outcome, call.pending = exc, False
        for plan, head_hash in written:
            state = plan.state
            step = self._snapshot_step(max(state.version, _state_size(state)))
            if state.version // step > plan.expected // step:
                await self._snapshot(state, head_hash)
        return [plan.state for plan, _ in written]

    async def _decide(self, session_id: str, group: list[_Call]) -> _Plan | None:
        """Decide a session's calls against its latest state; the events to append, if any.

        A call refused against a cached state is decided again if another process has written
        the session since: the refusal may rest on what that process added (a node, a claim, a
        decision). Accepted calls need no such check, because the append itself detects the
        conflict. This costs one indexed read, only when a call was refused.
        """
        plan = await self._decide_once(session_id, group)
        if not any(isinstance(call.outcome, ThinkGateError) for call in group):
            return plan
        cached = self.cache.get(session_id)
        info = await self.store.session(session_id)
        if info is None or (cached is not None and cached.version == info.version):
            return plan
        self.cache.drop(session_id)
        return await self._decide_once(session_id, group)

    async def _decide_once(self, session_id: str, group: list[_Call]) -> _Plan | None:
        """Decide a session's calls in order against its state; the events to append, if any.

        Each call's outcome is set; those whose events are in the plan are pending its commit.
        """
        base = await self._load(session_id)
        if base is None:
            try:
                await self._check_session_cap()
                self._created += 1  # an over-estimate if this batch fails: the next count corrects it
            except LimitExceeded as exc:
                for call in group:  # this session cannot be created; the batch's others go on
                    call.outcome, call.pending = exc, False
                return None
        state = base
        now = self.clock()
        new_events: list[NewEvent] = []
        staged: dict[int, Event] = {}  # version -> event written by this batch
        requests: dict[str, tuple[int, str]] = {}  # request ids used in this batch
        texts: dict[str, str] = {}  # thought id -> content, for thoughts of this batch
        for call in group:
            call.outcome, call.pending = None, False
            command = call.command
            rid = command.request_id
            seen = requests.get(rid) if rid is not None else None
            if seen is None and rid is not None and base is not None:
                seen = await self._seen(session_id, rid)
            revised = (
                await self._revised_text(session_id, state, command, texts)
                if type(command) is RecordThought and command.revises_thought is not None
                else None
            )
            needed = (
                await self._node_texts(session_id, state, text_needs(state, command), texts)  # type: ignore[arg-type]
                if type(command) in GRAPH_COMMANDS and seen is None
                else await self._node_texts(
                    session_id,
                    state,
                    governance_text_needs(state, command),  # type: ignore[arg-type]
                    texts,
                )
                if type(command) in GOVERNANCE_COMMANDS and seen is None
                else None
            )
            constraints = (
                await self._constraints(session_id, state) if type(command) is RunPipeline and seen is None else ()
            )
            try:
                decision: Decision = decide(
                    state,
                    command,
                    session_id=session_id,
                    now=now,
                    limits=self.config.limits,
                    seen=seen,
                    revised_text=revised,
                    texts=needed,
                    calibration=self.calibrations,
                    constraints=constraints,
                )
            except ThinkGateError as exc:
                call.outcome = exc  # rejected before anything was written (decide is pure)
                continue
            if decision.answer is not None:
                call.outcome = decision.answer
                continue
            if decision.replay_of is not None:
                if decision.replay_of in staged:
                    call.outcome, call.pending = staged[decision.replay_of], True
                else:
                    call.outcome = await self._event_at(session_id, decision.replay_of)
                continue
            for event in decision.events:
                state = apply(state, event)
                staged[state.version] = event
                if type(event) is ThoughtRecorded:
                    request_id = event.request_id
                    new_events.append(NewEvent(event.TYPE, event.to_payload(), now, request_id, event.thought_id))
                    texts[event.thought_id] = event.content
                    if request_id is not None:
                        requests[request_id] = (state.version, event.args_digest or "")
                    continue
                request_id = getattr(event, "request_id", None)
                new_events.append(NewEvent(event.TYPE, event.to_payload(), now, request_id, None))
                if isinstance(event, (GraphUpdated, DeliberationStarted)):
                    root = (event.root,) if isinstance(event, DeliberationStarted) else event.nodes
                    texts.update((str(n["id"]), str(n["content"])) for n in root)
                if request_id is not None:
                    fingerprint = CLEAR_DIGEST if type(event) is HistoryCleared else getattr(event, "args_digest", "")
                    requests[request_id] = (state.version, fingerprint or "")
            call.outcome, call.pending = decision.events[-1], True
        if not new_events:
            return None
        assert state is not None  # events were decided, so the session exists
        return _Plan(session_id, base.version if base is not None else 0, state, new_events)

    async def _constraints(self, session_id: str, state: SessionState | None) -> tuple[str, ...]:
        """The deliberation's constraints (kept in its ``deliberation_started`` event)."""
        deliberation = state.graph.deliberation if state is not None else None
        if state is None or deliberation is None:
            return ()
        root = state.graph.nodes.get(deliberation.root_id)
        if root is None:
            return ()
        rows = await self.store.read(session_id, root.version, limit=1)
        if not rows or rows[0].type != DeliberationStarted.TYPE:
            return ()
        return tuple(str(c) for c in rows[0].data().get("constraints", ()))

    async def _revised_text(
        self, session_id: str, state: SessionState | None, command: Command, batch_texts: dict[str, str]
    ) -> str | None:
        """The text of the thought a revision revises (for feedback), looked up by its id."""
        if state is None or not isinstance(command, RecordThought) or command.revises_thought is None:
            return None
        seq = state.numbers.get(command.revises_thought)
        if seq is None:
            return None
        revised = thought_id(seq)
        if revised in batch_texts:
            return batch_texts[revised]
        version = state.version_of(seq)
        if version is None:
            return None
        rows = await self.store.read(session_id, version, limit=1)
        if not rows or rows[0].type != ThoughtRecorded.TYPE:
            return None
        data = rows[0].data()
        return str(data["content"]) if data.get("thought_id") == revised else None

    async def _seen(self, session_id: str, request_id: str | None) -> tuple[int, str] | None:
        """The version and argument digest of the call that used ``request_id`` before, if any."""
        if request_id is None:
            return None
        row = await self.store.find_request(session_id, request_id)
        if row is None:
            return None
        if row.type == HistoryCleared.TYPE:
            return row.version, CLEAR_DIGEST
        return row.version, str(row.data().get("args_digest") or "")

    async def _check_session_cap(self) -> None:
        """Refuse a new session when the store holds ``max_sessions``.

        Counting is O(sessions) on every store, so the count is reused for up to
        ``_COUNT_TTL`` seconds, plus the sessions this engine created since, and taken afresh
        once that estimate reaches 90% of the cap. Other processes' new sessions show up at the
        next count: across replicas the cap is a soft limit, exact to within what they create
        in ``_COUNT_TTL`` seconds.
        """
        cap = self.config.max_sessions
        now = time.monotonic()
        if (
            self._counted is None
            or now - self._counted[1] > _COUNT_TTL
            or self._counted[0] + self._created >= 0.9 * cap
        ):
            self._counted = (await self.store.count_sessions(), now)
            self._created = 0
        if self._counted[0] + self._created >= cap:
            raise LimitExceeded(
                f"the store holds {self.config.max_sessions} sessions, the configured maximum; "
                "delete old sessions (thinkgate sessions delete) or raise THINKGATE_MAX_SESSIONS"
            )

    def _snapshot_step(self, size: int) -> int:
        # Snapshots every `snapshot_every` events, then every 1/8-1/4 of the session's size
        # (the larger of its event count and its state's entries): a snapshot costs O(state
        # size), so a fixed interval would make writes to a large session ever slower; this
        # keeps the cost per event constant (at most ~8 entries encoded per event) and the
        # replay after a snapshot at most 1/4 of the log. Profile lessons: at 1/16-1/8,
        # encoding snapshots was ~5% of a long session's writes; spaced by event count alone,
        # a 10,000-node graph built by a few large expansions paid a 20-40 ms snapshot every
        # 256 events (bench.graph).
        return max(self.config.snapshot_every, 1 << max(0, size.bit_length() - 3))

    async def _snapshot(self, state: SessionState, head_hash: str) -> None:
        blob = orjson.dumps({"format": SNAPSHOT_FORMAT, "hash": head_hash, "state": state.to_snapshot(canonical=False)})
        try:
            await self.store.save_snapshot(Snapshot(state.session_id, state.version, blob))
        except StoreError:
            # A snapshot is an optimisation: the events are already stored, so the call still succeeds.
            log.warning("could not save a snapshot of session %s", state.session_id, exc_info=True)

    async def _event_at(self, session_id: str, version: int) -> Event:
        rows = await self.store.read(session_id, version, limit=1)
        if not rows:
            raise IntegrityError(f"session {session_id!r} has no event {version}")
        return event_from_payload(rows[0].type, rows[0].data())

    # -- reads --------------------------------------------------------------------------------

    async def load(self, session_id: str) -> SessionState | None:
        """The session's state as this engine last saw it (cache, else snapshot + tail), or None.

        Writes need no fresher view: a stale state loses the optimistic-concurrency check
        and is reloaded. Reads that must see other processes' writes use ``current``.
        """
        check_session_id(session_id)
        return await self._load(session_id)

    async def _load(self, session_id: str) -> SessionState | None:
        state = self.cache.get(session_id)
        if state is not None:
            return state
        state, anchor = await self._from_snapshot(session_id)
        if state is not None:
            # Read from the snapshot's own version: its hash must match the one the snapshot
            # was taken at, or the snapshot belongs to an older incarnation of the session.
            rows = await self.store.read(session_id, state.version, limit=_LOAD_BATCH)
            if rows and rows[0].version == state.version and rows[0].hash == anchor:
                state = self._fold(state, rows[1:])
                if len(rows) == _LOAD_BATCH:
                    state = await self._replay(session_id, state, rows[-1].version + 1)
            else:
                log.warning("ignoring a snapshot of session %s that does not match its log", session_id)
                state = None
        if state is None:
            state = await self._replay(session_id, None, 1)
        if state is not None:
            self.cache.put(state)
        return state

    async def current(self, session_id: str) -> SessionState | None:
        """The session's state including writes by other processes sharing the store."""
        state = await self.load(session_id)
        info = await self.store.session(session_id)
        if info is None:
            self.cache.drop(session_id)
            return None
        if state is None or state.version != info.version:
            self.cache.drop(session_id)
            state = await self.load(session_id)
        return state

    async def _from_snapshot(self, session_id: str) -> tuple[SessionState | None, str]:
        """The latest snapshot's state and the hash of the event it was taken at."""
        snap = await self.store.load_snapshot(session_id)
        if snap is None:
            return None, ""
        try:
            data = orjson.loads(snap.state)
            if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
                raise ValueError("unknown snapshot format")
            state = SessionState.from_snapshot(data["state"])
            anchor = data["hash"]
            if state.session_id != session_id or state.version != snap.version or not isinstance(anchor, str):
                raise ValueError("snapshot does not describe this session at its version")
        except Exception:  # any undecodable snapshot is ignored: the events are the truth
            log.warning("ignoring an unreadable snapshot of session %s", session_id)
            return None, ""
        return state, anchor

    async def _replay(self, session_id: str, state: SessionState | None, start: int) -> SessionState | None:
        while True:
            rows = await self.store.read(session_id, start, limit=_LOAD_BATCH)
            state = self._fold(state, rows)
            if len(rows) < _LOAD_BATCH:
                return state
            start = rows[-1].version + 1

    @staticmethod
    def _fold(state: SessionState | None, rows: list[StoredEvent]) -> SessionState | None:
        for row in rows:
            state = apply(state, event_from_payload(row.type, row.data()))
        return state

    async def history(
        self, session_id: str, *, branch_id: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> HistoryPage:
        """A page of the session's thoughts since its last clear, oldest first."""
        state = await self.current(session_id)
        if state is None:
            raise SessionNotFound(f"no session {session_id!r}")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        start = state.history_start + 1
        if cursor is not None:
            if not (cursor.isascii() and cursor.isdigit() and 0 < len(cursor) <= 15):
                raise InvalidInput(f"cursor {cursor!r} is not one this server returned")
            start = max(start, int(cursor))
        out: list[dict[str, Any]] = []
        next_cursor: str | None = None
        while len(out) < limit:
            rows = await self.store.read(session_id, start, limit=limit * 2)
            for row in rows:
                if row.type == ThoughtRecorded.TYPE:
                    data = row.data()
                    if branch_id is None or data["branch_id"] == branch_id:
                        out.append(_thought_view(row, data))
                        if len(out) == limit:
                            next_cursor = str(row.version + 1) if row.version < state.version else None
                            break
            if len(out) == limit or len(rows) < limit * 2:
                break
            start = rows[-1].version + 1
        return HistoryPage(session_id, out, next_cursor)

    async def all_thoughts(self, session_id: str) -> list[dict[str, Any]]:
        """Every thought of the session since its last clear, oldest first."""
        thoughts: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self.history(session_id, cursor=cursor, limit=MAX_PAGE)
            thoughts.extend(page.thoughts)
            cursor = page.next_cursor
            if cursor is None:
                return thoughts

    async def sessions(self, *, limit: int = 100, after: str | None = None) -> list[SessionInfo]:
        """Sessions in id order (stable paging for whole-store walks such as ``audit verify``)."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        return await self.store.list_sessions(limit=limit, after=after)

    async def recent(self, *, limit: int = 100, cursor: str | None = None) -> SessionPage:
        """A page of sessions, most recently updated first."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        before: tuple[str, str] | None = None
        if cursor is not None:
            updated, sep, sid = cursor.partition("|")
            if not sep or not updated or not sid:
                raise InvalidInput(f"cursor {cursor!r} is not one this server returned")
            before = (updated, sid)
        infos = await self.store.recent_sessions(limit=limit + 1, before=before)
        more = len(infos) > limit
        infos = infos[:limit]
        next_cursor = f"{infos[-1].updated_at}|{infos[-1].session_id}" if more else None
        return SessionPage(infos, next_cursor)

    async def events(self, session_id: str, *, upto: int | None = None) -> list[StoredEvent]:
        """The stored events of a session in order (up to version ``upto`` when given)."""
        check_session_id(session_id)
        out: list[StoredEvent] = []
        start = 1
        while upto is None or start <= upto:
            batch = 5000 if upto is None else min(5000, upto - start + 1)
            rows = await self.store.read(session_id, start, limit=batch)
            out.extend(rows)
            if len(rows) < batch:
                break
            start = rows[-1].version + 1
        return out

    async def verify(self, session_id: str) -> ChainBreak | None:
        """Recompute a session's hash chain and check its snapshot; None when both are intact.

        Events appended while it runs are outside the head it read first, so a live store
        verifies as intact.

        Raises:
            SessionNotFound: no such session (and no events under that id).
        """
        check_session_id(session_id)
        info = await self.store.session(session_id)
        if info is None:
            if await self.store.read(session_id, 1, limit=1):
                return ChainBreak(session_id, 1, "events exist but the session head is missing (deleted?)")
            raise SessionNotFound(f"no session {session_id!r}")
        rows = await self.events(session_id, upto=info.version)
        brk = verify_chain(session_id, rows, info.version, info.head_hash)
        return brk or await self._verify_snapshot(session_id, rows)

    async def _verify_snapshot(self, session_id: str, rows: list[StoredEvent]) -> ChainBreak | None:
        """A snapshot must equal the state the verified events give at its version."""
        snap = await self.store.load_snapshot(session_id)
        if snap is None or snap.version > len(rows):
            return None  # none yet, or taken after the head this audit read
        state, anchor = await self._from_snapshot(session_id)
        bad = ChainBreak(session_id, snap.version, f"the snapshot at version {snap.version} does not match the events")
        if state is None:
            # Unreadable snapshots are ignored when loading; only a current-format one is evidence.
            try:
                fmt = orjson.loads(snap.state).get("format")
            except (ValueError, AttributeError):
                fmt = None
            return bad if fmt == SNAPSHOT_FORMAT else None
        rebuilt = self._fold(None, rows[: snap.version])
        if anchor != rows[snap.version - 1].hash or rebuilt is None or rebuilt != state:
            return bad
        return None

    async def orphans(self) -> list[str]:
        """Ids with events but no session head: evidence of a deleted head."""
        return await self.store.orphan_sessions()

    async def expire_idle(self, idle_seconds: float, *, now: float | None = None, limit: int = 10_000) -> list[str]:
        """Delete the sessions nobody wrote to for ``idle_seconds`` (at most ``limit``); their ids.

        Each one is checked again and deleted while no writer (in any process) can touch it,
        so a session written to meanwhile is kept. Walks the sessions newest first.
        """
        if idle_seconds <= 0:
            raise InvalidInput("idle time must be positive")
        moment = (time.time() if now is None else now) - idle_seconds
        cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"
        expired: list[str] = []
        cursor: str | None = None
        while len(expired) < limit:
            page = await self.recent(limit=500, cursor=cursor)
            for info in page.sessions:
                if info.updated_at < cutoff and await self._expire(info.session_id, cutoff):
                    expired.append(info.session_id)
                    if len(expired) >= limit:
                        break
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return expired

    async def _expire(self, session_id: str, cutoff: str) -> bool:
        while self._writing:
            await self._writer_idle.wait()
        self._take_writer()
        try:
            async with self.store.write_batch((session_id,)):
                info = await self.store.session(session_id)
                if info is None or info.updated_at >= cutoff:
                    return False  # written to since the walk saw it
                self.cache.drop(session_id)
                deleted = await self.store.delete_session(session_id)
        finally:
            self._release_writer()
        if deleted:
            log.info("expired idle session %s (last written %s)", session_id, info.updated_at)
        return deleted

    async def delete(self, session_id: str) -> bool:
        check_session_id(session_id)
        while self._writing:  # never in the middle of a write batch
            await self._writer_idle.wait()
        self._take_writer()
        try:
            self.cache.drop(session_id)
            return await self.store.delete_session(session_id)
        finally:
            self._release_writer()


def _state_size(state: SessionState) -> int:
    """Entries a snapshot of ``state`` encodes, roughly."""
    graph = state.graph
    return len(state.numbers) + len(graph.nodes) + len(graph.edges) + state.ledger.entries()


def _texts_in(event_type: str, data: dict[str, Any], wanted: list[str]) -> dict[str, str]:
    """The texts of the nodes ``wanted`` that the stored event ``data`` created."""
    if event_type == ThoughtRecorded.TYPE:
        nodes = [{"id": data.get("thought_id"), "content": data.get("content")}]
    elif event_type == DeliberationStarted.TYPE:
        nodes = [data.get("root") or {}]
    elif event_type == GraphUpdated.TYPE:
        nodes = list(data.get("nodes") or ())
    else:
        nodes = []
    found = {str(n.get("id")): str(n.get("content", "")) for n in nodes if isinstance(n, dict)}
    return {nid: found[nid] for nid in wanted if nid in found}


def _thought_view(row: StoredEvent, data: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "thoughtId": data["thought_id"],
        "thoughtNumber": data["thought_number"],
        "totalThoughts": data["total_thoughts"],
        "thought": data["content"],
        "nextThoughtNeeded": data["next_thought_needed"],
        "recordedAt": row.recorded_at,
    }
    for key, wire in (
        ("is_revision", "isRevision"),
        ("revises_thought", "revisesThought"),
        ("branch_from_thought", "branchFromThought"),
        ("branch_id", "branchId"),
        ("needs_more_thoughts", "needsMoreThoughts"),
        ("parent_id", "parentId"),
    ):
        value = data.get(key)
        if value not in (None, False):
            view[wire] = value
    return view
