"""Toolsets: which tools a server lists.

Every tool in ``tools/list`` costs the agent context on every turn, so tools come in
groups and only a small default is on. ``core`` is always on. Sizes measured by
``tests/mcp/test_toolsets.py`` and stated in the README.
"""

from __future__ import annotations

from thinkgate.errors import ConfigError

__all__ = ["DEFAULT_TOOLSETS", "TOOLSETS", "parse_toolsets", "tools_of"]

TOOLSETS: dict[str, tuple[str, ...]] = {
    "core": ("sequentialthinking", "get_thinking_history", "list_sessions", "clear_thinking_history"),
    "graph": (
        "start_deliberation",
        "add_thought",
        "expand_thoughts",
        "score_thoughts",
        "prune_thoughts",
        "link_thoughts",
        "merge_thought_branches",
        "distill_thought_cluster",
        "refine_thoughts",
    ),
    "sot": ("start_skeleton_of_thought", "run_skeleton_elaboration"),
    "governance": (
        "verify_thoughts",
        "add_evidence",
        "set_verification_policy",
        "record_assumption",
        "set_assumption_status",
        "run_reasoning_checkpoint",
        "converge_reasoning",
        "consensus_answer",
        "run_governance_pipeline",
        "record_outcome",
    ),
}
DEFAULT_TOOLSETS: frozenset[str] = frozenset({"core", "graph", "governance"})


def parse_toolsets(spec: str | None) -> frozenset[str]:
    """``"graph,sot"`` → the toolsets (``core`` always included); ``all`` enables every one.

    Raises:
        ConfigError: an unknown toolset name.
    """
    if spec is None or not spec.strip():
        return DEFAULT_TOOLSETS
    names = {part.strip().lower() for part in spec.split(",") if part.strip()}
    if "all" in names:
        return frozenset(TOOLSETS)
    unknown = sorted(names - TOOLSETS.keys())
    if unknown:
        raise ConfigError(f"unknown toolset(s) {', '.join(unknown)}; choose from {', '.join(TOOLSETS)}, or all")
    return frozenset(names | {"core"})


def tools_of(toolsets: frozenset[str]) -> frozenset[str]:
    """The tool names the toolsets enable."""
    return frozenset(name for ts in toolsets for name in TOOLSETS[ts])
