"""Pictures of the deliberation graph, checked by the real parsers.

Mermaid output goes through Mermaid's own parser (``mermaid.parse`` and the flowchart database,
under a jsdom window) and DOT output through Graphviz itself (compiled to WebAssembly) and
pydot. Both run in one long-lived Node process for the whole module. The last tests run
``thinkgate sessions show --format`` as a subprocess against a real SQLite store.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import os
import re
import selectors
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pydot
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nodeenv
from thinkgate.render import FORMATS, SNIPPET_CHARS, one_line, render_dot, render_json, render_mermaid

# pydot 4.0 still calls pyparsing's camelCase names, which pyparsing 3.3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:.* deprecated - use :DeprecationWarning:pydot")

DANGEROUS = [
    '"',
    "'",
    "#",
    ";",
    "#quot;",
    "#35;",
    "&amp;",
    "&lt;",
    "%%",
    "%%{init: {'theme': 'dark'}}%%",
    "-->",
    "==>",
    "-.->",
    "---",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "|",
    "`",
    "```",
    "<script>alert(1)</script>",
    "<br>",
    "<b>x</b>",
    "\\",
    "\\n",
    "\\N",
    "\\G",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\uffff",
    "style n0 fill:#f00;",
    "classDef x fill:#f00",
    "click n0 call alert()",
    "end",
    "subgraph",
    "}; digraph x {",
    '"]; n0 -> n1; x [label="',
    "<<TABLE>>",
    "🚀",
    "👩‍👩‍👧",
    "é",
    "日本語",
]

VIEW: dict[str, Any] = {
    "sessionId": "3f2a9c",
    "deliberation": {
        "goal": 'Pick a "cache" strategy; 50% faster',
        "constraints": ["no new services"],
        "mode": "got",
        "profile": "deep",
        "limits": {"max_depth": 5, "max_nodes": 50, "max_edges": 100, "max_branches_per_expand": 3},
        "rootId": "t1",
    },
    "nodes": [
        {
            "id": "t1",
            "kind": "root",
            "content": "Decide on caching",
            "status": "active",
            "depth": 0,
            "parents": [],
            "branchId": None,
            "tags": [],
            "provenance": {"mode": "agent", "tool": "deliberate"},
            "score": None,
            "frontier": False,
        },
        {
            "id": "t2",
            "kind": "chain",
            "content": 'Use an LRU "in-process"\n--> fast; <script>x</script>',
            "status": "active",
            "depth": 1,
            "parents": ["t1"],
            "branchId": None,
            "tags": ["fast"],
            "provenance": {"mode": "agent", "tool": "sequentialthinking"},
            "score": 0.8567,
            "thoughtNumber": 2,
            "frontier": True,
        },
        {
            "id": "t3",
            "kind": "thought",
            "content": "Redis 🚀 café",
            "status": "pruned",
            "depth": 1,
            "parents": ["t1"],
            "branchId": "b1",
            "tags": [],
            "provenance": {"mode": "heuristic", "tool": "expand"},
            "score": 0.2,
            "frontier": False,
        },
        {
            "id": "t4",
            "kind": "merged",
            "content": "x" * 200,
            "status": "active",
            "depth": 2,
            "parents": ["t2", "t3"],
            "branchId": None,
            "tags": [],
            "provenance": {"mode": "model_backed", "tool": "merge"},
            "score": None,
            "frontier": False,
        },
    ],
    "edges": [
        {"source": "t1", "target": "t2", "kind": "parent"},
        {"source": "t1", "target": "t3", "kind": "parent"},
        {"source": "t2", "target": "t4", "kind": "parent"},
        {"source": "t3", "target": "t4", "kind": "parent"},
        {"source": "t2", "target": "t3", "kind": "conflicts", "note": "memory vs network"},
        {"source": "t4", "target": "t2", "kind": "supports"},
        {"source": "t4", "target": "t1", "kind": "depends_on"},
        {"source": "t4", "target": "t3", "kind": "refines"},
    ],
    "frontier": ["t2", "t4"],
}

# Node/header/snippet as the pictures must show them (ids become n0, n1, … in view order).
EXPECTED_LABELS = {
    "n0": ("t1 [root]", "Decide on caching"),
    "n1": ("t2 #2 0.86", 'Use an LRU "in-process" --> fast; <script>x</script>'),
    "n2": ("t3 0.20", "Redis 🚀 café"),
    "n3": ("t4 [merged]", "x" * (SNIPPET_CHARS - 1) + "…"),
}
EDGE_KINDS = ["parent"] * 4 + ["conflicts", "supports", "depends_on", "refines"]
EDGE_ENDS = [
    ("n0", "n1"),
    ("n0", "n2"),
    ("n1", "n3"),
    ("n2", "n3"),
    ("n1", "n2"),
    ("n3", "n1"),
    ("n3", "n0"),
    ("n3", "n2"),
]

# --- the Node side: Mermaid's parser and Graphviz, one process for the module -----------------

_NODE_SCRIPT = r"""
import { JSDOM } from 'jsdom';
import { createInterface } from 'node:readline';
const { window } = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import('mermaid');
const { instance } = await import('@viz-js/viz');
const viz = await instance();
mermaid.initialize({ startOnLoad: false });

async function mermaidCheck(text) {
  const parsed = await mermaid.parse(text);
  const db = (await mermaid.mermaidAPI.getDiagramFromText(text)).db;
  return {
    type: parsed.diagramType,
    config: parsed.config,
    vertices: [...db.getVertices().values()].map((v) => ({
      id: v.id, text: v.text, type: v.type ?? null, classes: v.classes,
    })),
    edges: db.getEdges().map((e) => ({
      start: e.start, end: e.end, type: e.type, stroke: e.stroke, text: e.text, style: e.style ?? [],
    })),
    classes: Object.fromEntries([...db.getClasses().entries()].map(([k, v]) => [k, v.styles])),
  };
}

function dotCheck(text) {
  const r = viz.render(text, { format: 'svg' });
  if (r.status !== 'success') throw new Error(JSON.stringify(r.errors));
  return { errors: r.errors, svg: r.output };
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  const { format, text } = JSON.parse(line);
  let reply;
  try {
    reply = { ok: true, ...(format === 'mermaid' ? await mermaidCheck(text) : dotCheck(text)) };
  } catch (err) {
    reply = { ok: false, error: String((err && err.message) || err) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
"""


class NodeCheckers:
    """Sends a diagram to the Node process and reads its one-line JSON verdict (bounded wait)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.selector = selectors.DefaultSelector()
        assert proc.stdout is not None
        self.selector.register(proc.stdout, selectors.EVENT_READ)

    def _ask(self, fmt: str, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        # ensure_ascii: a lone surrogate must reach Node as \udXXX, not fail to encode here.
        self.proc.stdin.write(json.dumps({"format": fmt, "text": text}) + "\n")
        self.proc.stdin.flush()
        if not self.selector.select(timeout=60):
            raise TimeoutError(f"no answer from the {fmt} checker within 60 s")
        line = self.proc.stdout.readline()
        assert line, f"the Node checker exited: {self.proc.poll()}"
        reply: dict[str, Any] = json.loads(line)
        return reply

    def mermaid(self, text: str) -> dict[str, Any]:
        reply = self._ask("mermaid", text)
        assert reply["ok"], f"Mermaid rejected the diagram: {reply['error']}\n{text}"
        return reply

    def graphviz(self, text: str) -> Drawing:
        reply = self._ask("dot", text)
        assert reply["ok"], f"Graphviz rejected the graph: {reply['error']}\n{text}"
        # Graphviz in WebAssembly has no font metrics beyond Latin-1: it guesses those widths.
        warnings = [e for e in reply["errors"] if "no value for width of non-ASCII" not in e["message"]]
        assert warnings == [], f"Graphviz warned: {warnings}\n{text}"
        return read_svg(reply["svg"])


@pytest.fixture(scope="module")
def node() -> Iterator[NodeCheckers]:
    modules = nodeenv.render_node_modules()  # raises in CI when missing
    node22 = nodeenv.node22()
    if modules is None or node22 is None:
        pytest.skip(nodeenv.MISSING_HINT)
    proc = subprocess.Popen(
        [node22, "--input-type=module", "-e", _NODE_SCRIPT],
        cwd=modules.parent,  # bare imports resolve from <cache>/node_modules
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        yield NodeCheckers(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


# --- decoding what the parsers hand back -------------------------------------------------------


SVG = {"svg": "http://www.w3.org/2000/svg"}


def mermaid_label(text: str) -> list[str]:
    """A Mermaid vertex or edge text as drawn: lines split at ``<br>``, entity codes decoded."""

    def decode(part: str) -> str:
        # Mermaid stores #35; as ﬂ°°35¶ß and #quot; as ﬂ°quot¶ß until it draws the label.
        part = re.sub(r"ﬂ°°(\d+)¶ß", lambda m: chr(int(m[1])), part)
        return re.sub(r"ﬂ°(\w+)¶ß", lambda m: html.unescape(f"&{m[1]};"), part)

    return [decode(part) for part in text.split("<br>")]


def yaml_title(text: str) -> str | None:
    """The front-matter title, decoding the only escapes the renderer writes (``\\xNN``)."""
    m = re.match(r'---\ntitle: "((?:[^"\\]|\\x[0-9a-f]{2})*)"\n---\n', text)
    return re.sub(r"\\x([0-9a-f]{2})", lambda e: chr(int(e[1], 16)), m[1]) if m else None


def dot_lines(quoted: str) -> list[str]:
    """A quoted DOT label as Graphviz draws it: escapes read, ``\\n`` splits lines, ``&amp;`` is ``&``."""
    assert quoted.startswith('"') and quoted.endswith('"'), quoted
    lines, cur, i, body = [], [], 0, quoted[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "n":
                lines.append("".join(cur))
                cur = []
            else:
                assert nxt in '"\\', f"unexpected escape \\{nxt} in {quoted}"
                cur.append(nxt)
            i += 2
        else:
            assert ch != '"', f"raw quote in {quoted}"
            cur.append(ch)
            i += 1
    lines.append("".join(cur))
    return [html.unescape(line) for line in lines]


@dataclass(frozen=True)
class Drawn:
    """One node or edge as Graphviz drew it in SVG."""

    lines: list[str]
    fill: str | None  # the shape's fill (nodes) or the line's colour (edges)
    text_fill: str | None
    dash: str | None = None
    width: str | None = None


@dataclass(frozen=True)
class Drawing:
    title: list[str]
    nodes: dict[str, Drawn]  # by diagram id, legend left out
    edges: list[tuple[str, str, Drawn]]  # in drawing order, legend left out


def read_svg(svg: str) -> Drawing:
    """What Graphviz drew: label lines, fills and strokes per node and edge (legend left out)."""
    root = ElementTree.fromstring(svg)  # also proves the SVG is well-formed XML
    graph = root.find("svg:g[@class='graph']", SVG)
    assert graph is not None

    def drawn(g: ElementTree.Element, shape: str) -> Drawn:
        lines = [t.text or "" for t in g.findall("svg:text", SVG)]
        first = next(iter(g.findall(shape, SVG)), None)
        fills = [t.get("fill") for t in g.findall("svg:text", SVG)]
        if first is None:
            return Drawn(lines, None, fills[0] if fills else None)
        colour = first.get("fill") if shape != "svg:path" or g.get("class") == "node" else first.get("stroke")
        return Drawn(
            lines, colour, fills[0] if fills else None, first.get("stroke-dasharray"), first.get("stroke-width")
        )

    nodes: dict[str, Drawn] = {}
    edges: list[tuple[str, str, Drawn]] = []
    for g in graph.findall("svg:g", SVG):
        name = g.findtext("svg:title", "", SVG)
        if g.get("class") == "node" and re.fullmatch(r"[nm]\d+", name):
            nodes[name] = drawn(g, "svg:*[@fill]")
        elif g.get("class") == "edge" and (m := re.fullmatch(r"([nm]\d+)->([nm]\d+)", name)):
            edges.append((m[1], m[2], drawn(g, "svg:path")))
    return Drawing([t.text or "" for t in graph.findall("svg:text", SVG)], nodes, edges)


def pydot_graph(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1, text
    return graphs[0]


def pydot_nodes(graph: pydot.Dot) -> dict[str, pydot.Node]:
    return {n.get_name(): n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")}


# --- Mermaid -----------------------------------------------------------------------------------


def test_mermaid_parses_with_every_node_edge_and_label(node: NodeCheckers) -> None:
    parsed = node.mermaid(render_mermaid(VIEW))
    assert parsed["type"] == "flowchart-v2"
    vertices = {v["id"]: v for v in parsed["vertices"]}
    assert {key: tuple(mermaid_label(v["text"])) for key, v in vertices.items()} == EXPECTED_LABELS
    assert [(e["start"], e["end"]) for e in parsed["edges"]] == EDGE_ENDS


def test_mermaid_greys_pruned_nodes_and_marks_frontier_and_root(node: NodeCheckers) -> None:
    parsed = node.mermaid(render_mermaid(VIEW))
    vertices = {v["id"]: v for v in parsed["vertices"]}
    assert [k for k, v in vertices.items() if "pruned" in v["classes"]] == ["n2"]
    assert [k for k, v in vertices.items() if "frontier" in v["classes"]] == ["n1", "n3"]
    assert {k: v["type"] for k, v in vertices.items()} == {
        "n0": "stadium",
        "n1": "square",
        "n2": "square",
        "n3": "square",
    }
    pruned = dict(s.split(":", 1) for s in parsed["classes"]["pruned"])
    assert pruned["fill"] == "#eeeeee" and pruned["color"] == "#9e9e9e"


def test_mermaid_draws_each_edge_kind_differently(node: NodeCheckers) -> None:
    edges = node.mermaid(render_mermaid(VIEW))["edges"]
    drawn = {
        kind: (e["type"], e["stroke"], mermaid_label(e["text"]), next(s for s in e["style"] if s.startswith("stroke:")))
        for kind, e in zip(EDGE_KINDS, edges, strict=True)
    }
    assert drawn == {
        "parent": ("arrow_point", "normal", [""], "stroke:#757575"),
        "conflicts": ("arrow_cross", "dotted", ["conflicts: memory vs network"], "stroke:#c62828"),
        "supports": ("arrow_circle", "normal", ["supports"], "stroke:#2e7d32"),
        "depends_on": ("arrow_point", "thick", ["depends_on"], "stroke:#1565c0"),
        "refines": ("arrow_point", "dotted", ["refines"], "stroke:#6a1b9a"),
    }
    assert len({(t, s, c) for t, s, _, c in drawn.values()}) == 5


def test_mermaid_title_comes_from_the_goal(node: NodeCheckers) -> None:
    text = render_mermaid(VIEW)
    node.mermaid(text)
    assert yaml_title(text) == 'Pick a "cache" strategy; 50% faster'
    untitled = render_mermaid({**VIEW, "deliberation": None})
    assert untitled.startswith("flowchart TD\n")
    node.mermaid(untitled)


@pytest.mark.parametrize("token", DANGEROUS)
def test_mermaid_dangerous_content_stays_a_label(node: NodeCheckers, token: str) -> None:
    content = f"a{token}b {token}"
    view = _one_node_view(content, goal=f"goal {token}")
    text = render_mermaid(view)
    parsed = node.mermaid(text)
    assert parsed["config"] == {}, "content changed the diagram's configuration"
    assert [v["id"] for v in parsed["vertices"]] == ["n0", "n1"]
    assert mermaid_label(parsed["vertices"][0]["text"]) == ["t1 [root]", one_line(content, SNIPPET_CHARS)]
    assert len(parsed["edges"]) == 1
    assert yaml_title(text) == one_line(f"goal {token}", 100)


def test_mermaid_directive_in_content_is_not_applied(node: NodeCheckers) -> None:
    text = render_mermaid(_one_node_view("%%{init: {'theme': 'dark', 'securityLevel': 'loose'}}%%"))
    assert "%%{" not in text
    assert node.mermaid(text)["config"] == {}


# --- DOT ---------------------------------------------------------------------------------------


def test_dot_parses_with_every_node_edge_and_label() -> None:
    graph = pydot_graph(render_dot(VIEW))
    nodes = pydot_nodes(graph)
    assert {k: tuple(dot_lines(n.get("label"))) for k, n in nodes.items()} == EXPECTED_LABELS
    edges = graph.get_edges()
    assert len(edges) == len(VIEW["edges"])
    assert [(e.get_source(), e.get_destination()) for e in edges][:2] == [("n0", "n1"), ("n0", "n2")]
    assert dot_lines(graph.get_graph_defaults()[0]["label"]) == ['Pick a "cache" strategy; 50% faster']
    legend = graph.get_subgraph("cluster_legend")[0]
    assert [dot_lines(e.get("label"))[0] for e in legend.get_edges()] == [
        "parent",
        "supports",
        "conflicts",
        "depends_on",
        "refines",
    ]


def test_dot_greys_pruned_nodes_and_marks_frontier_and_root() -> None:
    nodes = pydot_nodes(pydot_graph(render_dot(VIEW)))
    assert nodes["n2"].get("fillcolor") == '"#eeeeee"' and nodes["n2"].get("fontcolor") == '"#9e9e9e"'
    assert [k for k, n in nodes.items() if n.get("fillcolor") == '"#eeeeee"'] == ["n2"]
    assert [k for k, n in nodes.items() if n.get("penwidth") == "2.5"] == ["n1", "n3"]
    assert [k for k, n in nodes.items() if n.get("shape") == "doubleoctagon"] == ["n0"]


def test_dot_draws_each_edge_kind_differently() -> None:
    edges = pydot_graph(render_dot(VIEW)).get_edges()
    drawn = {
        kind: (e.get("style"), e.get("arrowhead"), e.get("color"), e.get("label"))
        for kind, e in zip(EDGE_KINDS, edges, strict=True)
    }
    assert drawn == {
        "parent": ("solid", "normal", '"#757575"', None),
        "conflicts": ("dashed", "tee", '"#c62828"', '"conflicts: memory vs network"'),
        "supports": ("solid", "dot", '"#2e7d32"', '"supports"'),
        "depends_on": ("bold", "normal", '"#1565c0"', '"depends_on"'),
        "refines": ("dotted", "empty", '"#6a1b9a"', '"refines"'),
    }


def test_graphviz_draws_labels_pruned_grey_and_edge_kinds(node: NodeCheckers) -> None:
    drawing = node.graphviz(render_dot(VIEW))
    assert drawing.title == ['Pick a "cache" strategy; 50% faster']
    assert {k: tuple(n.lines) for k, n in drawing.nodes.items()} == EXPECTED_LABELS
    assert {k: (n.fill, n.text_fill) for k, n in drawing.nodes.items()} == {
        "n0": ("#ffffff", None),
        "n1": ("#ffffff", None),
        "n2": ("#eeeeee", "#9e9e9e"),
        "n3": ("#ffffff", None),
    }
    by_ends = {(a, b): e for a, b, e in drawing.edges}  # Graphviz draws edges in its own order
    assert sorted(by_ends) == sorted(EDGE_ENDS) and len(drawing.edges) == len(EDGE_ENDS)
    edges = [by_ends[ends] for ends in EDGE_ENDS]
    drawn = {kind: (e.fill, e.dash, e.width, e.lines) for kind, e in zip(EDGE_KINDS, edges, strict=True)}
    assert drawn == {
        "parent": ("#757575", None, None, []),
        "conflicts": ("#c62828", "5,2", None, ["conflicts: memory vs network"]),
        "supports": ("#2e7d32", None, None, ["supports"]),
        "depends_on": ("#1565c0", None, "2", ["depends_on"]),
        "refines": ("#6a1b9a", "1,5", None, ["refines"]),
    }


@pytest.mark.parametrize("token", DANGEROUS)
def test_dot_dangerous_content_stays_a_label(node: NodeCheckers, token: str) -> None:
    content = f"a{token}b {token}"
    text = render_dot(_one_node_view(content, goal=f"goal {token}"))
    assert all(line.endswith((";", "{", "}")) for line in text.splitlines()), "a label spilled onto a new line"
    want = ["t1 [root]", one_line(content, SNIPPET_CHARS)]
    graph = pydot_graph(text)
    assert dot_lines(pydot_nodes(graph)["n0"].get("label")) == want
    drawing = node.graphviz(text)
    assert sorted(drawing.nodes) == ["n0", "n1"] and len(drawing.edges) == 1
    assert drawing.nodes["n0"].lines == want
    assert drawing.title == [one_line(f"goal {token}", 100)]


# --- both, on arbitrary content ---------------------------------------------------------------

ANY_TEXT = st.lists(
    st.one_of(st.sampled_from(DANGEROUS), st.text(st.characters(exclude_categories=()), max_size=20)), max_size=8
).map("".join)


@st.composite
def views(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    ids = [f"t{i + 1}" for i in range(count)]
    nodes = [
        {
            "id": node_id,
            "kind": draw(st.sampled_from(["root", "chain", "thought", "merged", "refined"])),
            "content": draw(ANY_TEXT),
            "status": draw(st.sampled_from(["active", "pruned"])),
            "depth": 0,
            "parents": [],
            "branchId": None,
            "tags": [],
            "provenance": {"mode": "agent", "tool": "x"},
            "score": draw(st.none() | st.floats(0, 1)),
            "thoughtNumber": draw(st.integers(1, 10**6)),
            "frontier": draw(st.booleans()),
        }
        for node_id in ids
    ]
    kinds = st.sampled_from(["parent", "supports", "conflicts", "depends_on", "refines"])
    edge = st.fixed_dictionaries(
        {"source": st.sampled_from(ids), "target": st.sampled_from(ids), "kind": kinds},
        optional={"note": ANY_TEXT},
    )
    return {
        "sessionId": "s",
        "deliberation": draw(st.none() | st.fixed_dictionaries({"goal": ANY_TEXT, "rootId": st.just("t1")})),
        "nodes": nodes,
        "edges": draw(st.lists(edge, max_size=8)),
        "frontier": [],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(view=views())
def test_any_content_keeps_both_formats_parseable(node: NodeCheckers, view: dict[str, Any]) -> None:
    keys = [f"n{i}" for i in range(len(view["nodes"]))]
    wanted = {k: _lines(n) for k, n in zip(keys, view["nodes"], strict=True)}
    ends = [(keys[int(e["source"][1:]) - 1], keys[int(e["target"][1:]) - 1]) for e in view["edges"]]
    goal = one_line((view["deliberation"] or {}).get("goal", ""), 100)

    mermaid_text = render_mermaid(view)
    parsed = node.mermaid(mermaid_text)
    assert parsed["config"] == {}
    assert {v["id"]: mermaid_label(v["text"]) for v in parsed["vertices"]} == wanted
    assert [(e["start"], e["end"]) for e in parsed["edges"]] == ends
    assert yaml_title(mermaid_text) == (goal or None)

    dot_text = render_dot(view)
    drawing = node.graphviz(dot_text)
    assert sorted(drawing.nodes, key=lambda k: int(k[1:])) == keys
    assert sorted((a, b) for a, b, _ in drawing.edges) == sorted(ends)
    assert {k: n.lines for k, n in drawing.nodes.items()} == wanted
    assert drawing.title == ([goal] if goal else [])
    assert len(pydot_nodes(pydot_graph(dot_text))) == len(keys)


def _lines(node: Mapping[str, Any]) -> list[str]:
    """The label lines a node of the generated views must show: header, then snippet if any."""
    parts = [node["id"]]
    if node["kind"] == "chain":
        parts.append(f"#{node['thoughtNumber']}")
    if node["kind"] not in ("thought", "chain"):
        parts.append(f"[{node['kind']}]")
    if node["score"] is not None:
        parts.append(f"{node['score']:.2f}")
    snippet = one_line(node["content"], SNIPPET_CHARS)
    return [" ".join(parts), snippet] if snippet else [" ".join(parts)]


# --- JSON, determinism, edges of the contract -----------------------------------------------


def test_json_is_the_view_indented_with_sorted_keys() -> None:
    text = render_json(VIEW)
    assert json.loads(text) == VIEW
    assert text.startswith('{\n  "deliberation": {')
    reordered = dict(reversed(list(VIEW.items())))
    assert render_json(reordered) == text


def test_json_refuses_a_non_finite_score() -> None:
    bad = {**VIEW, "nodes": [{**VIEW["nodes"][0], "score": math.nan}]}
    with pytest.raises(ValueError, match="JSON"):
        render_json(bad)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_is_deterministic(name: str) -> None:
    copy = json.loads(json.dumps(VIEW))
    assert FORMATS[name](VIEW) == FORMATS[name](copy)


def test_formats_are_json_mermaid_and_dot() -> None:
    assert dict(FORMATS) == {"dot": render_dot, "json": render_json, "mermaid": render_mermaid}


def test_an_edge_to_an_unknown_node_is_drawn_to_a_missing_placeholder(node: NodeCheckers) -> None:
    view = {**VIEW, "edges": [*VIEW["edges"], {"source": "t4", "target": "t99", "kind": "supports"}]}
    parsed = node.mermaid(render_mermaid(view))
    vertices = {v["id"]: v for v in parsed["vertices"]}
    assert mermaid_label(vertices["m0"]["text"]) == ["t99 (missing)"]
    assert vertices["m0"]["classes"] == ["missing"]
    drawing = node.graphviz(render_dot(view))
    assert drawing.nodes["m0"].lines == ["t99 (missing)"]
    assert ("n3", "m0") in [(a, b) for a, b, _ in drawing.edges]


def test_an_unknown_edge_kind_is_drawn_neutrally_with_its_name(node: NodeCheckers) -> None:
    view = {**VIEW, "edges": [{"source": "t1", "target": "t2", "kind": "blocks]-->x"}]}
    edge = node.mermaid(render_mermaid(view))["edges"][0]
    assert mermaid_label(edge["text"]) == ["blocks]-->x"]
    assert dot_lines(pydot_graph(render_dot(view)).get_edges()[0].get("label")) == ["blocks]-->x"]


def test_one_line_collapses_whitespace_and_cuts_long_text() -> None:
    assert one_line("  a\n\tb\r\n\x00c\u2028d  ", 60) == "a b c d"
    assert one_line("\u202eevil\u200b", 60) == "evil"
    assert one_line("👩\u200d👩\u200d👧", 60) == "👩\u200d👩\u200d👧"
    assert one_line("\ud800x\uffff", 60) == "\ufffdx\ufffd"
    cut = one_line("word " * 40, 60)
    assert len(cut) <= 60 and cut.endswith("…")


def _one_node_view(content: str, goal: str = "") -> dict[str, Any]:
    root = {**VIEW["nodes"][0], "content": content}
    child = {**VIEW["nodes"][1], "id": "t2", "content": "child"}
    return {
        **VIEW,
        "deliberation": {**VIEW["deliberation"], "goal": goal},
        "nodes": [root, child],
        "edges": [{"source": "t1", "target": "t2", "kind": "parent"}],
    }


# --- the command line: thinkgate sessions show --format -------------------------------------


async def _seed(url: str) -> None:
    """A deliberation in session ``demo``: root, two thoughts, a conflicts edge, one node pruned."""
    from thinkgate.app import build_engine
    from thinkgate.config import Settings
    from thinkgate.domain.deliberation import AddThought, LinkThoughts, PruneThoughts, StartDeliberation

    engine = build_engine(Settings.from_env().with_overrides(store_url=url), create=True)
    await engine.start()
    try:
        await engine.graph_command("demo", StartDeliberation(goal='Pick a "cache"', mode="got"))
        a = (await engine.graph_command("demo", AddThought(content='LRU "in-process" --> fast')))["node"]["id"]
        b = (await engine.graph_command("demo", AddThought(content="Redis %%{init: {}}%%")))["node"]["id"]
        await engine.graph_command("demo", LinkThoughts(a, b, "conflicts", note="memory"))
        await engine.graph_command("demo", PruneThoughts(beam_width=1))
    finally:
        await engine.stop()


def _show(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", "sessions", "show", *args, "--store", url],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_sessions_show_prints_the_graph_in_every_format(node: NodeCheckers, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'graph.db'}"
    asyncio.run(_seed(url))
    view = json.loads(_show(url, "demo", "--format", "json").stdout)
    assert [n["status"] for n in view["nodes"]].count("pruned") == 1
    parsed = node.mermaid(_show(url, "demo", "--format", "mermaid").stdout)
    assert len(parsed["vertices"]) == len(view["nodes"]) and len(parsed["edges"]) == len(view["edges"])
    pruned = [i for i, n in enumerate(view["nodes"]) if n["status"] == "pruned"]
    assert [v["id"] for v in parsed["vertices"] if "pruned" in v["classes"]] == [f"n{i}" for i in pruned]
    assert parsed["config"] == {}
    drawing = node.graphviz(_show(url, "demo", "--format", "dot").stdout)
    assert len(drawing.nodes) == len(view["nodes"]) and len(drawing.edges) == len(view["edges"])
    assert drawing.nodes[f"n{pruned[0]}"].fill == "#eeeeee"
    assert _show(url, "demo").stdout.startswith("session  demo\n")  # text stays the default


def test_sessions_show_graph_of_an_unknown_session_is_session_not_found(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'graph.db'}"
    asyncio.run(_seed(url))
    proc = _show(url, "nope", "--format", "mermaid")
    assert proc.returncode == 2 and "SESSION_NOT_FOUND" in proc.stderr and proc.stdout == ""
