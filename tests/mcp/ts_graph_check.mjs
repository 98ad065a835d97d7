// A third-party client deliberates: the TypeScript MCP SDK drives ThinkGate's graph tools over stdio.
// Usage: node ts_graph_check.mjs <node_modules dir> <command> [args...]
// Prints one JSON object on stdout with what it saw; exits non-zero on any failure.
import { createRequire } from "node:module";
import path from "node:path";

const [nodeModules, command, ...args] = process.argv.slice(2);
const require = createRequire(path.join(nodeModules, "noop.js"));
const { Client } = await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
const { StdioClientTransport } = await import(require.resolve("@modelcontextprotocol/sdk/client/stdio.js"));

const transport = new StdioClientTransport({ command, args, stderr: "ignore" });
const client = new Client({ name: "ts-graph-check", version: "1.0.0" });
await client.connect(transport);

const out = {};
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: Boolean(r.isError), structured: r.structuredContent ?? null, text: r.content?.[0]?.text };
};
out.results = [];
const opened = await call("start_deliberation", { goal: "Compare caching options for the API", mode: "map" });
out.results.push(opened);
const s = { sessionId: opened.structured.deliberationId };
out.results.push(await call("add_thought", { ...s, content: "Redis cache-aside" }));
await call("add_thought", { ...s, content: "CDN edge cache" });
out.results.push(await call("link_thoughts", { ...s, sourceId: "t3", targetId: "t2", kind: "depends_on" }));
out.results.push(await call("link_thoughts", { ...s, sourceId: "t2", targetId: "t3", kind: "depends_on" }));
out.results.push(await call("score_thoughts", { ...s, scores: { t2: { correctness: 0.8 } }, nodeIds: ["t2"] }));
out.results.push(await call("merge_thought_branches", { ...s, sourceNodeIds: ["t2", "t3"], content: "Both, layered" }));
const quiz = await call("start_deliberation", { goal: "What is the capital of France?" });
out.results.push(await call("start_skeleton_of_thought", { sessionId: quiz.structured.deliberationId }));
const graph = await client.readResource({ uri: `thinkgate://session/${s.sessionId}/graph` });
const doc = JSON.parse(graph.contents[0].text);
out.graphNodes = doc.nodes.length;
out.frontier = doc.frontier;
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
