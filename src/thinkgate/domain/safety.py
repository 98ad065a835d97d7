"""Scan agent-supplied text: warn on prompt-injection patterns, redact secrets before storage.

Injection patterns are matched on a normalised copy (invisible characters stripped, NFKC,
casefold, whitespace collapsed) and only reported; the content is kept. Secrets are
matched on the original text and replaced by ``[REDACTED:<kind>]``, so nothing stored
or logged downstream holds them.

Speed: a rule's regex runs only when one of its substring anchors occurs. For ASCII text, and
text whose other characters leave the anchors of normalised text in place (``_SAFE_RANGES``),
a prefilter proves that none occurs with 6 literal-led regexes and 8 memchrs; flagged text
then looks only for the anchors those regexes may have found. A rule's boolean search runs
one literal-led regex per alternative (``_probes``): sre scans for a literal far faster than
for the first characters of an alternation. Possessive quantifiers and bounded lookaheads
keep the regexes linear on adversarial input. Measured before -> after the prefilter
(CPython 3.11, a shared 2-core VM where ``sum(range(100))`` takes 0.77 µs), as the best of
repeated timeit runs such as

    python -m timeit -s "from thinkgate.domain.safety import scan_text; T='Step 17: we consider the
    implications of the constraint on the cache size; the eviction policy has to keep the hot
    sessions while bounding memory. i=12345 '" "scan_text(T)"

9.4 -> 2.9 µs for that 155-character benign ASCII thought (one timeit run: 3.0-3.2 µs), 68 -> 14
µs for 2 KiB of benign prose, 15 -> 4.4 µs for a non-ASCII thought, 27 -> 25 µs for code prose
full of trigger words ("ignore", "password:", a URL), 1.2 -> 0.4 ms for 32 KiB of prose. The
worst 32 KiB input found takes ~18 ms ("curl " repeated, then "|"); 32 KiB of "#" took 17-22 s
before the "##" rule was made linear.

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
from collections.abc import Callable, Iterable
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
    # Boolean searches: an injection rule's pattern, or a case-insensitive secret rule's
    # pattern compiled case-sensitively (it screens lowercased ASCII text), split by ``_probes``.
    probes: tuple[re.Pattern[str], ...] = ()
    # Case-insensitive secret rules: anchors are looked up in the lowercased text.
    nocase: bool = False
    # False: an unquoted value of letters only (a name or a type, not a secret) is kept.
    letters_ok: bool = True


def _alternatives(pattern: str, start: int = 0) -> tuple[list[str], int]:
    """The top-level alternatives of ``pattern`` from ``start`` to the ")" closing the group (or the end)."""
    parts: list[str] = []
    depth, begin, i = 0, start, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i += 2 if pattern.startswith("[^", i) else 1
            i += pattern[i] == "]"  # a "]" first in a class is literal
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            if not depth:
                break
            depth -= 1
        elif char == "|" and not depth:
            parts.append(pattern[begin:i])
            begin = i + 1
        i += 1
    parts.append(pattern[begin:i])
    return parts, i


def _probes(pattern: str, flags: int = 0) -> tuple[re.Pattern[str], ...]:
    """Regexes that between them find a match wherever ``pattern`` does, each led by a literal.

    sre scans for a literal many times faster than for the first characters of an alternation
    (a tight loop against a call per character), so a boolean search runs one regex per
    alternative: the top-level ones, and those of a leading ``(?:A|B)`` distributed over the
    rest (``(?:A|B)R`` matches wherever ``AR`` or ``BR`` does; A and B capture nothing).
    """
    probes: list[str] = []
    todo, _ = _alternatives(pattern)
    if len({branch[:1] for branch in todo}) == 1:
        todo = [pattern]  # sre factors out a first character shared by all alternatives
    while todo:
        branch = todo.pop(0)
        if branch.startswith("(?:"):
            alternatives, end = _alternatives(branch, 3)
            rest = branch[end + 1 :]
            captures = any(re.search(r"\((?!\?[:=!<])|\(\?<(?![=!])", a) for a in alternatives)
            if len({a[:1] for a in alternatives}) > 1 and not captures and not rest.startswith(("?", "*", "+", "{")):
                todo[:0] = [alternative + rest for alternative in alternatives]
                continue
        probes.append(branch)
    return tuple(re.compile(probe, flags) for probe in probes)


def _inj(kind: str, pattern: str, anchors: tuple[str, ...], *also: tuple[str, ...]) -> _Rule:
    return _Rule(kind, re.compile(pattern), frozenset(anchors), also, _probes(pattern))


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
    # It starts only where a run of "#" starts and takes the run whole: "##+" tried at every
    # "#" of a long run (and given back one by one) was quadratic, 17-22 s on 32 KiB of "#".
    _inj("fake_role_marker", r"##(?<!###)#*+ ?(?:system|assistant|human|instructions?) ?:", ("##",)),
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
        return _Rule(kind, regex, frozenset(anchors), also, _probes(pattern, re.ASCII), True, letters_ok)
    return _Rule(kind, re.compile(pattern, re.ASCII), frozenset(anchors), also, (), False, letters_ok)


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


# Text with characters outside ``_SAFE_RANGES``: each anchor list is looked through, its
# rarest anchors only when their gate character occurs.
_INJECTION_ANCHORS = _gated({a for rule in _INJECTION_RULES for a in rule.anchors})
_CASED_ANCHORS = _gated({a for rule in _SECRET_RULES if not rule.nocase for a in rule.anchors})
_LOWER_ANCHORS = _gated({a for rule in _SECRET_RULES if rule.nocase for a in rule.anchors})

# The prefilter. For ASCII text (and text whose other characters are all ``_SAFE_RANGES``),
# every anchor is looked for in the lowercased text, a space of an injection anchor standing
# for a run of whitespace (``_normalise`` collapses runs). sre finds one of a set of characters
# slowly (~7 ns a character here) but one literal fast (~0.5 ns a character, ~20 ns more where
# it occurs, ~80 ns more if it occurs at all). So the anchors are grouped by the first
# ``_PIVOTS`` entry they hold (a word of their own if none), and one regex per group finds the
# pivot and then checks the rest of each anchor there; the rare pivots are looked for with a
# memchr first. The order was measured on stdlib comments and docstrings: "c", "g", "b", "p"
# and "dan" take what they can and the frequent "o" the rest: 6 regexes and 7 memchrs, and a
# memchr for "A" in the text (rarer letters only took 9 regexes and 10-20% longer). Where a
# group's regex finds something, only its anchors are looked for one by one: flagged text
# pays for the anchors it may hold, not for all of them.
_PIVOTS = ("<", "#", "]", "/", "_", "-", "j", "c", "g", "b", "p", "dan", "o")
_MEMCHR_FIRST = frozenset("<#]/_-j")
_WS = r"[\t-\r\x1c-\x20]"  # whitespace to ``str.split`` in ASCII
# A run of it, taken whole (a word follows): spaces by a tight loop, the rest by the class.
_WS_RUN = rf"(?: ++{_WS}*+|{_WS}++)"

# Non-ASCII characters that add no anchor character, whitespace or invisible to normalised
# text and do not combine with their neighbours under NFKC: each decomposes to a starter that
# is no second half of a canonical pair, and its NFKC casefold is non-empty, free of whitespace
# and invisibles, and its ASCII (if any) is punctuation that no injection anchor holds. Text
# made of ASCII and these has its injection anchors in the same places as the lowercased text.
# Derived from Unicode 14 (Python 3.11) over the Latin, Greek, Cyrillic, punctuation, symbol,
# kana, CJK, Hangul, fullwidth and emoji blocks; a test re-derives the conditions for each of them.
_SAFE_RANGES = (
    "a1-a7 a9 ab-ac ae b0-b1 b5-b7 bb bf-de e0-12f 131 134-13e 141-148 14a-17e 180-1c3 1cd-1ef 1f4-24f "
    "370-377 37b-37f 386-38a 38c 38e-3a1 3a3-482 488-4ff 2010-2016 2018-2027 2030-203d 203f-205e "
    "20a0-20a7 20a9-20c0 2190-23ff 2500-27bf 2b00-2b73 2b76-2b95 2b97-2bff 3001-3029 3030-303f 3041-3096 "
    "309d-30ff 4e00-9fff ac00-d7a3 ff01-ff02 ff04-ff0e ff1b ff1d-ff20 ff3b-ff3c ff3e-ff40 ff5b-ff9d "
    "ffa1-ffa2 ffa4 ffa7-ffa9 ffb0-ffbe ffe0-ffe2 ffe4-ffe6 ffe8-ffee 1f300-1f6d7 1f6dd-1f6ec 1f6f0-1f6fc "
    "1f700-1f773 1f780-1f7d8 1f7e0-1f7eb 1f7f0 1f800-1f80b 1f810-1f847 1f850-1f859 1f860-1f887 "
    "1f890-1f8ad 1f8b0-1f8b1 1f900-1fa53 1fa60-1fa6d 1fa70-1fa74 1fa78-1fa7c 1fa80-1fa86 1fa90-1faac "
    "1fab0-1faba 1fac0-1fac5 1fad0-1fad9 1fae0-1fae7 1faf0-1faf6"
)
_UNSAFE = re.compile(
    "[^\x00-\x7f"
    + "".join("-".join(chr(int(end, 16)) for end in span.split("-")) for span in _SAFE_RANGES.split())
    + "]"
)
_ASCII_BYTES = bytes(range(128))


def _safe(text: str) -> bool:
    """Whether every non-ASCII character of ``text`` is in ``_SAFE_RANGES``."""
    if len(text) > 512:
        # sre tests each character against a class slowly (~7 ns): in long text, which is
        # mostly ASCII, test only the rest (UTF-8 bytes of other characters are all >= 0x80).
        text = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    return _UNSAFE.search(text) is None


def _pivot_search(pivot: str, anchors: Iterable[str]) -> re.Pattern[str]:
    """One regex for ``anchors``, each holding ``pivot``: it finds the pivot, then the rest."""
    branches: dict[str, list[str]] = {}
    for anchor in sorted(anchors):
        # The occurrence of the pivot followed by the most of its word: sre rejects early there.
        words = anchor.split(" ")
        k, i = max(
            ((k, i) for k, word in enumerate(words) for i in range(len(word)) if word.startswith(pivot, i)),
            key=lambda ki: (len(words[ki[0]]) - ki[1], -ki[0]),
        )
        word, rest = words[k], words[k][i + len(pivot) :]
        # The rest of the word first, then a lookbehind for the start of the word and the word
        # before it; before a run of two or more whitespace characters the previous word goes
        # unchecked (a regex must look behind a fixed width, and a false find is harmless).
        behind = ""
        if k:
            prev, whole = re.escape(words[k - 1]), re.escape(word)
            behind = f"(?:(?<={prev}{_WS}{whole})|(?<={_WS}{_WS}{whole}))"
        elif i:
            behind = f"(?<={re.escape(word)})"
        after = "".join(_WS_RUN + re.escape(w) for w in words[k + 1 :])
        branches.setdefault(rest[:1], []).append(re.escape(rest[1:]) + behind + after)
    if "" in branches.get("", ()):
        return re.compile(re.escape(pivot))  # an anchor that is the pivot itself
    # Branches led by an assertion or a whitespace class go last: sre cannot reject them early.
    parts = [
        re.escape(first) + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")")
        for first, rests in sorted(branches.items(), key=lambda item: item[0] == "")
    ]
    return re.compile(re.escape(pivot) + "(?:" + "|".join(parts) + ")")


# What a search rules out by finding nothing: the anchors looked for in normalised text, in
# the lowercased text and in the text.
_Covered = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_Search = Callable[[str], object]


def _searches() -> tuple[
    tuple[tuple[str, _Search, _Covered], ...],
    tuple[tuple[_Search, _Covered], ...],
    tuple[tuple[str, _Search, _Covered], ...],
]:
    """The prefilter: searches of the lowercased text after a memchr, and without; of the text after a memchr."""
    cased = {a for rule in _SECRET_RULES if not rule.nocase for a in rule.anchors}
    # A cased anchor without a pivot is looked for in the text as it is, after its first character.
    on_text = {a for a in cased if not any(p in a.lower() for p in _PIVOTS)}
    forms: dict[str, list[tuple[int, str]]] = {}  # lowercased -> [(0, 1 or 2 as in _Covered, anchor)]
    injection = {a for rule in _INJECTION_RULES for a in rule.anchors}
    lowered = {a for rule in _SECRET_RULES if rule.nocase for a in rule.anchors}
    for kind, kind_anchors in enumerate((injection, lowered, cased - on_text)):
        for anchor in kind_anchors:
            forms.setdefault(anchor.lower(), []).append((kind, anchor))
    # An anchor holding another is ruled out with it: only the minimal forms are searched for.
    minimal = sorted(f for f in forms if not any(g != f and g in f for g in forms))
    groups: dict[str, list[str]] = {}
    for form in minimal:
        words = form.split(" ")
        pivot = next((p for p in _PIVOTS if any(p in word for word in words)), max(words, key=len))
        groups.setdefault(pivot, []).append(form)
    group_of = {form: pivot for pivot, group in groups.items() for form in group}
    covered: dict[str, tuple[set[str], set[str], set[str]]] = {p: (set(), set(), set()) for p in groups}
    for form, holders in forms.items():
        pivot = group_of[next(g for g in minimal if g in form)]
        for kind, anchor in holders:
            covered[pivot][kind].add(anchor)
    order = {p: i for i, p in enumerate(_PIVOTS)}
    pivots = sorted(groups, key=lambda p: order.get(p, len(order)))
    search = {p: _pivot_search(p, groups[p]).search for p in pivots}
    cover = {
        p: (tuple(sorted(covered[p][0])), tuple(sorted(covered[p][1])), tuple(sorted(covered[p][2]))) for p in pivots
    }
    by_first: dict[str, list[str]] = {}
    for anchor in sorted(on_text):
        by_first.setdefault(anchor[0], []).append(anchor)
    return (
        tuple((p, search[p], cover[p]) for p in pivots if p in _MEMCHR_FIRST),
        tuple((search[p], cover[p]) for p in pivots if p not in _MEMCHR_FIRST),
        tuple((c, _pivot_search(c, group).search, ((), (), tuple(group))) for c, group in by_first.items()),
    )


_MEMCHR_SEARCHES, _SEARCHES, _TEXT_SEARCHES = _searches()


def _prefilter(text: str, lowered: str) -> list[_Covered]:
    """What the searches that found something cover; if none did, no anchor occurs."""
    hits = []
    for memchr, search, covered in _MEMCHR_SEARCHES:
        if memchr in lowered and search(lowered):
            hits.append(covered)
    for search, covered in _SEARCHES:
        if search(lowered):
            hits.append(covered)
    for memchr, search, covered in _TEXT_SEARCHES:
        if memchr in text and search(text):
            hits.append(covered)
    return hits


_SECRETISH = re.compile(r"[0-9!@#%^*+~?]")


def _mask(marker: str, letters_ok: bool, match: re.Match[str]) -> str:
    """Replace only the ``secret`` group of a match, keeping key names, users and hosts."""
    whole, base = match.group(0), match.start()
    start, end = match.span("secret")
    if not letters_ok and match.group("q") is None and _SECRETISH.search(whole, start - base, end - base) is None:
        return whole
    return whole[: start - base] + marker + whole[end - base :]


def _found(probes: tuple[re.Pattern[str], ...], text: str) -> bool:
    """Whether one of ``probes`` finds something in ``text``."""
    for probe in probes:  # noqa: SIM110 (a generator and any() cost more than a short probe)
        if probe.search(text):
            return True
    return False


def _redact(text: str, lowered: str, present: set[str]) -> tuple[str, tuple[str, ...]]:
    ascii_text = text.isascii()
    found: set[str] = set()
    for rule in _candidates(_SECRET_RULES, present, text):
        if rule.nocase and ascii_text and not _found(rule.probes, lowered):
            continue
        redacted = rule.regex.sub(partial(_mask, f"[REDACTED:{rule.kind}]", rule.letters_ok), text)
        if redacted != text:
            found.add(rule.kind)
            text = redacted
            # Later gates must screen the redacted text: a marker can end a match there.
            lowered = text.lower()
    return text, tuple(sorted(found))


def _detect_injections(norm: str, present: set[str]) -> tuple[str, ...]:
    found = {rule.kind for rule in _candidates(_INJECTION_RULES, present, norm) if _found(rule.probes, norm)}
    return tuple(sorted(found))


# ``ScanResult(...)`` costs three ``object.__setattr__`` calls in the frozen dataclass's
# ``__init__`` (~0.65 µs, a fifth of a clean scan); ``_result`` fills the slots directly (~0.3 µs).
_new_result = object.__new__
_set_text = vars(ScanResult)["text"].__set__
_set_injections = vars(ScanResult)["injections"].__set__
_set_secrets = vars(ScanResult)["secrets"].__set__


def _result(text: str, injections: tuple[str, ...], secrets: tuple[str, ...]) -> ScanResult:
    """``ScanResult(text=text, injections=injections, secrets=secrets)``, built faster."""
    result: ScanResult = _new_result(ScanResult)
    _set_text(result, text)
    _set_injections(result, injections)
    _set_secrets(result, secrets)
    return result


def scan_text(text: str) -> ScanResult:
    """Scan one free-text field for prompt-injection patterns and redact the secrets in it.

    Args:
        text: the field as the agent sent it.

    Returns:
        The text with every secret replaced by ``[REDACTED:<kind>]``, and the sorted,
        unique injection-pattern and secret kinds found.
    """
    lowered = text.lower()
    if text.isascii() or _safe(text):
        hits = _prefilter(text, lowered)
        if not hits:
            return _result(text, (), ())
        # Only the anchors of the searches that found something can occur. (Plain loops:
        # comprehensions cost more than the substring checks they wrap.)
        secret_present, injection_present = set(), set()
        norm = ""
        for injection, in_lowered, in_text in hits:
            for anchor in in_text:
                if anchor in text:
                    secret_present.add(anchor)
            for anchor in in_lowered:
                if anchor in lowered:
                    secret_present.add(anchor)
            if injection and not norm:
                norm = _normalise(text, lowered)
            for anchor in injection:
                if anchor in norm:
                    injection_present.add(anchor)
    else:
        secret_present = {a for gate, group in _CASED_ANCHORS if gate in text for a in group if a in text}
        secret_present.update(a for gate, group in _LOWER_ANCHORS if gate in lowered for a in group if a in lowered)
        norm = _normalise(text, lowered)
        injection_present = {a for gate, group in _INJECTION_ANCHORS if gate in norm for a in group if a in norm}
    redacted, secrets = _redact(text, lowered, secret_present) if secret_present else (text, ())
    injections = _detect_injections(norm, injection_present) if injection_present else ()
    return _result(redacted, injections, secrets)
