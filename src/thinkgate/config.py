"""Settings from flags and environment variables (flags win), validated once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from thinkgate.domain.thinking import Limits
from thinkgate.engine.engine import EngineConfig
from thinkgate.errors import ConfigError

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


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a ThinkGate process."""

    store_url: str | None = None
    durability: str = "normal"
    log_level: str = "WARNING"
    log_thoughts: bool = False
    fast_path: bool = True
    engine: EngineConfig = field(default_factory=EngineConfig)

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
        )
        settings = cls(
            store_url=env.get("THINKGATE_STORE") or None,
            log_level=(env.get("THINKGATE_LOG_LEVEL") or "WARNING").upper(),
            log_thoughts=env.get("THINKGATE_LOG_THOUGHTS", "").lower() in ("1", "true", "yes")
            and env.get("DISABLE_THOUGHT_LOGGING", "").lower() not in ("1", "true", "yes"),
            fast_path=env.get("THINKGATE_FAST_PATH", "1").strip().lower() not in ("0", "false", "no", "off"),
            engine=engine,
        )
        return settings.with_overrides(durability=env.get("THINKGATE_DURABILITY") or "normal")

    def with_overrides(self, *, store_url: str | None = None, durability: str | None = None) -> Settings:
        """Apply command-line flags on top.

        Raises:
            ConfigError: a value is invalid.
        """
        new = replace(
            self,
            store_url=store_url if store_url is not None else self.store_url,
            durability=durability if durability is not None else self.durability,
        )
        if new.durability not in ("normal", "full"):
            raise ConfigError(f"durability must be 'normal' or 'full', got {new.durability!r}")
        if new.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"THINKGATE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {new.log_level!r}")
        return new

    def resolved_store_url(self) -> str:
        from thinkgate.store.url import default_store_url

        return self.store_url or default_store_url()
