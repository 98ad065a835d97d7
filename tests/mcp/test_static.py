"""The captured handshake answers are the SDK server's current output, for every protocol version."""

from __future__ import annotations

import pytest

from thinkgate.mcp import static

pytestmark = pytest.mark.anyio


async def test_the_static_table_matches_what_the_sdk_answers_now() -> None:
    fresh = await static.capture()
    stored = static.load()
    assert fresh["handshakeVersions"] == stored["handshakeVersions"]
    for version, answers in fresh["results"].items():
        for method, result in answers.items():
            assert stored["results"][version][method] == result, (
                f"{method} at {version} changed: regenerate with `.venv/bin/python -m thinkgate.mcp.static`"
            )
    # Same bytes too: the fast path writes the stored objects as they are, key order included.
    assert static.encode(fresh) == static.STATIC_FILE.read_bytes()
