"""Measure a stdio server's RSS idle and after many thoughts spread over many sessions.

    .venv/bin/python scripts/measure_memory.py [--thoughts 100000] [--sessions 1000] [--window 64] [-- CMD...]

Without a command it runs ``python -m thinkgate serve`` on a fresh SQLite file in a
temporary folder. Calls are pipelined (``--window`` in flight); every one must succeed.
Prints RSS (VmRSS of the server process) idle, every 20% of the way, and at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THOUGHT = (
    "Let me think about the problem carefully, considering each constraint in turn "
    "and checking the edge cases before I decide. "
) * 2


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--thoughts", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = args.command or [sys.executable, "-m", "thinkgate", "serve", "--store", f"sqlite:///{tmp}/m.db"]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None

        def send(message: dict[str, object]) -> None:
            proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]

        send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "mem", "version": "1"},
                },
            }
        )
        proc.stdout.readline()
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        time.sleep(0.5)
        idle = rss_mib(proc.pid)
        print(f"idle RSS {idle:.1f} MiB")
        started = time.monotonic()
        sent = done = 0
        step = max(1, args.thoughts // 5)
        while done < args.thoughts:
            while sent - done < args.window and sent < args.thoughts:
                session, number = sent % args.sessions, sent // args.sessions + 1
                send(
                    {
                        "jsonrpc": "2.0",
                        "id": sent + 1,
                        "method": "tools/call",
                        "params": {
                            "name": "sequentialthinking",
                            "arguments": {
                                "thought": THOUGHT,
                                "nextThoughtNeeded": True,
                                "thoughtNumber": number,
                                "totalThoughts": args.thoughts // args.sessions + 1,
                                "sessionId": f"mem-{session:05d}",
                            },
                        },
                    }
                )
                sent += 1
            reply = json.loads(proc.stdout.readline())
            if "result" not in reply or reply["result"].get("isError"):
                raise SystemExit(f"call failed: {reply}")
            done += 1
            if done % step == 0:
                print(f"{done:>8} thoughts  RSS {rss_mib(proc.pid):.1f} MiB  {time.monotonic() - started:.0f} s")
        final = rss_mib(proc.pid)
        print(f"after {done} thoughts in {args.sessions} sessions: RSS {final:.1f} MiB (+{final - idle:.1f} MiB)")
        proc.stdin.close()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
