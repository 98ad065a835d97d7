"""Commands on a session's thought chain and ``decide``: validate a command against the state.

``decide`` returns the events a command produces, or raises a typed error and
produces nothing. It reads no clock and makes no ids of its own: the session id and
the time come in with the call, thought ids are derived from the session's sequence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thinkgate.domain.chain import canonical
from thinkgate.domain.deliberation import GRAPH_COMMANDS, Answer, GraphCommand, decide_graph, digest
from thinkgate.domain.events import Event, HistoryCleared, SessionCreated, ThoughtRecorded
from thinkgate.domain.governance import (
    GOVERNANCE_COMMANDS,
    GovernanceCommand,
    decide_governance,
    governance_digest,
)
from thinkgate.domain.safety import scan_text
from thinkgate.domain.state import SessionState, thought_id
from thinkgate.errors import (
    IdempotencyConflict,
    InvalidInput,
    LimitExceeded,
    ThoughtTooLong,
    UnknownReference,
)

__all__ = ["CLEAR_DIGEST", "ClearHistory", "Decision", "Limits", "RecordThought", "decide"]

# Wording that marks a concluding thought (searched in the last 400 characters).
_CONCLUSION = re.compile(
    r"\b(?:final answer|in conclusion|to conclude|to summari[sz]e,? the answer|the answer is|"
    r"therefore,? the (?:answer|result|solution) is|"
    r"(?:this|that) (?:solves|answers) (?:it|the (?:problem|question)))\b",
    re.IGNORECASE,
)
# Every phrase of _CONCLUSION contains one of these: the regex runs only when one occurs
# (a casefolded substring test costs well under a microsecond; the regex several).
_CONCLUSION_WORDS = ("answer", "conclu", "summar", "result", "solution", "solves")


def _concludes(tail: str) -> bool:
    folded = tail.casefold()
    return any(word in folded for word in _CONCLUSION_WORDS) and _CONCLUSION.search(tail) is not None


# After this many thoughts in a row without a branch or revision, nudge towards an alternative.
LINEAR_RUN_NUDGE = 6
MAX_REQUEST_ID_LENGTH = 200
MAX_BRANCH_ID_LENGTH = 200
CLEAR_DIGEST = "clear"  # the argument digest of every history clear (it has no arguments)


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that commands are checked against."""

    max_thought_bytes: int = 32 * 1024
    max_thoughts_per_session: int = 100_000


@dataclass(frozen=True, slots=True)
class RecordThought:
    """Add one thought to a session's chain (the ``sequentialthinking`` tool)."""

    thought: str
    thought_number: int
    total_thoughts: int
    next_thought_needed: bool
    is_revision: bool | None = None
    revises_thought: int | None = None
    branch_from_thought: int | None = None
    branch_id: str | None = None
    needs_more_thoughts: bool | None = None
    request_id: str | None = None

    def digest(self) -> str:
        """A fingerprint of the arguments, to tell a true retry from a reused request id."""
        data = {
            "thought": self.thought,
            "thought_number": self.thought_number,
            "total_thoughts": self.total_thoughts,
            "next_thought_needed": self.next_thought_needed,
            "is_revision": self.is_revision,
            "revises_thought": self.revises_thought,
            "branch_from_thought": self.branch_from_thought,
            "branch_id": self.branch_id,
            "needs_more_thoughts": self.needs_more_thoughts,
        }
        return hashlib.sha256(canonical(data)).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ClearHistory:
    """Start a session's thought history afresh."""

    request_id: str | None = None


Command = RecordThought | ClearHistory | GraphCommand | GovernanceCommand


@dataclass(frozen=True, slots=True)
class Decision:
    """What a command does: new events, the version that already answered it (a retried request),
    or an answer that changes nothing (``answer``)."""

    events: tuple[Event, ...] = ()
    replay_of: int | None = None
    answer: Answer | None = None


def decide(
    state: SessionState | None,
    command: Command,
    *,
    session_id: str,
    now: str,
    limits: Limits,
    seen: tuple[int, str] | None = None,
    revised_text: str | None = None,
    texts: Mapping[str, str] | None = None,
    calibration: Mapping[str, Any] | None = None,
    constraints: tuple[str, ...] = (),
) -> Decision:
    """Decide ``command`` against ``state`` (None when the session does not exist yet).

    ``seen`` is what the event log holds for the command's request id, if it was used
    before in this session: the version of the event it produced and that call's
    argument digest (``CLEAR_DIGEST`` for a history clear). The caller looks it up, as it
    does ``revised_text``: the stored text of the thought a revision names (for feedback), and
    ``texts``: the texts of the nodes a graph command reads (``deliberation.text_needs``).
    Governance commands also take ``calibration`` (the fitted calibration map of each
    governance profile that has one: objects with ``apply`` and ``to_dict``) and
    ``constraints`` (the deliberation's, for ``run_governance_pipeline``).

    Raises:
        InvalidInput: arguments out of range.
        ThoughtTooLong: the thought exceeds ``limits.max_thought_bytes``.
        UnknownReference: a revision or branch names a thought that does not exist.
        LimitExceeded: the session already holds ``limits.max_thoughts_per_session`` thoughts.
        IdempotencyConflict: the request id was used before with other arguments.
    """
    _check_request_id(command.request_id)
    if command.request_id is not None and seen is not None:
        if isinstance(command, RecordThought):
            fingerprint = command.digest()
        elif isinstance(command, ClearHistory):
            fingerprint = CLEAR_DIGEST
        elif type(command) in GOVERNANCE_COMMANDS:
            fingerprint = governance_digest(command)  # type: ignore[arg-type]
        else:
            fingerprint = digest(command)  # type: ignore[arg-type]  # the graph commands remain
        if seen[1] != fingerprint:
            raise IdempotencyConflict(
                f"requestId {command.request_id!r} was already used for a different call; "
                "use a new requestId for a new call"
            )
        return Decision(replay_of=seen[0])
    if type(command) in GRAPH_COMMANDS:
        events, answer = decide_graph(
            state,
            command,  # type: ignore[arg-type]
            session_id=session_id,
            now=now,
            max_bytes=limits.max_thought_bytes,
            max_thoughts=limits.max_thoughts_per_session,
            texts=texts or {},
        )
        return Decision(events, answer=answer)
    if type(command) in GOVERNANCE_COMMANDS:
        events, answer = decide_governance(
            state,
            command,  # type: ignore[arg-type]
            session_id=session_id,
            max_bytes=limits.max_thought_bytes,
            max_thoughts=limits.max_thoughts_per_session,
            texts=texts or {},
            calibrations=calibration or {},
            constraints=constraints,
        )
        return Decision(events, answer=answer)
    prefix: tuple[Event, ...] = ()
    if state is None:
        created = SessionCreated(session_id=session_id, created_at=now)
        prefix = (created,)
        state = SessionState(session_id=session_id, created_at=now, version=1)
    if isinstance(command, ClearHistory):
        # Every node goes but a deliberation's root (in a plain chain: the thoughts since the last clear).
        graph = state.graph
        cleared = (
            len(graph.nodes) - (1 if graph.deliberation is not None else 0) if graph.nodes else state.history_length
        )
        return Decision((*prefix, HistoryCleared(cleared=cleared, request_id=command.request_id)))
    assert isinstance(command, RecordThought)
    return Decision((*prefix, _record(state, command, limits, revised_text)))


def _check_request_id(request_id: str | None) -> None:
    if request_id is None:
        return
    if not (0 < len(request_id) <= MAX_REQUEST_ID_LENGTH):
        raise InvalidInput(f"requestId must be 1 to {MAX_REQUEST_ID_LENGTH} characters")
    if not request_id.isprintable():
        # An identity is stored verbatim and indexed (PostgreSQL text cannot even hold NUL).
        raise InvalidInput("requestId must not contain control or other non-printable characters")
    # A request id is stored verbatim (it is an identity, so it cannot be redacted): refuse secrets.
    if scan_text(request_id).secrets:
        raise InvalidInput("requestId looks like a secret (an API key or token); use a random or counter id")


def _utf8_len(text: str) -> int:
    # A str of n code points is at most 4n bytes of UTF-8: skip the encode when that already fits.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _record(state: SessionState, cmd: RecordThought, limits: Limits, revised_text: str | None) -> ThoughtRecorded:
    for name, value in (
        ("thoughtNumber", cmd.thought_number),
        ("totalThoughts", cmd.total_thoughts),
        ("revisesThought", cmd.revises_thought),
        ("branchFromThought", cmd.branch_from_thought),
    ):
        if value is not None and value < 1:
            raise InvalidInput(f"{name} must be an integer >= 1, got {value}")
    size = _utf8_len(cmd.thought)
    if size > limits.max_thought_bytes:
        raise ThoughtTooLong(
            f"thought is {size} bytes; the limit is {limits.max_thought_bytes}. Split it into several shorter thoughts."
        )
    deliberation = state.graph.deliberation
    if deliberation is not None and len(state.graph.nodes) >= deliberation.limits.max_nodes:
        raise LimitExceeded(
            f"the deliberation's graph holds {len(state.graph.nodes)} nodes, its max_nodes; "
            "prune, merge or distill, or continue in a new session"
        )
    if state.seq >= limits.max_thoughts_per_session:
        raise LimitExceeded(
            f"session {state.session_id!r} has recorded {state.seq} thoughts (cleared ones included), "
            "the limit per session; continue in a new session (pass a new sessionId)"
        )
    for name, ref in (
        ("revisesThought", cmd.revises_thought),
        ("branchFromThought", cmd.branch_from_thought),
    ):
        if ref is not None and ref not in state.numbers:
            raise UnknownReference(f"{name}={ref} names no thought in this session; {_existing(state)}")
    warnings: list[str] = []
    scan = scan_text(cmd.thought)
    warnings.extend(_scan_warnings("thought", scan.injections, scan.secrets))
    branch_id = cmd.branch_id or None  # "" means no branch id, as in the official server
    assigned_branch = False
    if branch_id is not None:
        if not (0 < len(branch_id) <= MAX_BRANCH_ID_LENGTH):
            raise InvalidInput(f"branchId must be 1 to {MAX_BRANCH_ID_LENGTH} characters")
        bscan = scan_text(branch_id)
        warnings.extend(_scan_warnings("branchId", bscan.injections, bscan.secrets))
        branch_id = bscan.text
    elif cmd.branch_from_thought is not None:
        branch_id = _new_branch_id(state, cmd.branch_from_thought)
        assigned_branch = True
    is_revision = bool(cmd.is_revision) or cmd.revises_thought is not None
    seq = state.seq + 1
    new_id = thought_id(seq)
    total = max(cmd.total_thoughts, cmd.thought_number)
    parent = (
        thought_id(state.numbers[cmd.branch_from_thought])
        if cmd.branch_from_thought
        else state.last_thought_id or (deliberation.root_id if deliberation is not None else None)
    )
    history_length = state.history_length + 1
    branches = list(state.branches)
    # As in the official server, a branch is opened only by branchFromThought; a branchId
    # alone tags the thought (history can filter on it) without opening a branch.
    if cmd.branch_from_thought is not None and branch_id is not None and branch_id not in state.branches:
        branches.append(branch_id)
    result: dict[str, Any] = {
        "thoughtNumber": cmd.thought_number,
        "totalThoughts": total,
        "nextThoughtNeeded": cmd.next_thought_needed,
        "branches": branches,
        "thoughtHistoryLength": history_length,
        "sessionId": state.session_id,
        "thoughtId": new_id,
    }
    if branch_id is not None:
        result["branchId"] = branch_id
    if assigned_branch:
        warnings.append(f"branchFromThought given without branchId: assigned branchId {branch_id!r}")
    result["warnings"] = warnings
    result["feedback"] = _feedback(state, cmd, is_revision, scan.text, revised_text)
    return ThoughtRecorded(
        thought_id=new_id,
        seq=seq,
        content=scan.text,
        thought_number=cmd.thought_number,
        total_thoughts=total,
        next_thought_needed=cmd.next_thought_needed,
        is_revision=is_revision,
        revises_thought=cmd.revises_thought,
        branch_from_thought=cmd.branch_from_thought,
        branch_id=branch_id,
        needs_more_thoughts=bool(cmd.needs_more_thoughts),
        parent_id=parent,
        request_id=cmd.request_id,
        args_digest=cmd.digest() if cmd.request_id is not None else None,
        warnings=tuple(warnings),
        result=result,
    )


def _existing(state: SessionState) -> str:
    if not state.numbers:
        return "the session has no thoughts yet"
    numbers = sorted(state.numbers.keys())
    if len(numbers) > 20:
        shown = ", ".join(map(str, numbers[:10])) + ", …, " + ", ".join(map(str, numbers[-5:]))
    else:
        shown = ", ".join(map(str, numbers))
    return f"existing thoughtNumbers: {shown}"


def _new_branch_id(state: SessionState, branch_from: int) -> str:
    n = len(state.branches) + 1
    while f"branch-{branch_from}-{n}" in state.branches:
        n += 1
    return f"branch-{branch_from}-{n}"


def _scan_warnings(field: str, injections: tuple[str, ...], secrets: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    if injections:
        out.append(f"{field}: possible prompt-injection pattern ({', '.join(injections)}); content kept")
    if secrets:
        out.append(f"{field}: secret redacted before storage ({', '.join(secrets)})")
    return out


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _feedback(
    state: SessionState, cmd: RecordThought, is_revision: bool, text: str, revised_text: str | None
) -> list[str]:
    out: list[str] = []
    if cmd.is_revision and cmd.revises_thought is None:
        out.append("isRevision is set but revisesThought is not: name the thought this revises.")
    if revised_text is not None and _same_text(text, revised_text):
        out.append(
            f"This revision repeats thought {cmd.revises_thought} without changing it: "
            "say what was wrong and what replaces it."
        )
    if cmd.next_thought_needed and _concludes(text[-400:]):
        out.append(
            "This thought reads like a conclusion: if the chain is done, send nextThoughtNeeded=false "
            "and give your answer."
        )
    if cmd.thought_number in state.numbers and not is_revision and cmd.branch_from_thought is None:
        out.append(
            f"thoughtNumber {cmd.thought_number} was already used in this session; "
            "use the next number, or set revisesThought to revise it."
        )
    run = 0 if (is_revision or cmd.branch_from_thought is not None) else state.linear_run + 1
    if run >= LINEAR_RUN_NUDGE and not state.branches and cmd.next_thought_needed:
        out.append(
            f"{run} steps in a row without a branch or revision: consider an alternative "
            "(branchFromThought) or revisit an earlier step (revisesThought)."
        )
    if not cmd.next_thought_needed:
        out.append("Chain complete: give your answer; no further sequentialthinking call is needed.")
    elif cmd.thought_number >= cmd.total_thoughts and not cmd.needs_more_thoughts:
        out.append(
            "Reached totalThoughts: finish with nextThoughtNeeded=false, "
            "or raise totalThoughts / set needsMoreThoughts if more steps are needed."
        )
    return out
