"""Prometheus metrics of the HTTP sidecar (``GET /metrics``, text exposition format).

* ``thinkgate_tool_calls_total{tool}``, ``thinkgate_tool_errors_total{tool}`` and
  ``thinkgate_tool_latency_seconds{tool}``: every ``tools/call``, on the fast path or the SDK's
  (an error is a result with ``isError: true`` or a JSON-RPC error). ``tool`` is one of the
  server's tool names or ``unknown``, so clients cannot grow the label set.
* ``thinkgate_http_responses_total{status}``: answers by HTTP status (401, 413, ... included).
* ``thinkgate_sessions_started_total``: sessions this process started for calls without
  ``sessionId``; ``thinkgate_sessions``: sessions in the store (read at scrape time).
* ``thinkgate_store_latency_seconds{op}``: time spent in each event-store operation.
* ``process_*``: the process's RSS, CPU and open files (prometheus_client's collector).

Each process has its own registry; replicas are scraped one by one.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics", "TimedStore"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class _Tool:
    """The pre-resolved children of one tool's metrics (a label lookup costs more than the update)."""

    __slots__ = ("calls", "errors", "latency")

    def __init__(self, calls: Any, errors: Any, latency: Any) -> None:
        self.calls = calls
        self.errors = errors
        self.latency = latency


class Metrics:
    """The sidecar's metrics and their registry."""

    def __init__(self, tool_names: Iterable[str] = ()) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream; drops *_created series
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        self._calls = calls = Counter(
            "thinkgate_tool_calls", "tools/call requests answered", ["tool"], registry=registry
        )
        self._errors = errors = Counter(
            "thinkgate_tool_errors",
            "tools/call answers that are errors (isError or JSON-RPC error)",
            ["tool"],
            registry=registry,
        )
        self._latency = latency = Histogram(
            "thinkgate_tool_latency_seconds",
            "time to answer a tools/call",
            ["tool"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._tools = {
            name: _Tool(calls.labels(name), errors.labels(name), latency.labels(name))
            for name in (*tool_names, "unknown")
        }
        self._responses = Counter(
            "thinkgate_http_responses", "HTTP answers by status code", ["status"], registry=registry
        )
        self._status: dict[int, Any] = {}
        self.sessions_started = Counter(
            "thinkgate_sessions_started",
            "sessions this process started for calls without sessionId",
            registry=registry,
        )
        self.sessions = Gauge("thinkgate_sessions", "sessions in the store (at the last scrape)", registry=registry)
        self._store = Histogram(
            "thinkgate_store_latency_seconds",
            "time spent in event-store operations",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._store_ops: dict[str, Any] = {}

    def add_tools(self, names: Iterable[str]) -> None:
        """Label values for these tools (a name outside them is counted as ``unknown``)."""
        for name in names:
            if name not in self._tools:
                self._tools[name] = _Tool(
                    self._calls.labels(name), self._errors.labels(name), self._latency.labels(name)
                )

    def tool(self, name: object) -> _Tool:
        """The metrics of tool ``name`` (``unknown`` for a name the server does not have)."""
        found = self._tools.get(name) if isinstance(name, str) else None
        return found if found is not None else self._tools["unknown"]

    def observe_call(self, name: object, seconds: float, error: bool) -> None:
        tool = self.tool(name)
        tool.calls.inc()
        tool.latency.observe(seconds)
        if error:
            tool.errors.inc()

    def response(self, status: int) -> None:
        child = self._status.get(status)
        if child is None:
            child = self._status[status] = self._responses.labels(str(status))
        child.inc()

    def store_op(self, op: str) -> Any:
        child = self._store_ops.get(op)
        if child is None:
            child = self._store_ops[op] = self._store.labels(op)
        return child

    def counting(self, factory: Callable[[], str]) -> Callable[[], str]:
        """``factory`` (a session id factory) that counts the sessions it starts."""
        started = self.sessions_started

        def new_id() -> str:
            started.inc()
            return factory()

        return new_id

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TimedStore:
    """An event store that reports how long each of its operations takes (all else passes through)."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name in ("write_batch", "exclusive"):
            wrapped = self._timed_context(attr, self._metrics.store_op(name))
        elif name.startswith("_") or name in ("open", "close") or not inspect.iscoroutinefunction(attr):
            return attr
        else:
            wrapped = self._timed_call(attr, self._metrics.store_op(name))
        self.__dict__[name] = wrapped  # found directly from now on
        return wrapped

    @staticmethod
    def _timed_call(method: Callable[..., Any], histogram: Any) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - start)

        return timed

    @staticmethod
    def _timed_context(factory: Callable[..., Any], histogram: Any) -> Callable[..., Any]:
        @asynccontextmanager
        async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[None]:
            start = time.perf_counter()
            try:
                async with factory(*args, **kwargs):
                    yield
            finally:
                histogram.observe(time.perf_counter() - start)

        return timed
