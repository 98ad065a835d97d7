"""Settings from flags and environment variables (flags win), validated once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from thinkgate.domain.thinking import Limits
from thinkgate.engine.engine import EngineConfig
from thinkgate.errors import ConfigError
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS, parse_toolsets

__all__ = ["ENV_VARS", "Settings"]

# name -> what it sets; README's configuration table is checked against this list by a test.
ENV_VARS: dict[str, str] = {
    "THINKGATE_STORE": "event store URL (sqlite:///path.db, memory://); default: a file in the user data dir",
    "THINKGATE_DURABILITY": "normal (survives kill -9) or full (fsync per commit, survives power loss)",
    "THINKGATE_LOG_LEVEL": "stderr log level: DEBUG, INFO, WARNING (default), ERROR",
    "THINKGATE_LOG_THOUGHTS": "1 to log thought content (off by default; secrets are redacted either way)",
    "DISABLE_THOUGHT_LOGGING": "true forces thought logging off (the official server's variable; off is the default)",
    "THINKGATE_MAX_THOUGHT_BYTES": "largest thought accepted, in UTF-8 bytes (default 32768)",
    "THINKGATE_MAX_THOUGHTS_PER_SESSION": "thoughts one session may hold (default 100000)",
    "THINKGATE_MAX_SESSIONS": "sessions the store may hold (default 100000)",
    "THINKGATE_CACHE_SESSIONS": "hot session states kept in memory (default 2048)",
    "THINKGATE_CACHE_MB": "memory budget of the hot-session cache in MiB (default 16)",
    "THINKGATE_FAST_PATH": "0 sends every stdio message through the MCP SDK instead of the fast path (diagnosis)",
    "THINKGATE_TOOLSETS": "comma-separated toolsets to list: core (always on), graph, sot, governance, or all "
    "(default core,graph,governance)",
    "THINKGATE_HTTP_HOST": "address `serve --http` listens on (default 127.0.0.1; anything else needs a token)",
    "THINKGATE_HTTP_PORT": "port `serve --http` listens on (default 8765; 0 picks a free one)",
    "THINKGATE_ALLOWED_HOSTS": "comma-separated extra Host header names `serve --http` accepts (DNS-rebinding check)",
    "THINKGATE_ALLOWED_ORIGINS": "comma-separated extra Origin values `serve --http` accepts, e.g. https://app.example",
    "THINKGATE_TOKEN": "bearer token `serve --http` requires on /mcp and /metrics (at least 16 characters)",
    "THINKGATE_TOKEN_FILE": "file holding that token (first line)",
    "THINKGATE_SESSION_IDLE_DAYS": "`serve --http` deletes sessions idle this many days, hourly (default 0: keep all)",
    "THINKGATE_HTTP_LIST_SESSIONS": "1 lets HTTP clients list every stored session (off: list_sessions is refused)",
    "THINKGATE_EVIDENCE_ROOTS": "directories file evidence may be read from, separated by the OS path separator, when "
    "the client offers no MCP roots (default: the working directory)",
    "THINKGATE_EVIDENCE_COMMANDS": "comma-separated program names command evidence may run (default: none)",
    "THINKGATE_EVIDENCE_TIMEOUT": "seconds one evidence command may run (default 30)",
}


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < lo:
        raise ConfigError(f"{name} must be >= {lo}, got {value}")
    return value


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _roots(raw: str | None) -> tuple[str, ...] | None:
    if raw is None or not raw.strip():
        return None
    return tuple(part for part in raw.split(os.pathsep) if part.strip())


def _programs(raw: str | None) -> frozenset[str]:
    names = _list(raw)
    for name in names:
        if "/" in name or "\\" in name or name in (".", ".."):
            raise ConfigError(f"THINKGATE_EVIDENCE_COMMANDS takes program names, not paths: {name!r}")
    return frozenset(names)


MIN_TOKEN_CHARS = 16


def _token(value: str | None, path: str | None) -> str | None:
    """The bearer token from the variable or the file (the variable wins); None when neither is set."""
    if not value and path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the token file {path}: {exc}") from None
        value = lines[0] if lines else ""
        if not value.strip():
            raise ConfigError(f"the token file {path} is empty")
    if not value:
        return None
    value = value.strip()
    if len(value) < MIN_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        # The message never contains the token itself.
        raise ConfigError(f"the bearer token must be at least {MIN_TOKEN_CHARS} printable characters without spaces")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a ThinkGate process."""

    store_url: str | None = None
    durability: str = "normal"
    log_level: str = "WARNING"
    log_thoughts: bool = False
    fast_path: bool = True
    engine: EngineConfig = field(default_factory=EngineConfig)
    toolsets: frozenset[str] = DEFAULT_TOOLSETS
    # `serve --http` (the Streamable HTTP sidecar)
    http_host: str = "127.0.0.1"
    http_port: int = 8765
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)  # never printed
    http_list_sessions: bool = False
    session_idle_days: int = 0  # 0: sessions never expire

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``THINKGATE_*`` variables.

        Raises:
            ConfigError: a variable has an invalid value.
        """
        env = os.environ if env is None else env
        limits = Limits(
            max_thought_bytes=_int(env, "THINKGATE_MAX_THOUGHT_BYTES", 32 * 1024),
            max_thoughts_per_session=_int(env, "THINKGATE_MAX_THOUGHTS_PER_SESSION", 100_000),
        )
        engine = EngineConfig(
            limits=limits,
            max_sessions=_int(env, "THINKGATE_MAX_SESSIONS", 100_000),
            cache_max_sessions=_int(env, "THINKGATE_CACHE_SESSIONS", 2048),
            cache_max_bytes=_int(env, "THINKGATE_CACHE_MB", 16) * 1024 * 1024,
            evidence_roots=_roots(env.get("THINKGATE_EVIDENCE_ROOTS")),
            evidence_commands=_programs(env.get("THINKGATE_EVIDENCE_COMMANDS")),
            evidence_timeout=float(_int(env, "THINKGATE_EVIDENCE_TIMEOUT", 30)),
        )
        settings = cls(
            store_url=env.get("THINKGATE_STORE") or None,
            log_level=(env.get("THINKGATE_LOG_LEVEL") or "WARNING").upper(),
            log_thoughts=env.get("THINKGATE_LOG_THOUGHTS", "").lower() in ("1", "true", "yes")
            and env.get("DISABLE_THOUGHT_LOGGING", "").lower() not in ("1", "true", "yes"),
            fast_path=env.get("THINKGATE_FAST_PATH", "1").strip().lower() not in ("0", "false", "no", "off"),
            engine=engine,
            toolsets=parse_toolsets(env.get("THINKGATE_TOOLSETS")),
            http_host=env.get("THINKGATE_HTTP_HOST") or "127.0.0.1",
            http_port=_int(env, "THINKGATE_HTTP_PORT", 8765, lo=0),
            allowed_hosts=_list(env.get("THINKGATE_ALLOWED_HOSTS")),
            allowed_origins=_list(env.get("THINKGATE_ALLOWED_ORIGINS")),
            token=_token(env.get("THINKGATE_TOKEN"), env.get("THINKGATE_TOKEN_FILE")),
            http_list_sessions=env.get("THINKGATE_HTTP_LIST_SESSIONS", "").strip().lower() in ("1", "true", "yes"),
            session_idle_days=_int(env, "THINKGATE_SESSION_IDLE_DAYS", 0, lo=0),
        )
        return settings.with_overrides(durability=env.get("THINKGATE_DURABILITY") or "normal")

    def with_overrides(
        self, *, store_url: str | None = None, durability: str | None = None, toolsets: str | None = None
    ) -> Settings:
        """Apply command-line flags on top.

        Raises:
            ConfigError: a value is invalid.
        """
        new = replace(
            self,
            store_url=store_url if store_url is not None else self.store_url,
            durability=durability if durability is not None else self.durability,
            toolsets=parse_toolsets(toolsets) if toolsets is not None else self.toolsets,
        )
        if new.durability not in ("normal", "full"):
            raise ConfigError(f"durability must be 'normal' or 'full', got {new.durability!r}")
        if new.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"THINKGATE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {new.log_level!r}")
        return new

    def with_http(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        allow_hosts: Sequence[str] = (),
        allow_origins: Sequence[str] = (),
        token_file: str | None = None,
        list_sessions: bool = False,
    ) -> Settings:
        """Apply the ``serve --http`` flags on top (lists add to the environment's).

        Raises:
            ConfigError: a value is invalid or the token file cannot be read.
        """
        port = self.http_port if port is None else port
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {port}")
        return replace(
            self,
            http_host=host or self.http_host,
            http_port=port,
            allowed_hosts=self.allowed_hosts + tuple(h.strip() for h in allow_hosts if h.strip()),
            allowed_origins=self.allowed_origins + tuple(o.strip() for o in allow_origins if o.strip()),
            token=_token(None, token_file) if token_file else self.token,
            http_list_sessions=list_sessions or self.http_list_sessions,
        )

    def resolved_store_url(self) -> str:
        from thinkgate.store.url import default_store_url

        return self.store_url or default_store_url()
