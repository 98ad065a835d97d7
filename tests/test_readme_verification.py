"""The README's verify_thoughts example runs as shown, and does what the text around it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio

from mcp import Client
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.mcp.server import build_server
from thinkgate.store.memory import MemoryEventStore

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CACHE_PY = [f"# line {n}" for n in range(1, 12)] + [
    "def ttl_seconds() -> int:",
    "    # five minutes",
    "    return 60 * 5",
]


def example() -> dict[str, object]:
    section = README.split("### Verification and governance", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, flags=re.S)
    assert block is not None
    data: dict[str, object] = json.loads(block.group(1))
    return data


def test_the_readme_verify_thoughts_example_verifies_the_claim(tmp_path: Path) -> None:
    call = example()
    assert call["name"] == "verify_thoughts"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "cache.py").write_text("\n".join(CACHE_PY) + "\n", encoding="utf-8")
    engine = Engine(MemoryEventStore(), EngineConfig(evidence_roots=(str(tmp_path),)))

    async def run() -> dict[str, object]:
        await engine.start()
        async with Client(build_server(engine), mode="legacy") as client:
            await client.call_tool("start_deliberation", {"goal": "cache TTL", "sessionId": "S"})
            result = await client.call_tool("verify_thoughts", call["arguments"])  # type: ignore[arg-type]
            assert not result.is_error, result.content
            assert result.structured_content is not None
            return result.structured_content

    out = anyio.run(run)
    (claim,) = out["claims"]  # type: ignore[misc]
    assert claim["status"] == "verified"
    checks = [(e["kind"], e["check"], e["tier"]) for e in claim["evidence"]]
    assert checks == [("file", "passed", 1), ("calc", "passed", 1), ("url", "not_checked", 2)]
    assert claim["evidence"][2]["group"] == "domain:redis.io"
    assert out["route"]["decision"] == "proceed"  # type: ignore[index]
