"""A real ``thinkgate serve --http`` subprocess on a free loopback port, for the HTTP tests."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

START_TIMEOUT = 60.0
ACCEPT = "application/json, text/event-stream"
HANDSHAKE = "2025-11-25"
_URL = re.compile(r"serving MCP over Streamable HTTP at (http://\S+/mcp)")


class Sidecar:
    """``thinkgate serve --http --port 0`` on a SQLite file; the URL is read from its stderr."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.argv = [
            sys.executable,
            "-m",
            "thinkgate",
            "serve",
            "--http",
            "--port",
            "0",
            "--store",
            f"sqlite:///{db}",
            *args,
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.stderr = b""

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    def start(self) -> Sidecar:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env
        )
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"server exited ({self.proc.wait()}): {self.stderr.decode(errors='replace')}")
            self.stderr += chunk
            found = _URL.search(self.stderr.decode(errors="replace"))
            if found:
                self.url = found.group(1)
                return self
        self.kill()
        raise RuntimeError(f"server did not start: {self.stderr.decode(errors='replace')}")

    def read_stderr(self) -> str:
        """Everything the server wrote to stderr so far (without blocking)."""
        assert self.proc is not None and self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.stderr += chunk
        return self.stderr.decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM and wait (bounded); the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.read_stderr()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def __enter__(self) -> Sidecar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.stop()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def headers(**extra: str) -> dict[str, str]:
    return {"content-type": "application/json", "accept": ACCEPT, "mcp-protocol-version": HANDSHAKE, **extra}


def call(name: str, arguments: dict[str, Any], rid: int | str = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def thought(number: int, total: int = 3, text: str | None = None, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "thought": text if text is not None else f"step {number}",
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": True,
    }
    args.update(extra)
    return args


def client(**kwargs: Any) -> httpx2.Client:
    return httpx2.Client(timeout=30.0, **kwargs)
