"""Replicas on PostgreSQL through HTTP: real ``thinkgate serve --http --store postgresql://…`` processes.

Two replicas on one database, many concurrent clients on loopback (stateless JSON requests,
each with a ``requestId`` so a retry is recognised). Afterwards every acknowledged thought is
in the store exactly once, versions are contiguous, the hash chains verify and ``thinkgate
audit verify`` passes; no client ever saw a conflict. Faults: one replica killed with SIGKILL
and started again while the other keeps serving; the PostgreSQL server stopped and started
again under the replicas, which must answer ``STORE_UNAVAILABLE`` meanwhile (never crash or
hang) and recover by themselves. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from sidecar import Sidecar, call, headers
from tests.pg import Cluster, fresh_database, new_cluster, with_database

from mcp import Client
from thinkgate.domain.chain import verify_chain
from thinkgate.store.postgres import PostgresEventStore, migrate

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

CALL_TIMEOUT = 30.0  # one HTTP call; a call taking longer counts as a hang
WAIT = 120.0  # any phase of a test
GOAL = "Plan the rollout of a product cache: compare the options and their trade-offs"


class Replica(Sidecar):
    """``thinkgate serve --http --port 0 --store postgresql://…``."""

    def __init__(self, url: str) -> None:
        super().__init__(Path(os.devnull))
        self.argv[self.argv.index("--store") + 1] = url


class Writer:
    """One client: writes ``sequentialthinking`` calls to one session, each to the next of its replicas."""

    def __init__(self, name: str, session_id: str, replicas: list[Sidecar]) -> None:
        self.name = name
        self.session_id = session_id
        self.replicas = replicas
        self.acked: list[str] = []  # texts of the acknowledged thoughts
        self.retriable = 0  # STORE_UNAVAILABLE answers (only expected while PostgreSQL is down)

    def arguments(self, n: int) -> dict[str, Any]:
        return {
            "thought": f"{self.name} thought {n}",
            "thoughtNumber": n,
            "totalThoughts": 100_000,
            "nextThoughtNeeded": True,
            "sessionId": self.session_id,
            "requestId": f"{self.name}-{n}",
        }


class Load:
    """Writers running until ``stop``; anything a client must never see lands in ``failures``."""

    def __init__(self, writers: list[Writer]) -> None:
        self.writers = writers
        self.failures: list[str] = []
        self.retriable_ok = False  # STORE_UNAVAILABLE is a failure unless the test takes PostgreSQL down
        self.stop = anyio.Event()
        self.changed = anyio.Event()  # set (and renewed) whenever a call is acknowledged

    def acked(self, writers: list[Writer] | None = None) -> int:
        return sum(len(w.acked) for w in (self.writers if writers is None else writers))

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait (bounded) until ``condition`` holds; it is checked after every acknowledgement."""
        with anyio.fail_after(WAIT):
            while not condition():
                assert not self.failures, self.failures[:5]
                self.changed = event = anyio.Event()
                with anyio.move_on_after(1.0):  # also re-checks conditions no acknowledgement changes
                    await event.wait()
        assert not self.failures, (what, self.failures[:5])

    def _acknowledge(self, writer: Writer, text: str) -> None:
        writer.acked.append(text)
        self.changed.set()

    async def run(
        self,
        http: httpx2.AsyncClient,
        writer: Writer,
        on_transport_error: Callable[[Writer, BaseException], Awaitable[bool]] | None = None,
    ) -> None:
        """Write until ``stop``; a call not acknowledged is retried with the same ``requestId``."""
        n = 0
        while not self.stop.is_set():
            n += 1
            arguments = writer.arguments(n)
            while True:
                replica = writer.replicas[n % len(writer.replicas)]
                try:
                    response = await http.post(
                        replica.url, json=call("sequentialthinking", arguments, rid=n), headers=headers()
                    )
                except httpx2.HTTPError as exc:
                    if on_transport_error is not None and await on_transport_error(writer, exc):
                        continue  # the replica is back: retry the same call
                    self.failures.append(f"{writer.name} call {n}: {type(exc).__name__}: {exc}")
                    return
                if response.status_code != 200:
                    self.failures.append(f"{writer.name} call {n}: HTTP {response.status_code} {response.text[:300]}")
                    return
                result = response.json()["result"]
                if result["isError"] is False:
                    self._acknowledge(writer, arguments["thought"])
                    break
                error = (result.get("_meta") or {}).get("thinkgate/error") or {}
                if error.get("code") == "STORE_UNAVAILABLE" and error.get("retriable") is True and self.retriable_ok:
                    writer.retriable += 1
                    self.changed.set()
                    with anyio.move_on_after(0.05):  # a client backing off before it retries
                        await self.stop.wait()
                    continue
                self.failures.append(f"{writer.name} call {n}: {result['content'][0]['text'][:300]}")
                return


def plan(
    shared: int, writers_per_shared: int, own: int, replicas: list[Sidecar], prefix: str
) -> tuple[list[Writer], list[Writer]]:
    """Writers of ``shared`` sessions written by several clients each, and of one session each."""
    hot = [
        Writer(f"{prefix}-s{s}-w{w}", f"{prefix}-shared-{s:02d}", replicas)
        for s in range(shared)
        for w in range(writers_per_shared)
    ]
    alone = [Writer(f"{prefix}-own{i}", f"{prefix}-own-{i:02d}", replicas) for i in range(own)]
    return hot, alone


def http_client(connections: int) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx2.AsyncClient(timeout=CALL_TIMEOUT, limits=limits)


async def check_store(url: str, writers: list[Writer], *, all_acked: bool) -> None:
    """Every acknowledged thought is stored exactly once, versions are contiguous, chains verify.

    With ``all_acked`` every stored thought was acknowledged too (each client retried what it
    had not seen answered until it was).
    """
    by_session: dict[str, list[str]] = {}
    for w in writers:
        by_session.setdefault(w.session_id, []).extend(w.acked)
    store = PostgresEventStore(url)
    await store.open()
    try:
        for sid, acked in by_session.items():
            info = await store.session(sid)
            assert info is not None, sid
            rows = await store.read(sid)
            assert [r.version for r in rows] == list(range(1, info.version + 1)), sid
            assert verify_chain(sid, rows, info.version, info.head_hash) is None, sid
            stored = Counter(r.data()["content"] for r in rows if r.type == "thought_recorded")
            assert len(acked) == len(set(acked)), sid
            missing = [t for t in acked if stored[t] == 0]
            twice = [t for t, k in stored.items() if k > 1]
            assert not missing and not twice, (sid, missing[:5], twice[:5])
            if all_acked:
                assert sorted(stored) == sorted(acked), (sid, sorted(set(stored) - set(acked))[:5])
    finally:
        await store.close()


def audit(url: str, sessions: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {sessions} session(s)" in result.stdout, result.stdout


async def ready(http: httpx2.AsyncClient, replica: Sidecar) -> int:
    return (await http.get(f"{replica.base}/readyz")).status_code


async def until_ready_is(http: httpx2.AsyncClient, replicas: list[Sidecar], status: int) -> None:
    with anyio.fail_after(WAIT):
        for replica in replicas:
            while True:
                if await ready(http, replica) == status:
                    break
                await anyio.sleep(0.1)  # a probe is polled: there is nothing to wait on


# -- load on two replicas -----------------------------------------------------------------------


async def test_clients_of_two_replicas_writing_shared_and_own_sessions_lose_nothing() -> None:
    url = fresh_database()
    with Replica(url) as a, Replica(url) as b:
        hot, alone = plan(shared=4, writers_per_shared=4, own=12, replicas=[a, b], prefix="load")
        load = Load(hot + alone)
        async with http_client(len(load.writers)) as http, anyio.create_task_group() as tg:
            for w in load.writers:
                tg.start_soon(load.run, http, w)
            # every client makes progress, through both replicas (each call goes to the other)
            await load.until(lambda: all(len(w.acked) >= 25 for w in load.writers), "25 calls per client")
            load.stop.set()
        assert a.alive() and b.alive()
    assert not load.failures, load.failures[:5]
    await check_store(url, load.writers, all_acked=True)
    audit(url, sessions=4 + 12)


# -- kill -9 of one replica --------------------------------------------------------------------


async def test_kill_9_of_one_replica_under_load_loses_nothing_and_the_other_keeps_serving() -> None:
    url = fresh_database()
    a = Replica(url).start()
    b = Replica(url).start()
    try:
        # Clients of A and of B write the same shared sessions, and sessions of their own.
        a_hot, a_alone = plan(shared=4, writers_per_shared=2, own=4, replicas=[a], prefix="a")
        b_hot, b_alone = plan(shared=4, writers_per_shared=2, own=4, replicas=[b], prefix="b")
        for w in b_hot:  # the same shared sessions as A's clients
            w.session_id = w.session_id.replace("b-shared", "a-shared")
        a_writers, b_writers = a_hot + a_alone, b_hot + b_alone
        load = Load(a_writers + b_writers)
        b_back = anyio.Event()
        killed = False
        parked: set[str] = set()

        async def wait_for_b(writer: Writer, exc: BaseException) -> bool:
            # Only B's clients may lose their connection, and only once B was killed.
            if writer not in b_writers or not killed:
                return False
            parked.add(writer.name)
            await b_back.wait()
            return True

        async with http_client(len(load.writers)) as http, anyio.create_task_group() as tg:
            for w in load.writers:
                tg.start_soon(load.run, http, w, wait_for_b)
            await load.until(lambda: load.acked() >= 300, "300 calls before the kill")
            assert b.proc is not None
            killed = True
            b.proc.kill()  # SIGKILL with calls in flight
            await anyio.to_thread.run_sync(lambda: b.proc.wait(timeout=30))  # type: ignore[union-attr]
            a_at_kill = load.acked(a_writers)
            # A's clients go on while B is down: their calls keep succeeding (any error fails the load)
            await load.until(lambda: load.acked(a_writers) >= a_at_kill + 200, "A's clients after the kill")
            await load.until(lambda: len(parked) == len(b_writers), "every client of B noticed")
            b_before = load.acked(b_writers)
            for stream in (b.proc.stdout, b.proc.stderr):
                if stream is not None:
                    stream.close()
            b.proc, b.stderr = None, b""
            await anyio.to_thread.run_sync(b.start)  # a new process, on a new port
            b_back.set()
            await load.until(lambda: load.acked(b_writers) >= b_before + 200, "B's clients after the restart")
            load.stop.set()
        assert a.alive() and b.alive()
    finally:
        for server in (a, b):
            server.__exit__(None, None, None)
    assert not load.failures, load.failures[:5]
    await check_store(url, load.writers, all_acked=True)
    audit(url, sessions=4 + 4 + 4)


# -- PostgreSQL restarted under the replicas ---------------------------------------------------


async def test_a_postgres_restart_under_load_is_retriable_and_the_replicas_recover_by_themselves() -> None:
    cluster: Cluster = await anyio.to_thread.run_sync(new_cluster)
    try:
        await _restart_under_load(cluster)
    finally:
        await anyio.to_thread.run_sync(cluster.destroy)


async def _restart_under_load(cluster: Cluster) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(cluster.url(), autocommit=True) as conn:
        await conn.execute('CREATE DATABASE "replicas"')
    url = with_database(cluster.url(), "replicas")
    await migrate(url)
    with Replica(url) as a, Replica(url) as b:
        pids = [a.proc.pid, b.proc.pid]  # type: ignore[union-attr]
        hot, alone = plan(shared=4, writers_per_shared=2, own=8, replicas=[a, b], prefix="pg")
        load = Load(hot + alone)
        load.retriable_ok = True
        async with http_client(len(load.writers) + 2) as http, anyio.create_task_group() as tg:
            for w in load.writers:
                tg.start_soon(load.run, http, w)
            await load.until(lambda: load.acked() >= 200, "200 calls before the stop")
            await anyio.to_thread.run_sync(cluster.stop)  # pg_ctl -m fast
            await load.until(lambda: all(w.retriable for w in load.writers), "every client told to retry")
            await until_ready_is(http, [a, b], 503)
            acked_while_down = load.acked()
            await anyio.to_thread.run_sync(cluster.start)
            # the same processes recover: ready again, and every client's calls succeed again
            await until_ready_is(http, [a, b], 200)
            counts = {w.name: len(w.acked) for w in load.writers}
            await load.until(
                lambda: all(len(w.acked) >= counts[w.name] + 10 for w in load.writers), "every client after restart"
            )
            load.stop.set()
        assert load.acked() > acked_while_down
        assert [a.proc.pid, b.proc.pid] == pids and a.alive() and b.alive()  # type: ignore[union-attr]
    assert not load.failures, load.failures[:5]
    await check_store(url, load.writers, all_acked=True)
    audit(url, sessions=4 + 8)


# -- a deliberation across replicas ------------------------------------------------------------


async def test_a_deliberation_started_on_one_replica_grows_on_the_other() -> None:
    url = fresh_database()

    async def ok(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(name, arguments)
        assert result.is_error is False, result.content[0].text  # type: ignore[union-attr]
        content: dict[str, Any] | None = result.structured_content
        assert content is not None
        return content

    async def graph(client: Client, sid: str) -> dict[str, Any]:
        res = await client.read_resource(f"thinkgate://session/{sid}/graph")
        doc: dict[str, Any] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
        return doc

    with Replica(url) as a, Replica(url) as b:
        with anyio.fail_after(WAIT):
            async with Client(a.url) as on_a, Client(b.url, mode="legacy") as on_b:
                opened = await ok(on_a, "start_deliberation", {"goal": GOAL, "mode": "explore"})
                sid = opened["deliberationId"]
                s = {"sessionId": sid}
                first = await ok(
                    on_b, "add_thought", {"content": "Redis cache-aside, 60 s TTL", "parentIds": ["t1"], **s}
                )
                second = await ok(on_b, "add_thought", {"content": "CDN edge cache", "parentIds": ["t1"], **s})
                assert (first["node"]["id"], second["node"]["id"]) == ("t2", "t3")
                await ok(on_b, "link_thoughts", {"sourceId": "t3", "targetId": "t2", "kind": "depends_on", **s})
                doc = await graph(on_a, sid)  # A serves what B wrote
                assert [n["id"] for n in doc["nodes"]] == ["t1", "t2", "t3"]
                assert {"source": "t3", "target": "t2", "kind": "depends_on"} in doc["edges"]
                # A decides against B's writes: the reverse link would close a cycle
                refused = await on_a.call_tool(
                    "link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "refines", **s}
                )
                assert refused.is_error is True
                assert refused.meta["thinkgate/error"]["code"] == "CYCLE_REFUSED"  # type: ignore[index]
                # and continues the graph where B left it; B sees that in turn
                third = await ok(on_a, "add_thought", {"content": "Both, by traffic", "parentIds": ["t2", "t3"], **s})
                assert third["node"]["id"] == "t4"
                assert await graph(on_b, sid) == await graph(on_a, sid)
                assert [n["id"] for n in (await graph(on_b, sid))["nodes"]] == ["t1", "t2", "t3", "t4"]
    audit(url, sessions=1)
