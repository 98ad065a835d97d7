"""Descriptions of the governance tools and the texts of their prompts.

Descriptions are sent with every ``tools/list``: each says what the tool does, what it
checks and what it returns, in as few words as that takes.
"""

from __future__ import annotations

__all__ = [
    "ADD_EVIDENCE",
    "CONSENSUS_ANSWER",
    "CONVERGE_REASONING",
    "RECORD_ASSUMPTION",
    "RECORD_OUTCOME",
    "RUN_GOVERNANCE_PIPELINE",
    "RUN_REASONING_CHECKPOINT",
    "SET_ASSUMPTION_STATUS",
    "SET_VERIFICATION_POLICY",
    "VERIFY_THOUGHTS",
    "decision_routing_pack",
    "triangulation_pack",
    "verification_pack",
]

VERIFY_THOUGHTS = """Record claims with evidence; ThinkGate checks the evidence itself and returns each claim's status.
Evidence (stance supports|refutes):
- file {path, lines "12-18", quote}: quote must be in those lines of a file under the allowed roots (tier 1)
- calc {expression, expected}: exact arithmetic must equal expected (tier 1)
- command {argv, expectExitCode}: runs without a shell only if argv[0] is allow-listed, else not_checked
- url {url, tier}: not fetched; tier at best 2; grouped by registrable domain
- text {text, source}: never checked; tier 3
Status, first match wins: refuted (a passed check refutes, none supports) > source_conflict > verified (a passed supporting check, or support from minIndependentGroups distinct groups; critical claims need a passed check) > data_deficit. Failed or unchecked file/calc/command items count for nothing. recheck: true re-runs stored checks. Returns per claim its status and per item check, reason, tier, group; and the route decision."""

ADD_EVIDENCE = """Add evidence items to an existing claim (same kinds and checks as verify_thoughts); returns the claim's new status and the route decision."""

SET_VERIFICATION_POLICY = """Set the session's verification policy: minIndependentGroups (1-8, default 2), allowTier3 (default false), requireCheckedForCritical (default true), failClosed (default true: unverified critical claims and open critical/high assumptions block). Returns the policy and the route decision."""

RECORD_ASSUMPTION = """Record an assumption the answer rests on (criticality critical|high|medium|low, status open by default). Open or invalidated critical/high assumptions block the route decision until settled with set_assumption_status."""

SET_ASSUMPTION_STATUS = """Settle an assumption: open, verified, invalidated or accepted_risk (accepted risk does not block but lowers confidence). Returns the assumption and the route decision."""

RUN_REASONING_CHECKPOINT = """Persist a checkpoint: graph quality, claim statuses, assumptions, the route decision (recorded with a decisionId), blocking gaps and next steps."""

CONVERGE_REASONING = """Converge: writes a convergence node (your summary, else the best frontier node) only when nothing blocks; otherwise returns status blocked with the gaps and writes nothing."""

CONSENSUS_ANSWER = """Choose the answer among candidates (given, else the frontier's nodes) by votes then score, and return it with its support and the route decision (recorded with a decisionId). When a gap blocks: status blocked, answer null, and the gaps."""

RUN_GOVERNANCE_PIPELINE = """Run the governance stages (constraint_mapping, diverse_thinking, first_principles, hypothesis_rivalry, causal_modelling, trade_offs, fallacy_detection, triangulation, brutal_honesty, calibration_routing). Computed stages read the session; the others use the critiques you submit here (no model provider yet, so an unsubmitted one is unavailable). The profile (quick|balanced|deep|paranoid) names the required stages; a required stage that is unavailable blocks. Returns each finding with its basis and the route decision."""

RECORD_OUTCOME = """Record what really happened after a recorded decision (outcome success|failure, or a score 0-1; default: the latest decision). Outcomes calibrate future confidence (thinkgate report calibration)."""


def verification_pack(claim: str = "") -> str:
    """Chain-of-verification prompts for one claim (or the session's claims)."""
    subject = f"the claim: {claim}" if claim else "each claim your answer depends on"
    return f"""Verify {subject} before you rely on it.

1. State the claim in one checkable sentence. Mark its criticality: critical if a wrong answer follows when it is false.
2. Write the verification questions whose answers would prove or disprove it (what file, line, number or command output would show it).
3. Answer each question from a source you can point to, independently of your first answer:
   - a file: give path, lines ("12-18") and the exact quote;
   - a number: give the arithmetic expression and the expected value;
   - a program's verdict (tests, linters): give argv and the expected exit code (only allow-listed programs run);
   - a web page: give its url (declared, not fetched: it counts as tier 2);
   - anything else: text with its source (tier 3).
4. Include evidence that could refute the claim, with stance "refutes"; a passed refuting check outweighs declared support.
5. Call verify_thoughts with the claims and evidence. Read each item's check and reason: a failed quote or calculation
   counts for nothing. Fix the locator or change the claim, then add_evidence or verify_thoughts again.
6. Revise your answer so that it rests only on verified claims; say which claims remain data_deficit."""


def triangulation_pack(claim: str = "") -> str:
    """Prompts for supporting a claim from independent sources."""
    subject = f"the claim: {claim}" if claim else "each important claim"
    return f"""Triangulate {subject}.

Independence comes from origin, not from labels: ThinkGate groups a file by its repository (or allowed root), a url by
its registrable domain (docs.python.org and python.org are one group), a command by its program, calculations together,
and text by its source. Two pages on one site are one group.

1. Find sources of different origin: the code itself (file quotes), an executed check (command), a computation (calc),
   and documentation from a different domain.
2. Look for the strongest source against the claim and record it with stance "refutes".
3. Call verify_thoughts. A claim is verified by one passed check, or by supporting evidence from at least
   minIndependentGroups distinct groups (default 2; tier 3 only counts with allowTier3). Critical claims need a passed check.
4. Where sources disagree the status is source_conflict: resolve it with a check rather than with more declarations."""


def decision_routing_pack(question: str = "") -> str:
    """Prompts for reaching a routed decision."""
    subject = f" on: {question}" if question else ""
    return f"""Route the decision{subject}.

1. Read thinkgate://session/{{id}}/route-decision (or run_reasoning_checkpoint). Decisions: blocked, proceed (>= 0.95),
   proceed_with_monitoring (>= 0.85), proceed_with_caution (>= 0.70), gather_more_data (>= 0.50), do_not_proceed.
2. If blocked, work through blockingGaps in order: verify critical claims (verify_thoughts / add_evidence), settle
   critical and high assumptions (set_assumption_status: verified, invalidated or accepted_risk), submit critiques for
   required stages (run_governance_pipeline), re-check evidence whose check raised (verify_thoughts recheck: true).
3. The confidence is claims x assumptions x conflicts x branches x profile (see thinkgate://config/policy): raise it with
   checked evidence, not with more unchecked declarations.
4. When nothing blocks, call consensus_answer or converge_reasoning and report the decision, its confidence and the
   rationale to the user, including what remains unverified.
5. Later, record_outcome with what really happened, so that confidence can be calibrated."""
