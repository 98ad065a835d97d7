"""Scan agent-supplied text: warn on prompt-injection patterns, redact secrets before storage.

Injection patterns are matched on a normalised copy (format characters stripped, NFKC,
casefold, whitespace collapsed) and only reported; the content is kept. Secrets are
matched on the original text and replaced by ``[REDACTED:<kind>]``, so nothing stored
or logged downstream ever holds them.

Each rule carries cheap substring anchors; its regex runs only when an anchor occurs, so
benign text costs a handful of ``in`` checks. Regexes use possessive quantifiers and
bounded lookaheads to stay linear on adversarial 32 KiB input.

Measured (CPython 3.11, timeit): ~TIMING_BENIGN µs for a 200-character benign thought,
~TIMING_HIT µs for one carrying an injection and a secret.

Known limits: homoglyphs (Cyrillic ``о`` for ``o``) and letter-spacing ("i g n o r e")
evade the injection patterns; letters-only unquoted passwords (``password=changeme``)
are not redacted, to keep ``token: Optional[str]`` and similar code prose intact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import partial

__all__ = ["INJECTION_PATTERNS", "SECRET_PATTERNS", "ScanResult", "scan_text"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What ``scan_text`` found; ``text`` is the input with every secret redacted."""

    text: str
    injections: tuple[str, ...]
    secrets: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """True when no injection pattern and no secret was found."""
        return not self.injections and not self.secrets


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    anchors: tuple[str, ...]
    regex: re.Pattern[str]
    # Secret rules: anchors are looked up in the lowercased text instead of the original.
    anchors_lowered: bool = False


def _inj(kind: str, anchors: tuple[str, ...], pattern: str) -> _Rule:
    return _Rule(kind, anchors, re.compile(pattern))


# Matched against normalised text: casefolded, single spaces, no format characters.
_VERB_IGNORE = r"(?:ignore|disregard|forget|override|bypass)"
_DETERMINERS = r"(?:(?:all|any|of|the|your|my|these|those|everything|previous|prior) )*"
_QUALIFIER = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|developer)"
_ORDERS = r"(?:instructions?|rules|directions|guidelines|prompts?|directives|constraints)"
_INJECTION_RULES: tuple[_Rule, ...] = (
    _inj(
        "ignore_previous_instructions",
        ("ignore", "disregard", "forget", "override", "bypass"),
        rf"\b{_VERB_IGNORE} {_DETERMINERS}{_QUALIFIER} (?:\S+ )?{_ORDERS}\b"
        rf"|\b{_VERB_IGNORE} (?:all|any|your) (?:of )?(?:your |the )?"
        r"(?:instructions|guidelines|directives|prompts|programming)\b"
        r"|\b(?:ignore|disregard|forget) (?:all |everything )+"
        r"(?:above|before this|you(?:'ve| have) been told)",
    ),
    _inj(
        "role_reassignment",
        ("you are now", "you're now", "you’re now", "from now on", "pretend", "act as", "your new"),
        r"\byou(?: are|'re|’re) now (?:a|an|the|my|no longer|free|unrestricted|unfiltered|uncensored|"
        r"jailbroken|dan|acting|going to (?:act|pretend|roleplay)|called|named)\b"
        r"|\bfrom now on,? you(?: are|'re| will| must| shall| should)\b"
        r"|\bpretend (?:that )?you(?: are|'re)\b"
        r"|\bact as (?:an? )?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|dan)\b"
        r"|\byour new (?:role|persona|identity|name) is\b",
    ),
    _inj(
        "reveal_system_prompt",
        ("prompt", "instructions", "message"),
        r"\b(?:reveal|leak|dump|exfiltrate|expose) (?:\S+ ){0,3}?(?:system|hidden|secret|initial|original|"
        r"developer) (?:prompt|instructions|message)"
        r"|\b(?:print|show|display|output|repeat|tell|give|share|recite|write out|what is|what are|what's) "
        r"(?:me |us )?(?:\S+ ){0,2}?your (?:\S+ ){0,2}?(?:system prompt|system message|instructions|"
        r"initial prompt|hidden prompt|prompt)\b",
    ),
    _inj(
        "system_prompt_override",
        ("override", "overwrite", "bypass", "disable"),
        r"\b(?:override|overwrite|bypass|disable) (?:your |the |all |any )?(?:system prompt|system message|"
        r"safety (?:rules|guidelines|filters?|measures)|guardrails|content (?:policy|filters?))\b"
        r"|\bsystem prompt override\b",
    ),
    _inj(
        "fake_role_marker",
        ("<|", "inst]", "<<sys", "</s>", "##", "_of_turn>"),
        r"<\|[a-z_]{2,30}\|>|\[/?inst\]|<</?sys>>|</s>|<(?:start|end)_of_turn>"
        r"|(?<!\S)#{2,} ?(?:system|assistant|human|instructions?) ?:",
    ),
    _inj(
        "jailbreak",
        ("anything now", "dan mode", "god mode", "jailbr", "developer mode", "as dan", "are dan"),
        r"\bdo anything now\b|\b(?:dan|jailbreak|god) mode\b|\bdeveloper mode (?:enabled|activated|output)\b"
        r"|\byou(?: are|'re|'ve been) (?:now )?jailbroken\b|\b(?:act as|you are|you're) dan\b",
    ),
    _inj(
        "new_instructions",
        ("instruction", "directive"),
        r"\b(?:new|updated|revised|real|actual|true|override|secret) (?:system )?"
        r"(?:instructions?|directives?) ?:",
    ),
    _inj(
        "data_exfiltration",
        ("://",),
        r"\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email|paste)\b(?: \S+){0,5}? "
        r"(?:(?:all|every|any|your|the user's) (?:\S+ ){0,2}?(?:secrets?|credentials?|api keys?|keys|"
        r"tokens|passwords?|cookies)|\.env|~/\.ssh|ssh keys?|private keys?|system prompt|conversation|"
        r"chat history|env(?:ironment)? var(?:iable)?s)\b(?: \S+){0,4}? to (?:https?|ftp)://",
    ),
    _inj(
        "pipe_to_shell",
        ("curl", "wget"),
        r"\b(?:curl|wget)\b[^|;&]{0,300}\| ?(?:sudo )?(?:ba|z|da|k)?sh\b",
    ),
)

# Every Unicode 14 format (Cf) character, plus invisible fillers and variation selectors
# that are not Cf but render as nothing. A test checks this against ``unicodedata``.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff"
    "\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef]+"
)


def _normalise(text: str) -> str:
    """Strip invisible characters, NFKC, casefold and collapse whitespace to single spaces."""
    if text.isascii():
        # NFKC and Cf stripping are identities on ASCII, and casefold equals lower.
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()
    return " ".join(_INVISIBLE.sub("", folded).split())


def _detect_injections(text: str) -> tuple[str, ...]:
    norm = _normalise(text)
    found = {
        rule.kind
        for rule in _INJECTION_RULES
        if any(a in norm for a in rule.anchors) and rule.regex.search(norm) is not None
    }
    return tuple(sorted(found))


def _secret(kind: str, anchors: tuple[str, ...], pattern: str, *, lowered: bool = False) -> _Rule:
    flags = re.ASCII | (re.IGNORECASE if lowered else 0)
    return _Rule(kind, anchors, re.compile(pattern, flags), anchors_lowered=lowered)


# Secret values never start with a redaction marker, so a second scan finds nothing new.
_NOT_MARKER = r"(?!\[REDACTED:)"
_CRED_KEY = r"(?:password|passwd|passphrase|secret|secret[_-]?key|private[_-]?key|token|api[_-]?key|apikey)"
# Unquoted credential values stop at characters that mark code rather than a literal.
_VALUE_CHAR = r"[^\s\"'`()\[\]{}<>,;&]"

# Order matters: specific kinds before the generic ones that would also match them.
_SECRET_RULES: tuple[_Rule, ...] = (
    _secret(
        "private_key",
        ("-----BEGIN",),
        r"(?P<secret>-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
        # A block cut off before its END line is redacted through its last base64 or header line.
        r"(?:(?s:.){0,16384}?-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:\s*+(?:[A-Za-z0-9+/=]{16,}+|(?:Proc-Type|DEK-Info|Comment): [^\n]*+))*+))",
    ),
    # Before the token kinds, so a token used as a URL's user name or password is still
    # caught. Userinfo cannot hold "[" or "]" (RFC 3986), so markers block a second match.
    _secret(
        "url_password",
        ("://",),
        r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~!$&'()*+,;=%-]*:"
        r"(?P<secret>[A-Za-z0-9._~!$&'()*+,;=:%@-]+)@(?=[^\s@/])",
    ),
    _secret("anthropic_api_key", ("sk-ant-",), r"(?<![A-Za-z0-9_-])(?P<secret>sk-ant-[A-Za-z0-9_-]{20,}+)"),
    _secret(
        "openai_api_key",
        ("sk-",),
        r"(?<![A-Za-z0-9_-])(?P<secret>sk-(?=[A-Za-z0-9_-]{0,80}?[0-9])[A-Za-z0-9_-]{20,}+)",
    ),
    _secret(
        "aws_access_key_id",
        ("AKIA", "ASIA"),
        r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])",
    ),
    _secret(
        "aws_secret_access_key",
        ("aws_secret_access_key",),
        rf"aws_secret_access_key[\"']?[ \t]*[:=][ \t]*[\"']?{_NOT_MARKER}(?P<secret>[A-Za-z0-9/+=]{{20,}}+)",
        lowered=True,
    ),
    _secret(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)",
    ),
    _secret("gitlab_token", ("glpat-",), r"(?<![A-Za-z0-9_-])(?P<secret>glpat-[A-Za-z0-9_-]{20,}+)"),
    _secret("slack_token", ("xox",), r"(?<![A-Za-z0-9_-])(?P<secret>xox[baprs]-[A-Za-z0-9-]{10,}+)"),
    _secret(
        "stripe_key",
        ("_live_", "_test_"),
        r"(?<![A-Za-z0-9_])(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{16,}+)",
    ),
    _secret("google_api_key", ("AIza",), r"(?<![A-Za-z0-9_-])(?P<secret>AIza[A-Za-z0-9_-]{35,}+)"),
    _secret(
        "jwt",
        ("eyJ",),
        r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+)",
    ),
    _secret(
        "bearer_token",
        ("bearer",),
        rf"\bbearer[ \t]+{_NOT_MARKER}(?=[A-Za-z0-9._~+/-]{{0,200}}?[0-9])"
        r"(?P<secret>[A-Za-z0-9._~+/-]{8,}+=*+)",
        lowered=True,
    ),
    _secret(
        "credential_assignment",
        ("password", "passwd", "passphrase", "secret", "token", "api_key", "api-key", "apikey", "private"),
        rf"{_CRED_KEY}[\"']?[ \t]*[:=][ \t]*(?P<q>[\"']){_NOT_MARKER}(?P<secret>[^\"'\s]{{8,512}}+)(?P=q)",
        lowered=True,
    ),
    # Unquoted values must hold a digit or symbol and must not be a call or subscript, so
    # ``token: Optional[str]`` and ``password = request.form[...]`` stay as written.
    _secret(
        "credential_assignment",
        ("password", "passwd", "passphrase", "secret", "token", "api_key", "api-key", "apikey", "private"),
        rf"{_CRED_KEY}[\"']?[ \t]*[:=][ \t]*(?![\"'=]){_NOT_MARKER}"
        rf"(?={_VALUE_CHAR}{{0,511}}?[0-9!@#%^*+~?])(?P<secret>{_VALUE_CHAR}{{8,512}}+)(?![(\[])",
        lowered=True,
    ),
)

INJECTION_PATTERNS: tuple[str, ...] = tuple(rule.kind for rule in _INJECTION_RULES)
SECRET_PATTERNS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in _SECRET_RULES))


def _mask(marker: str, match: re.Match[str]) -> str:
    """Replace only the ``secret`` group of a match, keeping key names, users and hosts."""
    whole, base = match.group(0), match.start()
    start, end = match.span("secret")
    return whole[: start - base] + marker + whole[end - base :]


def _redact(text: str) -> tuple[str, tuple[str, ...]]:
    lowered = text.lower()
    found: set[str] = set()
    for rule in _SECRET_RULES:
        haystack = lowered if rule.anchors_lowered else text
        if not any(a in haystack for a in rule.anchors):
            continue
        text, count = rule.regex.subn(partial(_mask, f"[REDACTED:{rule.kind}]"), text)
        if count:
            found.add(rule.kind)
    return text, tuple(sorted(found))


def scan_text(text: str) -> ScanResult:
    """Scan one free-text field for prompt-injection patterns and redact the secrets in it.

    Args:
        text: the field as the agent sent it.

    Returns:
        The redacted text with the sorted, unique injection and secret kinds found.
    """
    redacted, secrets = _redact(text)
    return ScanResult(text=redacted, injections=_detect_injections(text), secrets=secrets)
