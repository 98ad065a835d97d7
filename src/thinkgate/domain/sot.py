"""The Skeleton-of-Thought suitability gate: outline-first planning fits some tasks, not others.

Outline-first works for open, multi-aspect problems (plans, designs, comparisons,
trade-offs, several stakeholders). It works badly for short factual questions, proofs,
exact calculations and strict step-by-step debugging, where the steps depend on each
other and must be done in order. The gate reads the task's wording (the source node and
the deliberation's goal) and returns a decision with the signals that led to it.

score = 0.5 + 0.12 per positive signal (at most 3 count) + 0.1 if the text is longer
than 200 characters - 0.35 per negative signal, clamped to [0, 1].
Decision: ``suitable`` (score >= 0.6), ``marginal`` (0.4 <= score < 0.6), ``unsuitable``.
Policy: ``conservative`` blocks marginal and unsuitable; ``balanced`` blocks unsuitable;
``permissive`` blocks only scores below 0.2. ``force`` overrides every block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["POLICIES", "Suitability", "suitability"]

POLICIES = ("conservative", "balanced", "permissive")

_NEGATIVE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("proof", re.compile(r"\b(?:prove|proof|theorem|lemma|show that|q\.?e\.?d|induction)\b", re.I)),
    (
        "exact_calculation",
        re.compile(
            r"\b(?:calculate|compute|evaluate|solve for|how much is|what is \d)|\d\s*[-+*/^×÷=]\s*\(?\d|\bsum of\b",
            re.I,
        ),
    ),
    (
        "exact_debugging",
        re.compile(
            r"\b(?:traceback|stack ?trace|segfault|exception|error:|line \d+|failing test|reproduce the bug|"
            r"debug(?:ging)? (?:this|the) (?:error|crash|failure))\b",
            re.I,
        ),
    ),
    ("strict_sequence", re.compile(r"\b(?:step[- ]by[- ]step|in (?:strict|exact) order|one step at a time)\b", re.I)),
)
_SHORT_FACTUAL = re.compile(
    r"^\s*(?:who|what|when|where|which|how (?:many|much|old|far|long)|is|are|was|were|does|did|can|name)\b", re.I
)
_POSITIVE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("options", re.compile(r"\b(?:options?|alternatives?|approaches|choices|trade-?offs?|pros and cons)\b", re.I)),
    ("planning", re.compile(r"\b(?:plan|roadmap|strategy|design|architecture|migrat\w*|rollout|proposal)\b", re.I)),
    ("perspectives", re.compile(r"\b(?:perspectives?|stakeholders?|viewpoints?|lenses|aspects?|dimensions)\b", re.I)),
    ("comparison", re.compile(r"\b(?:compare|comparison|evaluate options|versus|vs\.?|weigh)\b", re.I)),
    ("open_ended", re.compile(r"\b(?:brainstorm|explore|ideas|how (?:should|could|might) we|what are ways)\b", re.I)),
)


@dataclass(frozen=True, slots=True)
class Suitability:
    """The gate's verdict on a task."""

    decision: str  # suitable | marginal | unsuitable
    score: float
    signals: tuple[str, ...]  # "+name" for positive, "-name" for negative signals
    blocked: bool
    fallback: str | None  # what to use instead when blocked

    def to_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "score": self.score,
            "signals": list(self.signals),
            "blocked": self.blocked,
            "fallback": self.fallback,
        }


def suitability(text: str, *, policy: str = "balanced", force: bool = False) -> Suitability:
    """Judge whether outline-first planning suits the task described by ``text``."""
    flat = " ".join(text.split())
    negatives = [name for name, pattern in _NEGATIVE if pattern.search(flat)]
    if len(flat) < 80 and _SHORT_FACTUAL.search(flat):
        negatives.append("short_factual")
    positives = [name for name, pattern in _POSITIVE if pattern.search(flat)]
    score = 0.5 + 0.12 * min(3, len(positives)) - 0.35 * len(negatives)
    if len(flat) > 200:
        score += 0.1
    score = round(min(1.0, max(0.0, score)), 2)
    decision = "suitable" if score >= 0.6 else "marginal" if score >= 0.4 else "unsuitable"
    if policy == "conservative":
        blocked = decision != "suitable"
    elif policy == "balanced":
        blocked = decision == "unsuitable"
    else:
        blocked = score < 0.2
    if force:
        blocked = False
    fallback = None
    if blocked:
        fallback = (
            "sequentialthinking (a chain where each step can build on the last)"
            if negatives
            else "expand_thoughts with strategy diverse, or force=true if an outline is really wanted"
        )
    signals = tuple(f"+{p}" for p in positives) + tuple(f"-{n}" for n in negatives)
    return Suitability(decision, score, signals, blocked, fallback)
