"""MCP client configuration snippets printed by ``thinkgate config <client>``."""

from __future__ import annotations

import json
import shlex
import sys

__all__ = ["CLIENTS", "snippet"]

CLIENTS = ("claude-code", "cursor", "vscode", "gemini", "codex")


def _launch(store: str | None) -> tuple[str, list[str]]:
    # The running interpreter with -m works whatever is on the client's PATH.
    args = ["-m", "thinkgate", "serve"]
    if store:
        args += ["--store", store]
    return sys.executable, args


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def snippet(client: str, store: str | None = None, *, http_url: str | None = None) -> str:
    """The configuration text for ``client`` and where it goes (``http_url``: a running sidecar).

    Raises:
        ValueError: the client is not one of ``CLIENTS``, or ``http_url`` is not an http(s) URL.
    """
    if http_url is not None:
        return _http_snippet(client, http_url)
    command, args = _launch(store)
    server = {"command": command, "args": args}
    if client == "claude-code":
        quoted = shlex.join([command, *args])
        return (
            "# Run once (user scope), or put the JSON below in .mcp.json at your project root:\n"
            f"claude mcp add --scope user thinkgate -- {quoted}\n\n"
            + json.dumps({"mcpServers": {"thinkgate": server}}, indent=2)
            + "\n"
        )
    if client == "cursor":
        return (
            "# ~/.cursor/mcp.json (or .cursor/mcp.json in a project)\n"
            + json.dumps({"mcpServers": {"thinkgate": server}}, indent=2)
            + "\n"
        )
    if client == "vscode":
        return (
            "# .vscode/mcp.json in your workspace\n"
            + json.dumps({"servers": {"thinkgate": {"type": "stdio", **server}}}, indent=2)
            + "\n"
        )
    if client == "gemini":
        return (
            "# ~/.gemini/settings.json (merge into it)\n"
            + json.dumps({"mcpServers": {"thinkgate": server}}, indent=2)
            + "\n"
        )
    if client == "codex":
        return (
            "# ~/.codex/config.toml\n"
            "[mcp_servers.thinkgate]\n"
            f"command = {_toml_str(command)}\n"
            f"args = [{', '.join(_toml_str(a) for a in args)}]\n"
        )
    raise ValueError(f"unknown client {client!r}; choose one of: {', '.join(CLIENTS)}")


def _http_snippet(client: str, url: str) -> str:
    if not url.startswith(("http://", "https://")) or any(c.isspace() or c in "\"'\\" for c in url):
        raise ValueError(f"--http needs the sidecar's http:// or https:// URL, got {url!r}")
    if client == "claude-code":
        return (
            "# Run once (user scope), or put the JSON below in .mcp.json at your project root:\n"
            f"claude mcp add --scope user --transport http thinkgate {url}\n\n"
            + json.dumps({"mcpServers": {"thinkgate": {"type": "http", "url": url}}}, indent=2)
            + "\n"
        )
    if client == "cursor":
        return (
            "# ~/.cursor/mcp.json (or .cursor/mcp.json in a project)\n"
            + json.dumps({"mcpServers": {"thinkgate": {"url": url}}}, indent=2)
            + "\n"
        )
    if client == "vscode":
        return (
            "# .vscode/mcp.json in your workspace\n"
            + json.dumps({"servers": {"thinkgate": {"type": "http", "url": url}}}, indent=2)
            + "\n"
        )
    if client == "gemini":
        return (
            "# ~/.gemini/settings.json (merge into it)\n"
            + json.dumps({"mcpServers": {"thinkgate": {"httpUrl": url}}}, indent=2)
            + "\n"
        )
    if client == "codex":
        return f"# ~/.codex/config.toml\n[mcp_servers.thinkgate]\nurl = {_toml_str(url)}\n"
    raise ValueError(f"unknown client {client!r}; choose one of: {', '.join(CLIENTS)}")
