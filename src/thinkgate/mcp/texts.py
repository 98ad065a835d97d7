"""Texts the MCP surface shows to models: tool descriptions, instructions, the guidance prompt.

Tool descriptions stay under 1,024 characters (some clients cut or refuse longer ones).
"""

from __future__ import annotations

__all__ = [
    "CLEAR_HISTORY",
    "GET_HISTORY",
    "GUIDANCE",
    "INSTRUCTIONS",
    "LIST_SESSIONS",
    "SEQUENTIAL_THINKING",
    "instructions",
]

SEQUENTIAL_THINKING = """\
Record one step of a chain of thought; use it for problems that need several steps, \
planning with room to revise, or analysis where the approach may change.

Each call is one thought. Set thoughtNumber (1, 2, 3 ...) and your estimate totalThoughts \
(raise it when you need more), and nextThoughtNeeded=false on the last step.
To correct an earlier step: isRevision=true with revisesThought=<its number>.
To explore an alternative: branchFromThought=<number> and a branchId.
References are checked: naming a thought that does not exist is an error that lists the \
existing ones.

Thoughts are stored durably per session. Without sessionId each connection has its own \
session; the result returns sessionId, pass it to continue after a restart. requestId makes \
a retry safe. The result may carry warnings (secrets redacted, injection patterns) and short \
feedback; read it. Keep thoughts short and concrete."""

GET_HISTORY = (
    "Read back the thoughts of a session (this connection's session when sessionId is omitted), "
    "oldest first, optionally only one branch. Paged: pass nextCursor to get the next page."
)

LIST_SESSIONS = (
    "List stored sessions, most recently updated first, with their event counts and times. "
    "Paged: pass nextCursor to get the next page."
)

CLEAR_HISTORY = (
    "Start a session's thought history afresh (this connection's session when sessionId is omitted). "
    "The earlier thoughts no longer count for numbering, branches or history; they stay in the "
    "session's audit log."
)

INSTRUCTIONS = (
    "ThinkGate records your reasoning as durable, auditable sessions. Use sequentialthinking for "
    "step-by-step thinking (same inputs as the official server, plus sessionId and requestId), "
    "get_thinking_history to read a session back, list_sessions to find earlier sessions. ThinkGate "
    "stores and checks references between thoughts; it does not judge whether a thought is correct."
)
GRAPH_INSTRUCTIONS = (
    " For decisions with alternatives, start_deliberation opens a thought graph: add_thought for your "
    "ideas, expand_thoughts for prompts, score_thoughts and prune_thoughts to keep the best, "
    "link_thoughts, merge_thought_branches, distill_thought_cluster and refine_thoughts to converge."
)
SOT_INSTRUCTIONS = " For open multi-aspect problems, start_skeleton_of_thought plans outline-first."
GOVERNANCE_INSTRUCTIONS = (
    " Before a final answer, verify_thoughts records the claims it rests on with evidence ThinkGate checks "
    "(file quotes, arithmetic, allow-listed commands); record_assumption for premises; consensus_answer or "
    "converge_reasoning answers only when no critical gap blocks, and says why when one does."
)


def instructions(enabled: frozenset[str]) -> str:
    """The server instructions for the enabled tools."""
    text = INSTRUCTIONS
    if "start_deliberation" in enabled:
        text += GRAPH_INSTRUCTIONS
    if "start_skeleton_of_thought" in enabled:
        text += SOT_INSTRUCTIONS
    if "verify_thoughts" in enabled:
        text += GOVERNANCE_INSTRUCTIONS
    return text


GUIDANCE = """\
Use the sequentialthinking tool when a task needs several steps, when the approach may change, \
or when you must keep track of alternatives.

- One short, concrete step per call. Set totalThoughts to your estimate and adjust it.
- When evidence shows an earlier step was wrong, revise it: isRevision=true, revisesThought=N.
- When there are two plausible approaches, branch: branchFromThought=N, branchId=<name>.
- Read the feedback in each result; stop when the chain is complete (nextThoughtNeeded=false) \
and give your answer.
- Pass the returned sessionId to continue the same session after a restart."""
