"""Descriptions of the deliberation tools and the texts of their prompts (each under 1,024 characters)."""

from __future__ import annotations

START_DELIBERATION = (
    "Open a deliberation: a thought graph on a goal, stored durably. mode: cot (linear chain), tot (tree: "
    "expand, score, prune), got (graph: link, merge, distill), sot (outline first), governed; aliases quick, "
    "explore, map, sketch, test. profile sets limits (quick, balanced, deep, paranoid); limits out of the "
    "safe range are clamped and the applied values returned. Returns deliberationId (a sessionId every "
    "other tool accepts; calls without one use it) and the root node holding the goal. For a retry-safe "
    "start over a stateless connection, pass your own sessionId with requestId."
)
ADD_THOUGHT = (
    "Add a node you wrote to the thought graph: content, parentIds (default: the root), optional typed "
    "edges from it (supports, conflicts, depends_on, refines) and tags. The main way real content enters "
    "the graph. The new node joins the frontier; its parents leave it."
)
EXPAND_THOUGHTS = (
    "Expand nodes with a strategy (diverse, least_to_most, contrarian, direct, skeleton_first). generation: "
    "prompt_pack returns ready prompts for you to answer with add_thought and creates nothing; heuristic "
    "adds labelled scaffold nodes that hold questions, not answers; model_backed needs a model provider "
    "(none configured: a MODEL_UNAVAILABLE error, nothing created). count is per source node."
)
SCORE_THOUGHTS = (
    "Score nodes (default: the frontier) on correctness, evidence, risk, cost and novelty (0-1). Give your own "
    "scores per node where you can judge; the rest come from documented structural heuristics (graph shape "
    "and word overlap, not truth), each labelled with its source. Returns the composite (weighted mean, risk "
    "and cost inverted) and a ranking. Stored in the session log."
)
PRUNE_THOUGHTS = (
    "Prune the frontier (or nodeIds): keep the beamWidth best by latest score and/or drop those scoring below "
    "threshold; nodeIds alone prunes exactly those nodes. Pruned nodes stay in the log and graph with status "
    "pruned and leave the frontier; the root is never pruned. Unscored nodes rank last."
)
LINK_THOUGHTS = (
    "Add a typed edge: sourceId supports / conflicts / depends_on / refines targetId. depends_on and refines "
    "must stay acyclic: an edge that would close a cycle is refused (CYCLE_REFUSED) with the path. A repeated "
    "edge changes nothing."
)
MERGE_THOUGHT_BRANCHES = (
    "Merge 2+ nodes into one: give content (your synthesis) or get a labelled heuristic concatenation. Adds a "
    "supports edge from each source to the merged node and resets the frontier to it."
)
DISTILL_THOUGHT_CLUSTER = (
    "Distill nodes into a summary node: give content, or get up to maxBullets bullets from each source's first "
    "clause (labelled heuristic). The summary depends_on each source; the frontier resets to it."
)
REFINE_THOUGHTS = (
    "Refine a node after critique or a failed check: give critique and/or verificationFailure, and "
    "refinedContent (your corrected node; without it a labelled scaffold asks for the rewrite). The new node "
    "refines the source and replaces it in the frontier."
)
START_SKELETON_OF_THOUGHT = (
    "Plan outline-first (Skeleton-of-Thought) from a node (default: the goal): numSkeletons outline points "
    "(2-10) in a style (multi_lens, decomposition, hypothesis_set, stakeholder_views, implementation_plan). A "
    "suitability gate refuses poor fits (short factual questions, proofs, exact calculations, strict "
    "step-by-step debugging) and writes nothing unless force=true; the verdict and signals are returned."
)
RUN_SKELETON_ELABORATION = (
    "Elaborate a skeleton phase (default: the newest open one). generation: prompt_pack returns a prompt per "
    "outline point (nothing created); heuristic adds labelled scaffold chains of elaborationDepth nodes and "
    "closes the phase; model_backed needs a model provider (MODEL_UNAVAILABLE). mergeAfter adds a merge node "
    "that depends_on each chain's tip."
)

TOT_PLANNER_GUIDANCE = """\
Plan with a tree of thoughts in ThinkGate.

1. start_deliberation(goal, constraints, mode="tot"); keep the deliberationId.
2. For the root (or each frontier node) get ideas: expand_thoughts(generation="prompt_pack", \
strategy="diverse") and answer each prompt with add_thought(parentIds=[node]). Write real, specific \
alternatives; 2-4 per node is usually enough.
3. score_thoughts: give your own correctness/evidence/risk/cost scores for the nodes you can judge; \
the heuristics fill the rest and say so.
4. prune_thoughts(beamWidth=2 or 3). Pruned nodes stay in the log.
5. Go deeper from the frontier, or converge: merge_thought_branches(content=your synthesis) or \
distill_thought_cluster.
6. When a node fails a check, refine_thoughts(critique=..., refinedContent=...).
Stop when the frontier holds one well-supported answer; state it and its open risks."""


def diverse_lens_pack(topic: str) -> str:
    lenses = (
        ("First principles", "Which assumptions does it rest on, and which could be false?"),
        ("Failure modes", "How does it fail, and what is the first sign?"),
        ("Simplest option", "What is the simplest thing that would work?"),
        ("User's view", "How does it look to the people who use or run it?"),
        ("Analogy", "Which solved problem elsewhere resembles it?"),
        ("Cost", "What does it cost in time, money and risk?"),
        ("Evidence", "What would confirm or refute it, and how can we find out?"),
        ("Long term", "What does it imply in a year: maintenance, scale, lock-in?"),
    )
    subject = topic.strip() or "the problem"
    lines = [
        f"Look at {subject} through eight lenses. For each, write one specific idea (1-3 sentences) and "
        "record it with add_thought (parentIds=[the node you are expanding], tags=[the lens]):"
    ]
    lines += [f"- {name}: {question}" for name, question in lenses]
    lines.append("Then score_thoughts and prune_thoughts to keep the strongest.")
    return "\n".join(lines)
