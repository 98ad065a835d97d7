// A third-party client: the TypeScript MCP SDK drives ThinkGate over stdio.
// Usage: node ts_client_check.mjs <node_modules dir> <command> [args...]
// Prints one JSON object on stdout with what it saw; exits non-zero on any failure.
import { createRequire } from "node:module";
import path from "node:path";

const [nodeModules, command, ...args] = process.argv.slice(2);
const require = createRequire(path.join(nodeModules, "noop.js"));
const { Client } = await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
const { StdioClientTransport } = await import(require.resolve("@modelcontextprotocol/sdk/client/stdio.js"));

const transport = new StdioClientTransport({ command, args, stderr: "ignore" });
const client = new Client({ name: "ts-sdk-check", version: "1.0.0" });
await client.connect(transport);

const out = { protocolVersion: transport.protocolVersion ?? null };
const tools = await client.listTools();
out.tools = tools.tools.map((t) => t.name).sort();
const seq = tools.tools.find((t) => t.name === "sequentialthinking");
out.annotations = seq.annotations;
out.hasOutputSchema = Boolean(seq.outputSchema);

const calls = [
  { thought: "first", nextThoughtNeeded: true, thoughtNumber: 1, totalThoughts: 3 },
  { thought: "second", nextThoughtNeeded: "true", thoughtNumber: "2", totalThoughts: "3" },
  { thought: "alt", nextThoughtNeeded: true, thoughtNumber: 3, totalThoughts: 3, branchFromThought: 1, branchId: "alt" },
  { thought: "bad ref", nextThoughtNeeded: true, thoughtNumber: 4, totalThoughts: 4, revisesThought: 42 },
  { thought: "done", nextThoughtNeeded: false, thoughtNumber: 4, totalThoughts: 4 },
];
out.results = [];
for (const args of calls) {
  // callTool validates structuredContent against the tool's outputSchema.
  const r = await client.callTool({ name: "sequentialthinking", arguments: args });
  out.results.push({ isError: Boolean(r.isError), structured: r.structuredContent ?? null, text: r.content?.[0]?.text });
}
const history = await client.callTool({ name: "get_thinking_history", arguments: {} });
out.historyLength = history.structuredContent.thoughts.length;
const resources = await client.readResource({ uri: "thinkgate://sessions" });
out.sessionsResource = JSON.parse(resources.contents[0].text).sessions.length;
const prompt = await client.getPrompt({ name: "sequential-thinking-guidance" });
out.promptMessages = prompt.messages.length;
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
