"""Pictures of a session's deliberation graph: Mermaid, Graphviz DOT and JSON.

Pure functions of the graph view (``Engine.graph_view``): no I/O, no engine imports, and the
same view always gives the same text. Every string in the view is untrusted: node content,
ids, kinds and notes are reduced to one printable line and escaped, so no content can end a
label, start a statement or smuggle in a directive. Node ids are never written as diagram
ids: nodes are ``n0, n1, …`` in view order (``m0, …`` for an edge end that names no node),
and the real id is shown in the label.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = ["FORMATS", "Renderer", "render_dot", "render_json", "render_mermaid"]

Renderer = Callable[[Mapping[str, Any]], str]

SNIPPET_CHARS: Final = 60
TITLE_CHARS: Final = 100
NOTE_CHARS: Final = 40

GREY_FILL, GREY_LINE, GREY_TEXT = "#eeeeee", "#bdbdbd", "#9e9e9e"
FRONTIER = "#ef6c00"


@dataclass(frozen=True, slots=True)
class EdgeStyle:
    """How one edge kind is drawn in each format."""

    mermaid_arrow: str
    color: str
    dot_style: str
    dot_arrowhead: str
    labelled: bool


EDGE_STYLES: Final = MappingProxyType(
    {
        "parent": EdgeStyle("-->", "#757575", "solid", "normal", labelled=False),
        "supports": EdgeStyle("--o", "#2e7d32", "solid", "dot", labelled=True),
        "conflicts": EdgeStyle("-.-x", "#c62828", "dashed", "tee", labelled=True),
        "depends_on": EdgeStyle("==>", "#1565c0", "bold", "normal", labelled=True),
        "refines": EdgeStyle("-.->", "#6a1b9a", "dotted", "empty", labelled=True),
    }
)
# An edge kind outside the contract is still drawn, neutrally, with its (sanitised) name.
OTHER_EDGE: Final = EdgeStyle("-.->", "#616161", "dotted", "normal", labelled=True)

# Characters that keep their meaning on one line; everything else that is not plain text goes.
_KEEP_FORMAT = frozenset("\u200c\u200d")  # zero-width (non-)joiners hold emoji and scripts together


def one_line(text: str, limit: int) -> str:
    """``text`` as one printable line of at most ``limit`` characters (``…`` marks a cut).

    Control, separator and line-break characters become spaces (runs collapse), invisible
    format characters such as bidi overrides are dropped, and lone surrogates and
    noncharacters become U+FFFD, so the result encodes as UTF-8 and is valid XML text.
    """
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zs", "Zl", "Zp"):
            out.append(" ")
        elif cat == "Cf" and ch not in _KEEP_FORMAT:
            continue
        elif cat == "Cs" or _noncharacter(ch):
            out.append("\ufffd")
        else:
            out.append(ch)
    line = " ".join(part for part in "".join(out).split(" ") if part)
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def _noncharacter(ch: str) -> bool:
    cp = ord(ch)
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


@dataclass(frozen=True, slots=True)
class _Node:
    key: str  # the diagram id: n<i>, or m<i> for an edge end that names no node
    header: str
    snippet: str
    root: bool
    pruned: bool
    frontier: bool
    missing: bool


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str
    target: str
    style: EdgeStyle
    label: str


@dataclass(frozen=True, slots=True)
class _Graph:
    title: str
    nodes: tuple[_Node, ...]
    edges: tuple[_Edge, ...]


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _seq(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _header(node: Mapping[str, Any], node_id: str) -> str:
    parts = [one_line(node_id, 40) or "?"]
    kind = one_line(_text(node.get("kind")), 20)
    number = node.get("thoughtNumber")
    if kind == "chain" and isinstance(number, int) and not isinstance(number, bool):
        parts.append(f"#{number}")
    if kind and kind not in ("thought", "chain"):
        parts.append(f"[{kind}]")
    score = node.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        parts.append(f"{float(score):.2f}")
    return " ".join(parts)


def _graph(view: Mapping[str, Any]) -> _Graph:
    """The view reduced to what a picture shows, with every string sanitised once."""
    deliberation = view.get("deliberation")
    deliberation = deliberation if isinstance(deliberation, Mapping) else {}
    root_id = _text(deliberation.get("rootId"))
    frontier_ids = {_text(i) for i in _seq(view.get("frontier"))}
    nodes: list[_Node] = []
    keys: dict[str, str] = {}
    for i, raw in enumerate(_seq(view.get("nodes"))):
        node: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        node_id = _text(node.get("id"))
        key = f"n{i}"
        keys.setdefault(node_id, key)
        nodes.append(
            _Node(
                key=key,
                header=_header(node, node_id),
                snippet=one_line(_text(node.get("content")), SNIPPET_CHARS),
                root=node.get("kind") == "root" or (bool(root_id) and node_id == root_id),
                pruned=node.get("status") == "pruned",
                frontier=node.get("frontier") is True or node_id in frontier_ids,
                missing=False,
            )
        )
    edges: list[_Edge] = []
    missing = 0
    for raw in _seq(view.get("edges")):
        edge: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        ends = []
        for end in (_text(edge.get("source")), _text(edge.get("target"))):
            if end not in keys:
                keys[end] = f"m{missing}"
                missing += 1
                nodes.append(
                    _Node(keys[end], f"{one_line(end, 40) or '?'} (missing)", "", False, False, False, missing=True)
                )
            ends.append(keys[end])
        kind = _text(edge.get("kind"))
        style = EDGE_STYLES.get(kind, OTHER_EDGE)
        note = one_line(_text(edge.get("note")), NOTE_CHARS)
        name = one_line(kind, 20) if style.labelled else ""
        label = f"{name}: {note}" if name and note else name or note
        edges.append(_Edge(ends[0], ends[1], style, label))
    title = one_line(_text(deliberation.get("goal")), TITLE_CHARS)
    return _Graph(title, tuple(nodes), tuple(edges))


# --- Mermaid ---------------------------------------------------------------------------------

# Inside a quoted Mermaid label, these are written as entity codes (``#quot;``, ``#35;``): they
# could end the string, start a comment or directive (``%%``), be read as an entity (``#…;``),
# or become HTML once the label is drawn. ``:`` is escaped because Mermaid rewrites any line
# matching ``style…:…#…;`` before parsing, which would cut an entity code short.
_MERMAID_ENTITIES: Final = {
    '"': "#quot;",
    "#": "#35;",
    ";": "#59;",
    ":": "#58;",
    "%": "#37;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "|": "#124;",
    "[": "#91;",
    "]": "#93;",
    "(": "#40;",
    ")": "#41;",
    "{": "#123;",
    "}": "#125;",
    "\\": "#92;",
}
_MERMAID_TABLE: Final = str.maketrans(_MERMAID_ENTITIES)


def mermaid_text(line: str) -> str:
    """A sanitised line escaped for a ``"…"`` Mermaid label."""
    return line.translate(_MERMAID_TABLE)


def _yaml_title(title: str) -> str:
    # A YAML double-quoted scalar with the risky ASCII as \x escapes: js-yaml decodes them, and
    # the raw text keeps no quote, %%, # or ; for Mermaid's own pre-parsing to act on.
    return '"' + "".join(f"\\x{ord(c):02x}" if c in _MERMAID_ENTITIES or c == "'" else c for c in title) + '"'


def render_mermaid(view: Mapping[str, Any]) -> str:
    """The graph as a Mermaid flowchart (``flowchart TD``) with a title from the goal.

    Pruned nodes are grey and dashed, frontier nodes have an orange border, the root is a
    stadium; each edge kind has its own arrow, colour and label (see the legend comment).
    """
    g = _graph(view)
    out: list[str] = []
    if g.title:
        out += ["---", f"title: {_yaml_title(g.title)}", "---"]
    out += [
        "flowchart TD",
        "%% nodes: stadium = root, grey dashed = pruned, orange border = frontier, dashed = missing",
        "%% edges: --> parent (grey), --o supports (green), -.-x conflicts (red),",
        "%%        ==> depends_on (blue, thick), -.-> refines (purple)",
    ]
    for n in g.nodes:
        label = mermaid_text(n.header) + (f"<br/>{mermaid_text(n.snippet)}" if n.snippet else "")
        open_, close = ("([", "])") if n.root else ("[", "]")
        out.append(f'    {n.key}{open_}"{label}"{close}')
    by_style: dict[EdgeStyle, list[str]] = {}
    for i, e in enumerate(g.edges):
        label = f'|"{mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"    {e.source} {e.style.mermaid_arrow}{label} {e.target}")
        by_style.setdefault(e.style, []).append(str(i))
    for style, indices in by_style.items():
        out.append(f"    linkStyle {','.join(indices)} stroke:{style.color},color:{style.color}")
    out += [
        f"    classDef pruned fill:{GREY_FILL},stroke:{GREY_LINE},color:{GREY_TEXT},stroke-dasharray:4 3",
        f"    classDef frontier stroke:{FRONTIER},stroke-width:3px",
        "    classDef root stroke-width:2px",
        f"    classDef missing fill:#ffffff,stroke:{GREY_LINE},color:{GREY_TEXT},stroke-dasharray:2 2",
    ]
    for cls in ("root", "pruned", "frontier", "missing"):
        members = [n.key for n in g.nodes if getattr(n, cls)]
        if members:
            out.append(f"    class {','.join(members)} {cls}")
    return "\n".join(out) + "\n"


# --- Graphviz DOT ----------------------------------------------------------------------------


def dot_string(line: str) -> str:
    """A sanitised line as a quoted DOT string.

    Backslashes are doubled (Graphviz reads ``\\n``, ``\\N``, ``\\G`` … in labels) and ``&``
    becomes ``&amp;`` (Graphviz expands entity references in plain labels too).
    """
    return '"' + line.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") + '"'


def _attrs(pairs: Iterable[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in pairs) + "]"


def _dot_node(n: _Node) -> str:
    label = dot_string(n.header)[:-1] + (f"\\n{dot_string(n.snippet)[1:]}" if n.snippet else '"')
    attrs = [("label", label)]
    styles = ["filled"] if n.root else ["rounded", "filled"]
    if n.root:
        attrs.append(("shape", "doubleoctagon"))
    if n.pruned or n.missing:
        styles.append("dashed")
        attrs += [("fontcolor", f'"{GREY_TEXT}"'), ("fillcolor", f'"{GREY_FILL}"' if n.pruned else '"#ffffff"')]
    if n.frontier:
        attrs += [("color", f'"{FRONTIER}"'), ("penwidth", "2.5")]
    elif n.pruned or n.missing:
        attrs.append(("color", f'"{GREY_LINE}"'))
    attrs.append(("style", '"' + ",".join(styles) + '"'))
    return f"    {n.key} {_attrs(attrs)};"


def _dot_edge(source: str, target: str, style: EdgeStyle, label: str) -> str:
    attrs = [("color", f'"{style.color}"'), ("style", style.dot_style), ("arrowhead", style.dot_arrowhead)]
    if label:
        attrs += [("label", dot_string(label)), ("fontcolor", f'"{style.color}"')]
    return f"    {source} -> {target} {_attrs(attrs)};"


def render_dot(view: Mapping[str, Any]) -> str:
    """The graph as a Graphviz digraph with a title from the goal and a legend cluster.

    Pruned nodes are grey (fill, border and text) and dashed, frontier nodes have a thick
    orange border, the root is a double octagon; each edge kind has its own line style,
    arrowhead, colour and label. The legend (``cluster_legend``, nodes ``legend_*``) shows
    the edge kinds that occur.
    """
    g = _graph(view)
    out = ["digraph deliberation {"]
    graph_attrs = [("rankdir", "TB"), ("fontname", "Helvetica")]
    if g.title:
        graph_attrs += [("label", dot_string(g.title)), ("labelloc", "t"), ("fontsize", "16")]
    out.append(f"    graph {_attrs(graph_attrs)};")
    out.append('    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];')
    out.append('    edge [fontname="Helvetica", fontsize=9];')
    out += [_dot_node(n) for n in g.nodes]
    out += [_dot_edge(e.source, e.target, e.style, e.label) for e in g.edges]
    used = {e.style for e in g.edges}
    legend = [(kind, s) for kind, s in EDGE_STYLES.items() if s in used]
    if OTHER_EDGE in used:
        legend.append(("other", OTHER_EDGE))
    if legend:
        out += [
            "    subgraph cluster_legend {",
            '        label="legend"; fontsize=10; color="#bdbdbd"; style=dashed;',
            '        node [shape=point, width=0.05, label=""];',
        ]
        for i, (kind, style) in enumerate(legend):
            out.append(f"        legend_{i}a; legend_{i}b;")
            out.append("    " + _dot_edge(f"legend_{i}a", f"legend_{i}b", style, kind))
        out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


# --- JSON ------------------------------------------------------------------------------------


def render_json(view: Mapping[str, Any]) -> str:
    """The view itself as indented JSON with sorted keys (lists keep their order).

    Raises:
        ValueError: a number in the view is NaN or infinite (not JSON).
    """
    return json.dumps(view, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


FORMATS: Final[Mapping[str, Renderer]] = MappingProxyType(
    {"dot": render_dot, "json": render_json, "mermaid": render_mermaid}
)
