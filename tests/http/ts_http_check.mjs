// A third-party client over HTTP: the TypeScript MCP SDK's Streamable HTTP client drives a running
// `thinkgate serve --http`.
// Usage: node ts_http_check.mjs <node_modules dir> <url>
// Prints one JSON object on stdout with what it saw; exits non-zero on any failure.
import { createRequire } from "node:module";
import path from "node:path";

const [nodeModules, url] = process.argv.slice(2);
const require = createRequire(path.join(nodeModules, "noop.js"));
const { Client } = await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
const { StreamableHTTPClientTransport } = await import(
  require.resolve("@modelcontextprotocol/sdk/client/streamableHttp.js")
);

const transport = new StreamableHTTPClientTransport(new URL(url));
const client = new Client({ name: "ts-sdk-http-check", version: "1.0.0" });
await client.connect(transport);

const out = { protocolVersion: transport.protocolVersion ?? null, sessionHeader: transport.sessionId ?? null };
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const first = await client.callTool({
  name: "sequentialthinking",
  arguments: { thought: "first", nextThoughtNeeded: true, thoughtNumber: 1, totalThoughts: 2 },
});
const sessionId = first.structuredContent.sessionId;
const second = await client.callTool({
  name: "sequentialthinking",
  arguments: { thought: "second", nextThoughtNeeded: "false", thoughtNumber: "2", totalThoughts: 2, sessionId },
});
out.results = [first, second].map((r) => ({ isError: Boolean(r.isError), structured: r.structuredContent ?? null }));
const history = await client.callTool({ name: "get_thinking_history", arguments: { sessionId } });
out.history = history.structuredContent.thoughts.map((t) => t.thought);
const listed = await client.callTool({ name: "list_sessions", arguments: {} });
out.listSessions = { isError: Boolean(listed.isError), text: listed.content?.[0]?.text ?? "" };
const timeline = await client.readResource({ uri: `thinkgate://session/${sessionId}/timeline` });
out.timelineThoughts = JSON.parse(timeline.contents[0].text).thoughts.length;
const prompt = await client.getPrompt({ name: "sequential-thinking-guidance" });
out.promptMessages = prompt.messages.length;
await client.close();
console.log(JSON.stringify(out));
