"""Settings from the environment and flags."""

from __future__ import annotations

import pytest

from thinkgate.config import Settings
from thinkgate.errors import ConfigError


def test_defaults_are_safe() -> None:
    s = Settings.from_env({})
    assert s.store_url is None
    assert s.durability == "normal"
    assert s.log_thoughts is False
    assert s.engine.limits.max_thought_bytes == 32 * 1024
    assert s.engine.limits.max_thoughts_per_session == 100_000
    assert s.engine.max_sessions == 100_000


def test_environment_sets_limits_and_store() -> None:
    s = Settings.from_env(
        {
            "THINKGATE_STORE": "memory://",
            "THINKGATE_MAX_THOUGHT_BYTES": "100",
            "THINKGATE_MAX_SESSIONS": "7",
            "THINKGATE_CACHE_MB": "2",
            "THINKGATE_DURABILITY": "full",
        }
    )
    assert (s.store_url, s.durability) == ("memory://", "full")
    assert s.engine.limits.max_thought_bytes == 100
    assert s.engine.max_sessions == 7
    assert s.engine.cache_max_bytes == 2 * 1024 * 1024


def test_flags_win_over_the_environment() -> None:
    s = Settings.from_env({"THINKGATE_STORE": "memory://"}).with_overrides(
        store_url="sqlite:///x.db", durability="full"
    )
    assert (s.store_url, s.durability) == ("sqlite:///x.db", "full")


@pytest.mark.parametrize(
    "env",
    [
        {"THINKGATE_MAX_THOUGHT_BYTES": "lots"},
        {"THINKGATE_MAX_SESSIONS": "0"},
        {"THINKGATE_DURABILITY": "sometimes"},
        {"THINKGATE_LOG_LEVEL": "chatty"},
    ],
)
def test_invalid_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_thought_logging_is_opt_in_and_the_official_switch_turns_it_off() -> None:
    assert Settings.from_env({"THINKGATE_LOG_THOUGHTS": "1"}).log_thoughts is True
    assert Settings.from_env({"THINKGATE_LOG_THOUGHTS": "1", "DISABLE_THOUGHT_LOGGING": "true"}).log_thoughts is False
