"""Url and text evidence: declared, never checked; tiers and groups from their origin."""

from __future__ import annotations

import pytest

from thinkgate.evidence import CheckContext, check_text, check_url
from thinkgate.evidence.origin import command_group, domain_group, registrable_domain, source_group

pytestmark = pytest.mark.anyio

CTX = CheckContext(roots=(), commands=frozenset())


def url(address: object, **fields: object) -> dict[str, object]:
    return {"kind": "url", "stance": "supports", "url": address, **fields}


@pytest.mark.parametrize(("declared", "tier"), [(None, 2), (1, 2), (2, 2), (3, 3)])
async def test_a_url_is_not_checked_and_is_at_best_tier_two(declared: int | None, tier: int) -> None:
    fields = {} if declared is None else {"tier": declared}
    result = await check_url(url("https://example.com/page", **fields), CTX)
    assert (result.check, result.tier) == ("not_checked", tier)
    assert result.reason == "a url is declared, not fetched"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://a.b.example.co.uk/x", "http://example.co.uk/y"),
        ("https://docs.python.org/3/", "https://www.python.org/"),
        ("https://EXAMPLE.com./a", "https://example.com/b"),
        ("https://user:pw@example.com:8443/a?q=1#f", "https://example.com"),
        ("https://bücher.de/", "https://www.xn--bcher-kva.de/"),
    ],
)
async def test_urls_on_one_registrable_domain_share_a_group(first: str, second: str) -> None:
    assert (await check_url(url(first), CTX)).group == (await check_url(url(second), CTX)).group


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://alice.github.io/", "https://bob.github.io/"),  # the PSL's private section
        ("https://example.co.uk/", "https://example.org.uk/"),
        ("https://example.com/", "https://example.net/"),
    ],
)
async def test_urls_on_different_registrable_domains_differ(first: str, second: str) -> None:
    assert (await check_url(url(first), CTX)).group != (await check_url(url(second), CTX)).group


async def test_the_group_names_the_registrable_domain() -> None:
    assert (await check_url(url("https://a.b.example.co.uk/x"), CTX)).group == "domain:example.co.uk"
    assert (await check_url(url("https://alice.github.io/"), CTX)).group == "domain:alice.github.io"


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("http://192.168.0.1:8080/x", "domain:192.168.0.1"),
        ("http://[2001:db8::1]/", "domain:2001:db8::1"),
        ("http://localhost:8000/", "domain:localhost"),
    ],
)
async def test_ip_literals_and_bare_hosts_stand_for_themselves(address: str, group: str) -> None:
    assert (await check_url(url(address), CTX)).group == group


@pytest.mark.parametrize(
    "fields",
    [
        {"url": None},
        {"url": 5},
        {"url": ""},
        {"url": "not a url"},
        {"url": "mailto:someone@example.com"},
        {"url": "http://[::1/"},
        {"url": "https://example.com", "tier": 0},
        {"url": "https://example.com", "tier": 4},
        {"url": "https://example.com", "tier": "1"},
        {"url": "https://example.com", "tier": True},
    ],
)
async def test_malformed_urls_fail(fields: dict[str, object]) -> None:
    result = await check_url({"kind": "url", **fields}, CTX)
    assert (result.check, result.tier) == ("failed", 3)
    assert result.reason.startswith("malformed evidence:")


async def test_text_is_never_checked_and_is_tier_three() -> None:
    result = await check_text({"kind": "text", "text": "the docs say so", "source": "Team Wiki"}, CTX)
    assert (result.check, result.tier, result.group) == ("not_checked", 3, "source:team wiki")
    assert result.reason == "free text is never checked"


async def test_text_sources_are_grouped_case_and_whitespace_insensitively() -> None:
    a = await check_text({"text": "x", "source": "  Team\n  WIKI "}, CTX)
    b = await check_text({"text": "y", "source": "team wiki"}, CTX)
    assert a.group == b.group == "source:team wiki"


@pytest.mark.parametrize("source", [None, "", "   "])
async def test_text_without_a_source_is_grouped_as_unknown(source: str | None) -> None:
    fields = {} if source is None else {"source": source}
    assert (await check_text({"text": "x", **fields}, CTX)).group == "source:unknown"


@pytest.mark.parametrize("fields", [{}, {"text": None}, {"text": 3}, {"text": " "}, {"text": "x", "source": 3}])
async def test_malformed_text_fails(fields: dict[str, object]) -> None:
    result = await check_text({"kind": "text", **fields}, CTX)
    assert result.check == "failed"
    assert result.reason.startswith("malformed evidence:")


def test_registrable_domains_follow_the_public_suffix_list() -> None:
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("co.uk") == "co.uk"
    assert registrable_domain("[::1]") == "::1"
    assert domain_group("WWW.Example.COM") == "domain:example.com"


def test_command_groups_name_the_program() -> None:
    assert command_group("pytest") == "command:pytest"
    assert command_group("/usr/bin/git") == "command:git"


def test_source_groups_are_bounded_in_length() -> None:
    assert len(source_group("x" * 10_000)) == len("source:") + 200
