"""The MCP conformance suite's fixture server, served through ThinkGate's own HTTP stack.

The suite's scenarios call tools, resources and prompts with fixed names and contents
(``test_simple_text``, ``test://static-text``, …; shared/reference/mcp-sdk.md §6) that a
product server does not have. So the suite tests ThinkGate's Streamable HTTP transport here,
on an ``MCPServer`` with every fixture, served exactly as ``thinkgate serve --http`` serves
its own server: ``bind``, ``Guard`` (Host, Origin, token), ``HttpApp`` (body cap, fast lane,
SDK lane), ``session_manager`` (stateless, JSON answers) and ``uvicorn_server``.

``HttpApp`` also answers the hot ``sequentialthinking`` call itself (the fast lane) and
``/readyz`` from an engine; here that is an engine on an in-memory store, which no suite
request reaches (none names ``sequentialthinking``). Every suite request takes the app's
routing decision and lands in the SDK lane, as a product request other than the hot call does.

    python tests/http/conformance_server.py [--port N]    # 0 (the default): a free port

prints ``serving MCP over Streamable HTTP at <url>`` on stderr once it listens, and stops on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import warnings
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)

HOST = "127.0.0.1"
# A 1x1 PNG and a tiny WAV, as the suite's reference servers use.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
WATCHED_URI = "test://watched-resource"
# The suite spaces the log and progress notifications so that a client must handle several
# arriving during one call; this is the fixture's contract, not a wait for something.
STEP_SECONDS = 0.05

JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}

SEP1034_DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
        "verified": {"type": "boolean", "default": True},
    },
}

SEP1330_ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}


def _image() -> ImageContent:
    return ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")


def _text_resource(uri: str, mime_type: str, text: str) -> EmbeddedResource:
    return EmbeddedResource(type="resource", resource=TextResourceContents(uri=uri, mime_type=mime_type, text=text))


def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
    """Tool with JSON Schema 2020-12 features"""
    return f"name={name!r} address={address!r}"


def build_fixture_server() -> MCPServer:
    """An ``MCPServer`` with every tool, resource, prompt and handler the suite's scenarios call."""
    # The listing must keep the schema's 2020-12 keywords as written, so the tool's advertised
    # schema replaces the one derived from the signature (which still validates the arguments).
    schema_tool = Tool.from_function(json_schema_2020_12_tool).model_copy(update={"parameters": JSON_SCHEMA_2020_12})
    mcp = MCPServer("thinkgate-conformance-fixtures", log_level="WARNING", tools=[schema_tool])  # as build_server

    # -- tools --------------------------------------------------------------------------------

    @mcp.tool()
    def test_simple_text() -> str:
        """Returns a simple text block"""
        return "This is a simple text response for testing."

    @mcp.tool()
    def test_image_content() -> list[ImageContent]:
        """Returns an image block"""
        return [_image()]

    @mcp.tool()
    def test_audio_content() -> list[AudioContent]:
        """Returns an audio block"""
        return [AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav")]

    @mcp.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """Returns an embedded text resource"""
        return [_text_resource("test://embedded-resource", "text/plain", "This is an embedded resource content.")]

    @mcp.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Returns text, an image and an embedded resource"""
        return [
            TextContent(type="text", text="Multiple content types test:"),
            _image(),
            _text_resource("test://mixed-content-resource", "application/json", '{"test":"data","value":123}'),
        ]

    @mcp.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three info log notifications while it runs"""
        await ctx.info("Tool execution started")
        await anyio.sleep(STEP_SECONDS)
        await ctx.info("Tool processing data")
        await anyio.sleep(STEP_SECONDS)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @mcp.tool()
    def test_error_handling() -> str:
        """Always fails with a tool error"""
        raise ToolError("This tool intentionally returns an error for testing")

    @mcp.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Reports progress 0, 50 and 100 of 100"""
        for step in (0, 50, 100):
            if step:
                await anyio.sleep(STEP_SECONDS)
            await ctx.report_progress(step, total=100, message=f"Completed step {step} of 100")
        return "Tool with progress executed successfully"

    @mcp.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client's LLM (sampling/createMessage) and returns its answer"""
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=100
        )
        content = result.content
        return f"LLM response: {content.text if isinstance(content, TextContent) else content.type}"

    async def elicit(ctx: Context, message: str, schema: dict[str, Any], label: str) -> str:
        result = await ctx.session.elicit_form(message, schema, ctx.request_id)
        return f"{label}: action={result.action}, content={json.dumps(result.content or {})}"

    @mcp.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the user (elicitation/create) for a username and an email"""
        return await elicit(ctx, message, USER_SCHEMA, "User response")

    @mcp.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Elicitation whose fields of every primitive type have defaults (SEP-1034)"""
        return await elicit(ctx, "Please review your profile", SEP1034_DEFAULTS_SCHEMA, "Elicitation completed")

    @mcp.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Elicitation with every enum form (SEP-1330)"""
        return await elicit(ctx, "Please choose", SEP1330_ENUMS_SCHEMA, "Elicitation completed")

    @mcp.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Closes its SSE stream mid-call so that the client resumes it (SEP-1699)"""
        # A no-op here: a JSON answer has no stream to close, and stateless mode no event store.
        await ctx.close_sse_stream()
        return "Reconnection test completed"

    # -- resources ----------------------------------------------------------------------------

    @mcp.resource("test://static-text", mime_type="text/plain", description="A static text resource")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @mcp.resource("test://static-binary", mime_type="image/png", description="A static binary resource (PNG)")
    def static_binary() -> bytes:
        return base64.b64decode(PNG_BASE64)

    @mcp.resource("test://template/{id}/data", mime_type="application/json", description="A resource template")
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))

    @mcp.resource(WATCHED_URI, mime_type="text/plain", description="A resource clients may subscribe to")
    def watched() -> str:
        return "Watched resource content"

    # -- prompts ------------------------------------------------------------------------------

    @mcp.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A prompt without arguments"""
        return [UserMessage("This is a simple prompt for testing.")]

    @mcp.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with two required arguments"""
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @mcp.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        """A prompt that embeds the resource it is given"""
        return [
            UserMessage(_text_resource(resourceUri, "text/plain", "Embedded resource content for testing.")),
            UserMessage("Please process the embedded resource above."),
        ]

    @mcp.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt with an image"""
        return [UserMessage(_image()), UserMessage("Please analyze the image above.")]

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        if isinstance(ref, PromptReference) and ref.name == "test_prompt_with_arguments":
            values = [v for v in ("paris", "park", "party") if v.startswith(argument.value)]
            return Completion(values=values, total=len(values), has_more=False)
        return Completion(values=[], total=0, has_more=False)

    # -- methods MCPServer does not serve: the SDK's low-level seam ---------------------------

    subscribed: set[str] = set()

    async def set_level(ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        subscribed.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        subscribed.discard(str(params.uri))
        return EmptyResult()

    lowlevel = mcp._lowlevel_server  # the SDK's documented seam for methods MCPServer lacks
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return mcp


async def serve(port: int) -> None:
    """Serve the fixtures at ``http://127.0.0.1:<port>/mcp`` the way ``serve --http`` serves ThinkGate."""
    from thinkgate.engine.engine import Engine
    from thinkgate.http.asgi import MAX_BODY_BYTES, HttpApp
    from thinkgate.http.metrics import Metrics
    from thinkgate.http.security import Guard, require_token_off_loopback
    from thinkgate.http.serve import bind, uvicorn_server
    from thinkgate.mcp.http import session_manager
    from thinkgate.store.memory import MemoryEventStore

    require_token_off_loopback(HOST, None)
    sock = bind(HOST, port)
    engine = Engine(MemoryEventStore())
    await engine.start()
    try:
        app = HttpApp(
            engine,
            session_manager(build_fixture_server(), max_body_bytes=MAX_BODY_BYTES),
            Guard(bind_host=HOST),
            Metrics(),
        )
        server = uvicorn_server(app)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        url = f"http://{HOST}:{sock.getsockname()[1]}/mcp"
        print(f"conformance fixtures: serving MCP over Streamable HTTP at {url}", file=sys.stderr, flush=True)
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    # Logging and sampling are deprecated from 2026-07-28 on; the suite speaks 2025-11-25,
    # where they are current, so the SDK's warnings would only be noise on stderr.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    try:  # the event loop `thinkgate serve --http` runs on (thinkgate.http.serve.run)
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port))
        return
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
