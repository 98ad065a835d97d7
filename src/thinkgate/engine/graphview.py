"""Read models of a session's thought graph: the whole graph, the frontier, prompt packs.

All of them are reads: nothing here writes an event. The state says which nodes exist
and their status, depth, score and edges; the texts come from the events that created
the nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from thinkgate.domain.deliberation import normalise_mode
from thinkgate.domain.events import DeliberationStarted, GraphUpdated, ThoughtRecorded
from thinkgate.domain.graph import MODE_ALIASES, MODES, PROFILES, edge_key
from thinkgate.domain.state import SessionState
from thinkgate.domain.templates import EXPAND_STRATEGIES, expand_items, snippet
from thinkgate.errors import InvalidInput, ModelUnavailable, NodeInactive, SessionNotFound, UnknownReference

if TYPE_CHECKING:
    from thinkgate.engine.engine import Engine

__all__ = [
    "THINKING_MODES",
    "elaboration_prompts",
    "expand_prompts",
    "frontier_view",
    "graph_view",
    "model_unavailable",
]

FRONTIER_VIEW_MAX = 1000


def model_unavailable(tool: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"model-backed generation is unavailable in {tool}: no model provider is configured. "
        "Use generation=prompt_pack (prompts for you to answer with add_thought) or generation=heuristic "
        "(labelled scaffold nodes). Nothing was created."
    )


async def _state(engine: Engine, session_id: str) -> SessionState:
    state = await engine.current(session_id)
    if state is None:
        raise SessionNotFound(f"no session {session_id!r}")
    return state


async def graph_view(engine: Engine, session_id: str) -> dict[str, Any]:
    """The whole graph since the last clear: nodes with their texts, typed and parent edges, the frontier."""
    state = await _state(engine, session_id)
    graph = state.graph
    records: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    deliberation: dict[str, Any] | None = None
    for row in await engine.events(session_id, upto=state.version):
        if row.type == ThoughtRecorded.TYPE:
            data = row.data()
            nid = data["thought_id"]
            if nid in graph.nodes:
                records[nid] = {
                    "content": data["content"],
                    "tags": [],
                    "provenance": {"mode": "agent", "tool": "sequentialthinking"},
                    "thoughtNumber": data["thought_number"],
                }
        elif row.type == DeliberationStarted.TYPE:
            data = row.data()
            root = data["root"]
            records[root["id"]] = _record(root)
            deliberation = {
                "goal": data["goal"],
                "constraints": data["constraints"],
                "mode": data["mode"],
                "profile": data["profile"],
                "limits": data["limits"],
                "rootId": root["id"],
            }
        elif row.type == GraphUpdated.TYPE:
            data = row.data()
            for node in data["nodes"]:
                if node["id"] in graph.nodes:
                    records[node["id"]] = _record(node)
            for raw in data["edges"]:
                if "note" in raw:
                    notes[edge_key(raw["source"], raw["target"], raw["kind"])] = raw["note"]
    nodes = []
    edges: list[dict[str, Any]] = []
    for nid, node in sorted(graph.nodes.items(), key=lambda kv: kv[1].seq):
        rec = records.get(nid, {"content": "", "tags": [], "provenance": {"mode": "agent", "tool": "unknown"}})
        view: dict[str, Any] = {
            "id": nid,
            "kind": node.kind,
            "content": rec["content"],
            "status": node.status,
            "depth": node.depth,
            "parents": list(node.parents),
            "branchId": node.branch_id,
            "tags": rec["tags"],
            "provenance": rec["provenance"],
            "score": node.score,
            "frontier": nid in graph.frontier,
        }
        if "thoughtNumber" in rec:
            view["thoughtNumber"] = rec["thoughtNumber"]
        nodes.append(view)
        edges.extend({"source": p, "target": nid, "kind": "parent"} for p in node.parents if p in graph.nodes)
    for key, _version in sorted(graph.edges.items(), key=lambda kv: (kv[1], kv[0])):
        source, _, rest = key.partition(">")
        target, _, kind = rest.rpartition(":")
        edge: dict[str, Any] = {"source": source, "target": target, "kind": kind}
        if key in notes:
            edge["note"] = notes[key]
        edges.append(edge)
    return {
        "sessionId": session_id,
        "deliberation": deliberation if graph.deliberation is not None else None,
        "nodes": nodes,
        "edges": edges,
        "frontier": graph.frontier_ids(),
    }


def _record(node: dict[str, Any]) -> dict[str, Any]:
    return {"content": node["content"], "tags": list(node.get("tags", [])), "provenance": dict(node["provenance"])}


async def frontier_view(engine: Engine, session_id: str) -> dict[str, Any]:
    """The frontier's nodes with their texts, in creation order (the first 1,000)."""
    state = await _state(engine, session_id)
    graph = state.graph
    ids = graph.frontier_ids()
    shown = ids[:FRONTIER_VIEW_MAX]
    texts = await engine.node_texts(session_id, state, shown)
    nodes = []
    for nid in shown:
        node = graph.nodes[nid]
        nodes.append(
            {
                "id": nid,
                "kind": node.kind,
                "depth": node.depth,
                "parents": list(node.parents),
                "score": node.score,
                "content": texts.get(nid, ""),
            }
        )
    return {"sessionId": session_id, "frontier": nodes, "frontierSize": len(ids), "truncated": len(ids) > len(shown)}


def _active(state: SessionState, node_id: str, name: str) -> None:
    node = state.graph.nodes.get(node_id)
    if node is None:
        raise UnknownReference(f"{name} {node_id!r} names no node of this session")
    if node.status == "pruned":
        raise NodeInactive(f"{name} {node_id!r} was pruned; work from an active node")


async def _goal(engine: Engine, session_id: str, state: SessionState) -> str | None:
    deliberation = state.graph.deliberation
    if deliberation is None:
        return None
    return (await engine.node_texts(session_id, state, [deliberation.root_id])).get(deliberation.root_id)


def _context(goal: str | None, node_id: str, text: str) -> str:
    """The goal, then the node (once, when the node is the goal itself)."""
    if goal is not None and text == goal:
        return f"Goal ({node_id}): {snippet(goal, 600)}"
    head = f"Goal: {snippet(goal, 300)}\n" if goal else ""
    return f"{head}Node {node_id}: {snippet(text, 600)}"


async def expand_prompts(
    engine: Engine, session_id: str, from_ids: Sequence[str], strategy: str, count: int
) -> dict[str, Any]:
    """Ready prompts for the agent to answer with ``add_thought``; creates nothing."""
    state = await _state(engine, session_id)
    if strategy not in EXPAND_STRATEGIES:
        raise InvalidInput(f"strategy {strategy!r} is unknown; use one of {', '.join(EXPAND_STRATEGIES)}")
    if not from_ids or len(set(from_ids)) != len(from_ids):
        raise InvalidInput("fromNodeIds needs distinct node ids")
    for nid in from_ids:
        _active(state, nid, "fromNodeIds")
    if count < 1:
        raise InvalidInput("count must be at least 1")
    warnings = []
    deliberation = state.graph.deliberation
    cap = deliberation.limits.max_branches_per_expand if deliberation is not None else 16
    if count > cap:
        warnings.append(f"count {count} clamped to max_branches_per_expand={cap}")
        count = cap
    texts = await engine.node_texts(session_id, state, list(from_ids))
    goal = await _goal(engine, session_id, state)
    prompts = []
    if strategy == "skeleton_first":
        if len(from_ids) != 1:
            raise InvalidInput("strategy skeleton_first needs exactly one node in fromNodeIds")
        (nid,) = from_ids
        outline = {
            "fromNodeId": nid,
            "lens": "outline",
            "prompt": (
                f"{_context(goal, nid, texts.get(nid, ''))}\n\n"
                f"Write an outline of {max(2, count)} distinct points that together answer this node, one line "
                "each. Record each point with add_thought; then elaborate each under it."
            ),
            "addThought": {"sessionId": session_id, "parentIds": [nid], "tags": ["sot", "skeleton"]},
        }
        return {
            "sessionId": session_id,
            "generation": "prompt_pack",
            "strategy": strategy,
            "prompts": [outline],
            "createdNodes": [],
            "note": "nothing was created: write the outline and record each point with add_thought",
            "warnings": warnings,
        }
    for nid in from_ids:
        for label, question in expand_items(strategy, texts.get(nid, ""), count):
            prompts.append(
                {
                    "fromNodeId": nid,
                    "lens": label,
                    "prompt": (
                        f"{_context(goal, nid, texts.get(nid, ''))}\n\n{question}\n"
                        "Answer in 1-4 sentences with one concrete idea; record it with add_thought."
                    ),
                    "addThought": {"sessionId": session_id, "parentIds": [nid], "tags": [strategy, label]},
                }
            )
    return {
        "sessionId": session_id,
        "generation": "prompt_pack",
        "strategy": strategy,
        "prompts": prompts,
        "createdNodes": [],
        "note": "nothing was created: answer each prompt and record the answer with add_thought",
        "warnings": warnings,
    }


async def elaboration_prompts(
    engine: Engine, session_id: str, phase_id: str | None, skeleton_ids: Sequence[str] | None, depth: int
) -> dict[str, Any]:
    """Prompts to elaborate a skeleton phase's points; creates nothing and leaves the phase open."""
    state = await _state(engine, session_id)
    phases = state.graph.phases
    if phase_id is None:
        open_phases = [pid for pid, p in phases.items() if not p.elaborated]
        if not open_phases:
            raise InvalidInput("no skeleton phase waits for elaboration: run start_skeleton_of_thought first")
        phase_id = max(open_phases, key=lambda pid: int(pid.rpartition("-")[2]))
    phase = phases.get(phase_id)
    if phase is None:
        raise UnknownReference(f"phaseId {phase_id!r} names no skeleton phase")
    ids = list(skeleton_ids) if skeleton_ids is not None else list(phase.skeleton_ids)
    for nid in ids:
        if nid not in phase.skeleton_ids:
            raise InvalidInput(f"{nid} is not a skeleton node of phase {phase_id}")
        _active(state, nid, "skeletonNodeIds")
    depth = min(8, max(1, depth))
    texts = await engine.node_texts(session_id, state, ids)
    goal = await _goal(engine, session_id, state)
    context = f"Goal: {snippet(goal, 300)}\n" if goal else ""
    prompts = [
        {
            "skeletonNodeId": nid,
            "prompt": (
                f"{context}Outline point {nid}: {snippet(texts.get(nid, ''), 400)}\n\n"
                f"Elaborate this point in {depth} short paragraph(s), concrete and specific to the goal. "
                "Record each paragraph with add_thought (parentIds=[the point, or your previous paragraph])."
            ),
            "addThought": {"sessionId": session_id, "parentIds": [nid], "tags": ["sot", "elaboration"]},
        }
        for nid in ids
    ]
    return {
        "sessionId": session_id,
        "status": "PROMPT_PACK_READY",
        "phaseId": phase_id,
        "promptPack": prompts,
        "elaborationNodeIdsBySkeleton": {},
        "limitations": "nothing was created; the phase stays open for heuristic elaboration",
    }


def _modes() -> list[dict[str, Any]]:
    aliases = {w: a for a, w in MODE_ALIASES.items()}
    table = {
        "cot": (
            "Quick",
            "low",
            "A linear chain: one step per call, revisions and branches when needed.",
            ["sequentialthinking", "get_thinking_history"],
            ["none: ends when the chain does"],
        ),
        "tot": (
            "Explore",
            "medium",
            "A tree: expand alternatives, score them, prune to a beam, repeat from the frontier.",
            ["start_deliberation", "expand_thoughts", "add_thought", "score_thoughts", "prune_thoughts"],
            ["limits (depth, nodes, branches per expand)", "beam width"],
        ),
        "got": (
            "Map",
            "medium-high",
            "A graph: typed edges between ideas, then merge or distill the survivors.",
            [
                "start_deliberation",
                "add_thought",
                "link_thoughts",
                "merge_thought_branches",
                "distill_thought_cluster",
                "refine_thoughts",
            ],
            ["no cycles among depends_on/refines edges", "limits (nodes, edges)"],
        ),
        "sot": (
            "Sketch",
            "medium",
            "Outline first, then elaborate each point; for open, multi-aspect problems.",
            ["start_deliberation", "start_skeleton_of_thought", "run_skeleton_elaboration", "add_thought"],
            ["suitability gate (refuses short factual questions, proofs, calculations, exact debugging)"],
        ),
        "governed": (
            "Test",
            "high",
            "Explore as tot, then gate the answer on verified claims.",
            ["start_deliberation", "expand_thoughts", "add_thought", "score_thoughts", "prune_thoughts"],
            ["verification gates arrive with the governance toolset (not yet available)"],
        ),
    }
    return [
        {
            "mode": mode,
            "alias": aliases[mode],
            "label": table[mode][0],
            "estimatedCost": table[mode][1],
            "description": table[mode][2],
            "tools": table[mode][3],
            "gates": table[mode][4],
        }
        for mode in MODES
    ]


THINKING_MODES: dict[str, Any] = {
    "modes": _modes(),
    "aliases": dict(MODE_ALIASES),
    "profiles": {name: {"limits": limits.to_dict(), "beamWidth": beam} for name, (limits, beam) in PROFILES.items()},
}
assert all(normalise_mode(a) in MODES for a in MODE_ALIASES)
