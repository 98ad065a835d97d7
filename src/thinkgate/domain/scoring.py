"""Scoring thought-graph nodes: five dimensions, their structural heuristics and the composite.

The formula is documented in ``docs/deliberation.md`` ("Scoring"); ``tests/test_docs.py``
checks that document against the constants and functions here.

Each dimension is a number in [0, 1]. A client may give any of them for any node (source
``client``); every dimension it does not give is computed by a structural heuristic
(source ``heuristic``). The heuristics read the graph's shape and the words of the nodes
being scored, nothing else: they are proxies, not judgements of truth.

- correctness = 0.5 + 0.5 * (s - c) / (s + c), or 0.5 when s + c = 0
  (s, c: ``supports`` and ``conflicts`` edges into the node)
- evidence    = min(1, (s + d) / 3)   (d: ``depends_on``/``refines`` edges out of the node)
- risk        = c / (c + 1)
- cost        = min(1, depth / max_depth)
- novelty     = share of the node's distinct words (4+ letters, case-folded) that no other
  scored node and not its first parent uses; 0 for a node without such words

composite = sum(w[d] * u[d]) / sum(w), with u = value for correctness, evidence and novelty and
u = 1 - value for risk and cost (lower is better); rounded to 4 decimals. Ranking: composite
descending, then creation order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIMENSIONS",
    "INVERTED",
    "WEIGHT_ALIASES",
    "NodeFacts",
    "composite",
    "heuristic_scores",
    "words",
]

DIMENSIONS = ("correctness", "evidence", "risk", "cost", "novelty")
DEFAULT_WEIGHTS: dict[str, float] = {
    "correctness": 0.30,
    "evidence": 0.25,
    "risk": 0.20,
    "cost": 0.10,
    "novelty": 0.15,
}
INVERTED = frozenset({"risk", "cost"})  # lower is better
# ReasonKit's weight names, accepted as aliases.
WEIGHT_ALIASES = {"correctness_proxy": "correctness", "evidence_quality": "evidence"}

_WORD = re.compile(r"\w{4,}")


def words(text: str) -> frozenset[str]:
    """The distinct case-folded words of 4+ letters or digits."""
    return frozenset(_WORD.findall(text.casefold()))


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the heuristics read about one node."""

    node_id: str
    supports_in: int
    conflicts_in: int
    strict_out: int
    depth: int
    words: frozenset[str]
    parent_words: frozenset[str]


def heuristic_scores(facts: Sequence[NodeFacts], max_depth: int) -> dict[str, dict[str, float]]:
    """Every dimension of every node by the structural heuristics (see the module docstring)."""
    document_frequency: Counter[str] = Counter()
    for f in facts:
        document_frequency.update(f.words)
    out: dict[str, dict[str, float]] = {}
    for f in facts:
        s, c = f.supports_in, f.conflicts_in
        unique = sum(1 for w in f.words if document_frequency[w] == 1 and w not in f.parent_words)
        out[f.node_id] = {
            "correctness": 0.5 + 0.5 * (s - c) / (s + c) if s + c else 0.5,
            "evidence": min(1.0, (s + f.strict_out) / 3),
            "risk": c / (c + 1),
            "cost": min(1.0, f.depth / max(1, max_depth)),
            "novelty": unique / len(f.words) if f.words else 0.0,
        }
    return out


def composite(values: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The weighted mean of the dimensions, risk and cost inverted, rounded to 4 decimals."""
    total = sum(weights[d] for d in DIMENSIONS)
    acc = sum(weights[d] * ((1.0 - values[d]) if d in INVERTED else values[d]) for d in DIMENSIONS)
    return round(acc / total, 4)
