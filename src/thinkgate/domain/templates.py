"""Texts the deliberation tools generate without a model: prompt packs and labelled scaffolds.

Nothing here pretends to be reasoning. A *prompt* asks the agent to write a node (it
answers with ``add_thought``); a *scaffold* node holds a question or an outline slot, is
kind ``scaffold``/``skeleton``/``elaboration``, and carries ``provenance.mode =
"heuristic"`` so that no reader mistakes it for content.
"""

from __future__ import annotations

__all__ = [
    "EXPAND_STRATEGIES",
    "SOT_STYLES",
    "expand_items",
    "skeleton_items",
    "snippet",
]

EXPAND_STRATEGIES = ("diverse", "least_to_most", "contrarian", "direct", "skeleton_first")

# strategy -> (label, question about the source) pairs, used in order.
_EXPAND: dict[str, tuple[tuple[str, str], ...]] = {
    "diverse": (
        ("first principles", "Rebuild «{s}» from first principles: which assumptions does it rest on?"),
        ("failure modes", "How could «{s}» fail, and what would the failure look like first?"),
        ("simplest option", "What is the simplest approach that would still achieve «{s}»?"),
        ("user's view", "How does «{s}» look to the people who use or operate the result?"),
        ("analogy", "Which solved problem from another field resembles «{s}», and what transfers?"),
        ("cost and effort", "What does «{s}» cost in time, money and risk, and what is cheaper?"),
        ("evidence", "What evidence would confirm or refute «{s}», and how can it be obtained?"),
        ("long term", "What does «{s}» imply a year from now: maintenance, scale, lock-in?"),
    ),
    "least_to_most": (
        ("simplest sub-problem", "What is the smallest sub-problem of «{s}» that can be solved on its own?"),
        ("next sub-problem", "Building on the previous sub-problem, what is the next step towards «{s}»?"),
        ("harder sub-problem", "Which harder part of «{s}» remains once the earlier steps are solved?"),
        ("integration", "How do the solved sub-problems combine into a solution of «{s}»?"),
        ("edge cases", "Which edge cases of «{s}» do the combined steps still miss?"),
        ("verification", "How can the assembled solution of «{s}» be checked end to end?"),
        ("generalisation", "Does the solution of «{s}» generalise, and where does it stop working?"),
        ("clean-up", "What can be simplified in the solution of «{s}» now that it works?"),
    ),
    "contrarian": (
        ("opposite claim", "Assume «{s}» is wrong: what is the strongest argument for the opposite?"),
        ("refuting evidence", "Which observation would refute «{s}» outright?"),
        ("hidden cost", "What does «{s}» quietly give up or make worse?"),
        ("opposite approach", "What happens if we do the opposite of «{s}»?"),
        ("devil's advocate", "How would a sceptical expert attack «{s}»?"),
        ("base rates", "How often do approaches like «{s}» fail in practice, and why?"),
        ("second-order effects", "Which second-order effects of «{s}» were not considered?"),
        ("do nothing", "What if nothing is done about «{s}»: is that acceptable?"),
    ),
    "direct": (
        ("next step", "What is the next concrete step after «{s}»?"),
        ("following step", "And the step after that, towards finishing «{s}»?"),
        ("check", "How do we check that the steps after «{s}» worked?"),
        ("finish", "What remains to finish «{s}»?"),
        ("step 5", "Continue «{s}»: the fifth step."),
        ("step 6", "Continue «{s}»: the sixth step."),
        ("step 7", "Continue «{s}»: the seventh step."),
        ("step 8", "Continue «{s}»: the eighth step."),
    ),
}

SOT_STYLES = ("multi_lens", "decomposition", "hypothesis_set", "stakeholder_views", "implementation_plan")

_SOT: dict[str, tuple[tuple[str, str], ...]] = {
    "multi_lens": (
        ("technical", "The technical side of «{s}»: mechanisms, constraints, feasibility."),
        ("risk", "The risks of «{s}»: what can go wrong and how likely it is."),
        ("people", "The human side of «{s}»: who is affected and how."),
        ("economics", "The cost and value of «{s}»."),
        ("time", "The timeline of «{s}»: what comes first, what can wait."),
        ("evidence", "What is known and unknown about «{s}»."),
        ("alternatives", "The alternatives to «{s}»."),
        ("operations", "Running «{s}» day to day."),
        ("ethics", "The ethical and legal side of «{s}»."),
        ("long term", "Where «{s}» leads in the long run."),
    ),
    "decomposition": tuple(
        (f"part {i}", f"Part {i} of «{{s}}»: name it and state what it must achieve.") for i in range(1, 11)
    ),
    "hypothesis_set": tuple(
        (f"hypothesis {i}", f"Hypothesis {i} explaining «{{s}}»: state it so that evidence can test it.")
        for i in range(1, 11)
    ),
    "stakeholder_views": (
        ("users", "How the users see «{s}»."),
        ("operators", "How the people who run it see «{s}»."),
        ("owners", "How the people who pay for it see «{s}»."),
        ("builders", "How the people who build it see «{s}»."),
        ("security", "How a security reviewer sees «{s}»."),
        ("regulators", "How a regulator or auditor sees «{s}»."),
        ("newcomers", "How someone new to the problem sees «{s}»."),
        ("critics", "How a critic of the plan sees «{s}»."),
        ("partners", "How external partners see «{s}»."),
        ("future maintainers", "How a maintainer in two years sees «{s}»."),
    ),
    "implementation_plan": (
        ("requirements", "Requirements of «{s}»: what must be true when it is done."),
        ("design", "Design of «{s}»: the main components and their interfaces."),
        ("build", "Building «{s}»: the order of work."),
        ("tests", "Testing «{s}»: what proves it works."),
        ("rollout", "Rolling out «{s}»: steps and fallbacks."),
        ("operations", "Operating «{s}»: monitoring and support."),
        ("migration", "Migrating to «{s}» from what exists."),
        ("documentation", "Documenting «{s}» for its users."),
        ("risks", "Risks of implementing «{s}» and their mitigations."),
        ("follow-up", "Follow-up work after «{s}» ships."),
    ),
}


def snippet(text: str, limit: int = 120) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def expand_items(strategy: str, source_text: str, count: int, offset: int = 0) -> list[tuple[str, str]]:
    """``count`` (label, question) pairs for expanding a node with ``strategy``."""
    table = _EXPAND[strategy]
    s = snippet(source_text, 100)
    return [
        (table[(offset + i) % len(table)][0], table[(offset + i) % len(table)][1].format(s=s)) for i in range(count)
    ]


def skeleton_items(style: str, source_text: str, count: int, labels: list[str] | None = None) -> list[tuple[str, str]]:
    """``count`` (label, outline point) pairs of a Skeleton-of-Thought in ``style``."""
    table = _SOT[style]
    s = snippet(source_text, 100)
    out = []
    for i in range(count):
        label, template = table[i % len(table)]
        text = template.format(s=s)
        if labels is not None and i < len(labels):
            label = labels[i]
            text = f"{label}: the part of «{s}» this covers, in a few sentences."
        out.append((label, text))
    return out
