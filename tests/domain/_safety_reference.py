"""Scan agent-supplied text: warn on prompt-injection patterns, redact secrets before storage.

Injection patterns are matched on a normalised copy (invisible characters stripped, NFKC,
casefold, whitespace collapsed) and only reported; the content is kept. Secrets are
matched on the original text and replaced by ``[REDACTED:<kind>]``, so nothing stored
or logged downstream holds them.

Speed: a rule's regex runs only when its substring anchors occur, so benign text costs a
few dozen ``in`` checks. Possessive quantifiers and bounded lookaheads keep the regexes
linear on adversarial input. Measured with timeit (CPython 3.11, a shared 2-core VM where
``sum(range(100))`` takes 0.78 µs): 10 µs for a 200-character benign ASCII thought, 15 µs
for a non-ASCII one, 22-23 µs for code prose full of trigger words ("ignore", "password:",
a URL), 0.8 ms for 32 KiB of prose, at most ~15 ms for pathological 32 KiB input.

Deliberate choices: a mere mention ("the system prompt is configured in config.py") is
clean; a request aimed at the model ("print your system prompt") is flagged. Homoglyphs
(Cyrillic "о" for "o") and letter-spacing ("i g n o r e") evade the injection patterns.
Unquoted letters-only values (``password=changeme``) are not redacted, so code prose such
as ``token: Optional[str]`` stays readable; quoted literals of any length (also
``password is "hunter2"``) and values holding a digit or symbol are. Upper-case environment
assignments (``PGPASSWORD=``, ``DB_PASSWORD=changeme``, ``*_TOKEN=``) are redacted whatever
the value, bar ``$VAR`` and ``<placeholder>`` references. The short keys ``pass`` and ``pwd``
must start a word and take an unquoted value only after "=" ("PASS: test_2" stays), and
curl's ``-u user:password`` counts only inside a curl command (``docker run -u 1000:1000`` stays).
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
    regex: re.Pattern[str]
    # The regex runs only if one of ``anchors`` and one substring of each ``also`` group occur.
    anchors: frozenset[str]
    also: tuple[tuple[str, ...], ...]
    # Case-insensitive secret rules: anchors are looked up in the lowercased text, and
    # ``gate`` (the same pattern, case-sensitive) screens lowercased ASCII text cheaply.
    gate: re.Pattern[str] | None = None
    # False: an unquoted value of letters only (a name or a type, not a secret) is kept.
    letters_ok: bool = True


def _inj(kind: str, pattern: str, anchors: tuple[str, ...], *also: tuple[str, ...]) -> _Rule:
    return _Rule(kind, re.compile(pattern), frozenset(anchors), also)


# Matched against normalised text: casefolded, single spaces, no invisible characters.
_VERB_IGNORE = r"(?:ignore|disregard|forget|override|bypass)"
_DETERMINERS = r"(?:(?:all|any|of|the|your|my|these|those|everything|previous|prior) )*"
_QUALIFIER = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|developer)"
_ORDERS = r"(?:instructions?|rules|directions|guidelines|prompts?|directives|constraints)"
# Patterns are led by their trigger words with no leading ``\b``: sre then skips ahead on
# the first character, several times faster, and the rest of each phrase is specific enough.
_INJECTION_RULES: tuple[_Rule, ...] = (
    _inj(
        "ignore_previous_instructions",
        rf"{_VERB_IGNORE} (?:{_DETERMINERS}{_QUALIFIER} (?:\S+ )?{_ORDERS}\b"
        r"|(?:all|any|your) (?:of )?(?:your |the )?(?:instructions|guidelines|directives|prompts|programming)\b"
        r"|(?:all |everything )+(?:above|before this|you(?:'ve| have) been told))",
        ("ignore", "disregard", "forget", "override", "bypass"),
        (
            "instruction",
            "rules",
            "direction",
            "guideline",
            "prompt",
            "directive",
            "constraint",
            "programming",
            "above",
            "before this",
            "told",
        ),
    ),
    _inj(
        "role_reassignment",
        r"(?:you(?: are|'re|’re) now (?:a|an|the|my|no longer|free|unrestricted|unfiltered|uncensored|"
        r"jailbroken|dan|acting|going to (?:act|pretend|roleplay)|called|named)\b"
        r"|from now on,? you(?: are|'re| will| must| shall| should)\b"
        r"|pretend (?:that )?you(?: are|'re)\b"
        r"|act as (?:an? )?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|dan)\b"
        r"|your new (?:role|persona|identity|name) is\b)",
        ("re now", "now on", "pretend", "act as", "your"),
    ),
    _inj(
        "reveal_system_prompt",
        r"(?:reveal|leak|dump|exfiltrate|expose) (?:\S+ ){0,3}?(?:system|hidden|secret|initial|original|"
        r"developer) (?:prompt|instructions|message)",
        ("prompt", "instruction", "message"),
        ("reveal", "leak", "dump", "exfiltrate", "expose"),
    ),
    _inj(
        "reveal_system_prompt",
        r"(?:print|show|display|output|repeat|tell|give|share|recite|write out|what is|what are|what's) "
        r"(?:me |us )?(?:\S+ ){0,2}?your (?:\S+ ){0,2}?(?:system prompt|system message|instructions|"
        r"initial prompt|hidden prompt|prompt)\b",
        ("your",),
        ("prompt", "instruction", "message"),
    ),
    _inj(
        "system_prompt_override",
        r"(?:(?:override|overwrite|bypass|disable) (?:your |the |all |any )?(?:system prompt|system message|"
        r"safety (?:rules|guidelines|filters?|measures)|guardrails|content (?:policy|filters?))\b"
        r"|system prompt override\b)",
        ("override", "overwrite", "bypass", "disable"),
        ("system", "safety", "guardrails", "content"),
    ),
    _inj(
        "fake_role_marker",
        r"<(?:\|[a-z_]{2,30}\|>|</?sys>>|/s>|(?:start|end)_of_turn>)|\[/?inst\]",
        ("<", "inst]"),
    ),
    # Markdown headings are common in thoughts, so "##" gets its own cheap literal-led rule.
    _inj("fake_role_marker", r"##+ ?(?:system|assistant|human|instructions?) ?:", ("##",)),
    _inj(
        "jailbreak",
        r"(?:do anything now\b|(?:dan|jailbreak|god) mode\b|developer mode (?:enabled|activated|output)\b"
        r"|you(?: are|'re|'ve been) (?:now )?jailbroken\b|(?:act as|you are|you're) dan\b)",
        ("anything now", "dan mode", "as dan", "re dan", "god mode", "jailbr", "developer mode"),
    ),
    _inj(
        "new_instructions",
        r"(?:new|updated|revised|real|actual|true|override|secret) (?:system )?"
        r"(?:instructions?|directives?) ?:",
        ("instruction", "directive"),
        (":",),
    ),
    _inj(
        "data_exfiltration",
        r"(?:send|post|upload|forward|transmit|exfiltrate|leak|email|paste)\b(?: \S+){0,5}? "
        r"(?:(?:all|every|any|your|the user's) (?:\S+ ){0,2}?(?:secrets?|credentials?|api keys?|keys|"
        r"tokens|passwords?|cookies)|\.env|~/\.ssh|ssh keys?|private keys?|system prompt|conversation|"
        r"chat history|env(?:ironment)? var(?:iable)?s)\b(?: \S+){0,4}? to (?:https?|ftp)://",
        ("://",),
        ("send", "post", "upload", "forward", "transmit", "exfiltrate", "leak", "email", "paste"),
    ),
    _inj(
        "pipe_to_shell",
        r"(?:curl|wget)\b[^|;&]{0,300}\| ?(?:sudo )?(?:ba|z|da|k)?sh\b",
        ("curl", "wget"),
        ("|",),
    ),
)

# Invisible characters that are printable to ``str.isprintable``: fillers, the combining
# grapheme joiner and variation selectors. They render as nothing, so they are stripped.
_PRINTABLE_INVISIBLES = "\u034f\u115f\u1160\u2800\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef"
_INVISIBLE_PRINTABLE = re.compile(f"[{_PRINTABLE_INVISIBLES}]+")
# Those plus every Unicode 14 format (Cf) character; a test checks this against ``unicodedata``.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    f"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f{_PRINTABLE_INVISIBLES}]+"
)


def _normalise(text: str, lowered: str) -> str:
    """Strip invisible characters, NFKC, casefold and collapse whitespace to single spaces."""
    if text.isascii():
        # NFKC and invisible-stripping are identities on ASCII, and casefold equals lower.
        # Printable ASCII holds no whitespace but " ", so only double spaces need collapsing.
        if lowered.isprintable() and "  " not in lowered:
            return lowered
        return " ".join(lowered.split())
    # Stripping last also catches fillers that NFKC produces (U+FFA0 becomes U+1160).
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isprintable():
        # No format characters and no whitespace but " ": a shorter, faster class will do.
        stripped = _INVISIBLE_PRINTABLE.sub("", folded)
        return stripped if "  " not in stripped else " ".join(stripped.split())
    return " ".join(_INVISIBLE.sub("", folded).split())


def _candidates(rules: tuple[_Rule, ...], present: set[str], haystack: str) -> list[_Rule]:
    """The rules with an anchor in ``present`` and a substring of each ``also`` group in ``haystack``."""
    if not present:
        return []
    # Plain loops: generator expressions cost more than the substring checks they wrap.
    out = []
    for rule in rules:
        if rule.anchors.isdisjoint(present):
            continue
        for group in rule.also:
            for anchor in group:
                if anchor in haystack:
                    break
            else:
                break  # this group has no substring present
        else:
            out.append(rule)
    return out


def _secret(
    kind: str,
    pattern: str,
    anchors: tuple[str, ...],
    *also: tuple[str, ...],
    nocase: bool = False,
    letters_ok: bool = True,
) -> _Rule:
    if nocase:
        regex = re.compile(pattern, re.ASCII | re.IGNORECASE)
        gate = re.compile(pattern, re.ASCII)
        return _Rule(kind, regex, frozenset(anchors), also, gate, letters_ok)
    return _Rule(kind, re.compile(pattern, re.ASCII), frozenset(anchors), also, None, letters_ok)


# Values never start with a redaction marker, so a second scan finds nothing new.
_NOT_MARKER = r"(?!\[REDACTED:)"
_CRED_KEY = r"(?:password|passwd|passphrase|secret|secret[_-]?key|private[_-]?key|token|api[_-]?key|apikey)"
_CRED_ANCHORS = ("pass", "secret", "private", "token", "api_key", "api-key", "apikey")
# Unquoted credential values stop at characters that mark code rather than a literal.
_VALUE_CHAR = r"[^\s\"'`()\[\]{}<>,;&]"
# A quoted credential literal: 8+ characters, or a shorter one closed by its quote.
_QUOTED_VALUE = r"(?:[^\"'\s]{8,512}+|[^\"'\s]{1,7}+(?=[\"']))"
# ``key is "value"`` counts as an assignment only when the value is quoted.
_IS_QUOTED = r"[ \t]+is[ \t]+(?=[\"'])"
# A curl user name: no quote, colon or bracket, so a marker is never taken for one.
_CURL_USER = r"[^\s:\"'\[\]]++"

# Order matters: specific kinds before the generic ones that would also match them.
_SECRET_RULES: tuple[_Rule, ...] = (
    _secret(
        "private_key",
        # The body holds no "-----", so each BEGIN scans only up to the next boundary. A block
        # cut off before its END line is redacted through its last base64 or header line.
        r"(?P<secret>-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:[^-]++|-(?!----))*+-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:\s*+(?:[A-Za-z0-9+/=]{16,}+|(?:Proc-Type|DEK-Info|Comment): [^\n]*+))*+))",
        ("-----BEGIN",),
    ),
    # Before the token kinds, so a token used as a URL's user name is caught as well as the
    # password. Userinfo cannot hold "[" or "]" (RFC 3986), so markers block a second match.
    _secret(
        "url_password",
        r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~!$&'()*+,;=%-]*:"
        r"(?P<secret>[A-Za-z0-9._~!$&'()*+,;=:%@-]+)@(?=[^\s@/])",
        ("://",),
        ("@",),
    ),
    _secret("anthropic_api_key", r"(?<![A-Za-z0-9_-])(?P<secret>sk-ant-[A-Za-z0-9_-]{20,}+)", ("sk-",)),
    _secret(
        "openai_api_key",
        r"(?<![A-Za-z0-9_-])(?P<secret>sk-(?=[A-Za-z0-9_-]{0,80}?[0-9])[A-Za-z0-9_-]{20,}+)",
        ("sk-",),
    ),
    _secret(
        "aws_access_key_id",
        r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        ("AKIA", "ASIA"),
    ),
    _secret(
        "aws_secret_access_key",
        rf"aws_secret_access_key[\"']?[ \t]*[:=][ \t]*[\"']?{_NOT_MARKER}(?P<secret>[A-Za-z0-9/+=]{{20,}}+)",
        ("secret",),
        nocase=True,
    ),
    _secret(
        "github_token",
        r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _secret("gitlab_token", r"(?<![A-Za-z0-9_-])(?P<secret>glpat-[A-Za-z0-9_-]{20,}+)", ("glpat-",)),
    _secret("slack_token", r"(?<![A-Za-z0-9_-])(?P<secret>xox[baprs]-[A-Za-z0-9-]{10,}+)", ("xox",)),
    _secret(
        "stripe_key",
        r"(?<![A-Za-z0-9_])(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{16,}+)",
        ("_live_", "_test_"),
    ),
    _secret("google_api_key", r"(?<![A-Za-z0-9_-])(?P<secret>AIza[A-Za-z0-9_-]{35,}+)", ("AIza",)),
    _secret("huggingface_token", r"(?P<secret>hf_(?<![A-Za-z0-9_]hf_)[A-Za-z0-9]{30,}+)", ("hf_",)),
    _secret("npm_token", r"(?P<secret>npm_(?<![A-Za-z0-9_]npm_)[A-Za-z0-9]{36})(?![A-Za-z0-9])", ("npm_",)),
    _secret(
        "azure_storage_key",
        r"AccountKey=(?P<secret>[A-Za-z0-9+/]{40,}+={0,2})",
        ("AccountKey=",),
    ),
    # A whole SAS token in a connection string, or the signature of a SAS URL (the rest of
    # its query string says what the signature grants and is kept).
    _secret(
        "azure_sas_token",
        rf"SharedAccessSignature={_NOT_MARKER}(?P<secret>[^\s;\"'<>]++)",
        ("SharedAccessSignature=",),
    ),
    _secret("azure_sas_token", r"sig=(?<=[?&;]sig=)(?P<secret>[A-Za-z0-9%+/=]{20,}+)", ("sig=",), ("?", "&")),
    _secret(
        "jwt",
        r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+)",
        ("eyJ",),
    ),
    _secret(
        "bearer_token",
        rf"bearer(?<![A-Za-z0-9_]bearer)[ \t]+{_NOT_MARKER}(?=[A-Za-z0-9._~+/-]{{0,200}}?[0-9])"
        r"(?P<secret>[A-Za-z0-9._~+/-]{8,}+=*+)",
        ("bearer",),
        nocase=True,
    ),
    # The header's base64 must be well formed (padded to a multiple of 4) and hold a digit,
    # "+", "/" or "=" or run to 12+ characters, so "Authorization: Basic authentication" stays.
    _secret(
        "basic_auth",
        r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?basic[ \t]++(?=[A-Za-z0-9+/]{0,11}[0-9+/=]|[A-Za-z0-9+/]{12})"
        r"(?P<secret>(?:[A-Za-z0-9+/]{4})++(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)(?![A-Za-z0-9+/=])",
        ("authorization",),
        ("asic", "ASIC"),
        nocase=True,
    ),
    # Upper-case environment assignments (``PGPASSWORD=``, ``MYSQL_PWD=``, ``*_TOKEN=``...):
    # the value runs to whitespace (or its closing quote) whatever it holds, unless it is a
    # ``$VAR``, ``${{ }}``, ``%VAR%`` or ``<placeholder>`` reference. Led by ``[A-Z]`` so
    # sre skips to capitals; the name is read once and its suffix checked by lookbehinds.
    _secret(
        "credential_assignment",
        r"[A-Z](?<![A-Za-z0-9_][A-Z])[A-Z0-9_]*+=(?:(?<=PASSWORD=)|(?<=PASSWD=)|(?<=_PWD=)|(?<=_SECRET=)"
        r"|(?<=_SECRET_KEY=)|(?<=_TOKEN=)|(?<=_API_KEY=))"
        rf"(?P<q>[\"'])?(?![$<{{%]){_NOT_MARKER}(?P<secret>(?(q)[^\"'\n]++|[^\s\"']++))",
        ("PASSWORD=", "PASSWD=", "_PWD=", "_SECRET=", "_SECRET_KEY=", "_TOKEN=", "_API_KEY="),
    ),
    # A quoted value is any 8+ non-space characters, or a shorter literal closed by its
    # quote. An unquoted one must hold a digit or symbol and must not be a call or
    # subscript, so ``token: Optional[str]`` and ``password = request.form[...]`` stay as written.
    _secret(
        "credential_assignment",
        rf"{_CRED_KEY}(?:[\"']?[ \t]*[:=][ \t]*|{_IS_QUOTED})(?P<q>[\"'])?{_NOT_MARKER}"
        rf"(?P<secret>(?(q){_QUOTED_VALUE}|(?![\"'=]){_VALUE_CHAR}{{8,512}}+))(?(q)|(?![(\[]))",
        _CRED_ANCHORS,
        (":", "=", '"', "'"),
        nocase=True,
        letters_ok=False,
    ),
    # The short keys ``pass`` and ``pwd`` must start a word, and take an unquoted value only
    # after "=": "PASS: test_login_2" (test output) and ``PWD=/home/ci1`` (a path) stay.
    _secret(
        "credential_assignment",
        rf"(?:pass|pwd)(?<![a-z0-9]pass)(?<![a-z0-9]pwd)[\"']?(?:[ \t]*=[ \t]*|[ \t]*:[ \t]*(?=[\"'])|{_IS_QUOTED})"
        rf"(?P<q>[\"'])?{_NOT_MARKER}(?P<secret>(?(q){_QUOTED_VALUE}|(?![\"'=/~]){_VALUE_CHAR}{{8,512}}+))"
        r"(?(q)|(?![(\[]))",
        ("pass", "pwd"),
        (":", "=", '"', "'"),
        nocase=True,
        letters_ok=False,
    ),
    # curl's ``-u user:password`` in the same command as ``curl``; the user name is kept, and
    # a ``$VAR`` password is a reference, not a secret. The possessive scan stops at the
    # first option "-u"/"--user", a line end, a "|;&" or the next "curl", so it is linear.
    # Last, so no later redaction can remove a stop character and expose a new match.
    _secret(
        "basic_auth",
        r"curl(?<![A-Za-z0-9_-]curl)\b(?:[^\n|;&c-]++|c(?!url\b)|-(?!u|-user)|(?<![\s\"'=])-)*+"
        r"-(?:u[ \t]*+|-user(?:[ \t]++|=))(?P<q>[\"'])?"
        rf"{_CURL_USER}:{_NOT_MARKER}(?!\$\{{?[A-Za-z_][A-Za-z0-9_]*+\}}?(?:[\s\"']|$))"
        r"(?P<secret>(?(q)[^\"'\n]++|[^\s\"']++))",
        ("curl",),
        ("-u",),
    ),
)

INJECTION_PATTERNS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in _INJECTION_RULES))
SECRET_PATTERNS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in _SECRET_RULES))

# Characters rare in prose. An anchor holding one is only looked for when that character
# occurs, and a one-character ``in`` is a memchr, several times cheaper than a substring.
# The first of them in an anchor gates it: "=" leads, as capitals and "_" are commoner.
_GATE_CHARS = "=-_:<[]#JA"


def _gated(anchors: set[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups: dict[str, list[str]] = {}
    for anchor in sorted(anchors):
        gate = next((c for c in _GATE_CHARS if c in anchor), "")
        groups.setdefault(gate, []).append(anchor)
    return tuple((gate, tuple(group)) for gate, group in groups.items())


# One pass over each anchor list per scan; a benign text usually finds none and stops there.
_INJECTION_ANCHORS = _gated({a for rule in _INJECTION_RULES for a in rule.anchors})
_CASED_ANCHORS = _gated({a for rule in _SECRET_RULES if rule.gate is None for a in rule.anchors})
_LOWER_ANCHORS = _gated({a for rule in _SECRET_RULES if rule.gate is not None for a in rule.anchors})


_SECRETISH = re.compile(r"[0-9!@#%^*+~?]")


def _mask(marker: str, letters_ok: bool, match: re.Match[str]) -> str:
    """Replace only the ``secret`` group of a match, keeping key names, users and hosts."""
    whole, base = match.group(0), match.start()
    start, end = match.span("secret")
    if not letters_ok and match.group("q") is None and _SECRETISH.search(whole, start - base, end - base) is None:
        return whole
    return whole[: start - base] + marker + whole[end - base :]


def _redact(text: str, lowered: str) -> tuple[str, tuple[str, ...]]:
    present = {a for gate, group in _CASED_ANCHORS if gate in text for a in group if a in text}
    present.update(a for gate, group in _LOWER_ANCHORS if gate in lowered for a in group if a in lowered)
    ascii_text = text.isascii()
    found: set[str] = set()
    for rule in _candidates(_SECRET_RULES, present, text):
        if rule.gate is not None and ascii_text and rule.gate.search(lowered) is None:
            continue
        redacted = rule.regex.sub(partial(_mask, f"[REDACTED:{rule.kind}]", rule.letters_ok), text)
        if redacted != text:
            found.add(rule.kind)
            text = redacted
            # Later gates must screen the redacted text: a marker can end a match there.
            lowered = text.lower()
    return text, tuple(sorted(found))


def _detect_injections(text: str, lowered: str) -> tuple[str, ...]:
    norm = _normalise(text, lowered)
    present = {a for gate, group in _INJECTION_ANCHORS if gate in norm for a in group if a in norm}
    found = {rule.kind for rule in _candidates(_INJECTION_RULES, present, norm) if rule.regex.search(norm)}
    return tuple(sorted(found))


def scan_text(text: str) -> ScanResult:
    """Scan one free-text field for prompt-injection patterns and redact the secrets in it.

    Args:
        text: the field as the agent sent it.

    Returns:
        The text with every secret replaced by ``[REDACTED:<kind>]``, and the sorted,
        unique injection-pattern and secret kinds found.
    """
    lowered = text.lower()
    redacted, secrets = _redact(text, lowered)
    return ScanResult(text=redacted, injections=_detect_injections(text, lowered), secrets=secrets)
