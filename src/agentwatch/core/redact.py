"""Secret redaction for exported text: provider API keys, tokens, keys and `.env` assignments.

Patterns aim at shapes that are secrets with near certainty; ordinary hex hashes, uuids and
prose pass through. A redacted secret becomes `[REDACTED:<kind>]`; for an assignment the name
stays (`API_KEY=[REDACTED:assignment]`) so the text still reads.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# Token characters: what a secret is made of, and what may not touch it on either side.
_T = r"A-Za-z0-9_\-"
_START = rf"(?<![{_T}])"
_END = rf"(?![{_T}])"
_DIGIT = rf"(?=[{_T}]*[0-9])"  # random keys hold a digit; kebab-case words do not

_KEYS: tuple[tuple[str, str], ...] = (
    ("anthropic-key", rf"{_START}sk-ant-{_DIGIT}[{_T}]{{20,}}{_END}"),
    ("openai-key", rf"{_START}sk-(?:proj-|svcacct-|admin-)?{_DIGIT}[{_T}]{{20,}}{_END}"),
    ("stripe-key", rf"{_START}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}}{_END}"),
    ("google-key", rf"{_START}AIza[0-9A-Za-z_\-]{{35}}{_END}"),
    ("github-token", rf"{_START}gh[pousr]_[A-Za-z0-9]{{36,}}{_END}"),
    ("github-token", rf"{_START}github_pat_[A-Za-z0-9_]{{22,}}{_END}"),
    ("slack-token", rf"{_START}xox[abposre]-[A-Za-z0-9\-]{{10,}}{_END}"),
    ("slack-token", rf"{_START}xapp-[0-9]-[A-Za-z0-9\-]{{10,}}{_END}"),
    ("aws-access-key", r"(?<![A-Z0-9])(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ("huggingface-token", rf"{_START}hf_[A-Za-z0-9]{{30,}}{_END}"),
    ("gitlab-token", rf"{_START}glpat-[A-Za-z0-9_\-]{{20,}}{_END}"),
    ("npm-token", rf"{_START}npm_[A-Za-z0-9]{{36}}{_END}"),
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
)

_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?"
    r"(?:-----END \1PRIVATE KEY\2-----|\Z)",
    re.DOTALL,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]{16,}=*)")
_AUTH = re.compile(
    r"(?i)\b(authorization\\?[\"']?\s*[:=]\s*\\?[\"']?(?:basic|token)\s+)"
    r"([A-Za-z0-9\-._~+/]{8,}=*)"
)
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.\-]*://[^\s:/@\"']+:)([^\s@/\"']+)(?=@)")

# `.env`, shell, ini and code assignments: NAME=value, where NAME ends in _KEY, TOKEN,
# SECRET or PASSWORD (any case; `aws_secret_access_key` is one).
_NAME = (
    r"(?:[A-Za-z_][A-Za-z0-9_.\-]*?)?"
    r"(?:_KEY|_KEYS|TOKEN|SECRET|PASSWORD|PASSWD|_PWD|_PASS"
    r"|(?:API|SECRET|ACCESS|PRIVATE|AUTH)[_\-]?KEY)"
    r"(?:_BASE|_VALUE|_[0-9]+)?"  # SECRET_KEY_BASE, TOKEN_2: a few known tails
)
_ASSIGN_EQ = re.compile(
    rf"(?i)(?<![A-Za-z0-9_.])({_NAME})(\s*=(?!=)\s*)"
    r"(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'`,;)}\]]+)"
)
# JSON/YAML: a quoted value after a colon ("password": "x"), or a YAML line `api_key: x`.
_ASSIGN_COLON = re.compile(
    rf"(?i)(\\?[\"']?)(?<![A-Za-z0-9_.\-])({_NAME})(\1\s*:\s*)"
    r"(\\\"[^\"\n]*?\\\"|\"[^\"\n]*\"|'[^'\n]*')"
)
# A compound name (`client_secret`, `github-token`) is code, not prose: any value after a colon.
_ASSIGN_COMPOUND = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])((?:[A-Za-z0-9]+[_\-])+(?:KEY|KEYS|TOKEN|SECRET|PASSWORD|PASSWD|PWD))"
    r"(\s*:[ \t]*)([^\s\"'`,;)}\]]+)"
)
_ASSIGN_YAML = re.compile(rf"(?im)^(\s*-?\s*)({_NAME})(:[ \t]+)([^\s\"'#][^\s#]*)(?=[ \t]*$)")


@dataclass(slots=True)
class Redaction:
    """Redacted text and what was taken out."""

    text: str
    """The text with every secret replaced."""
    counts: Counter[str] = field(default_factory=Counter)
    """Secrets replaced, by kind."""

    @property
    def total(self) -> int:
        """Secrets replaced."""
        return sum(self.counts.values())


def _mark(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_CODE_VALUE = re.compile(
    r"(?:True|False|None|true|false|null|nil|undefined|[\w.]+\(.*|self\.\w+.*)"
)


def _empty(value: str) -> bool:
    """Nothing to hide: empty, already redacted, or code (`primary_key=True`,
    `token = self.next_token()`) rather than a value."""
    inner = value.strip("\"'")
    quoted = len(value) >= 2 and value[0] in "\"'"
    return (
        not inner
        or inner.startswith("[REDACTED:")
        or (not quoted and _CODE_VALUE.fullmatch(inner) is not None)
    )


def _value(kind: str, value: str) -> str:
    """A redacted value, keeping its quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + _mark(kind) + value[0]
    return _mark(kind)


def redact(text: str) -> Redaction:
    """Replace the secrets in `text`.

    Covers API keys of Anthropic, OpenAI, Google, GitHub, Slack and Stripe, AWS access key ids,
    bearer and basic credentials, passwords in URLs, PEM private key blocks, and assignments
    whose name ends in `_KEY`, `TOKEN`, `SECRET` or `PASSWORD` (`.env`, shell, JSON, YAML).

    Args:
        text: Any text from a log.

    Returns:
        The redacted text and counts by kind.
    """
    counts: Counter[str] = Counter()

    def whole(kind: str) -> Callable[[re.Match[str]], str]:
        def one(_m: re.Match[str]) -> str:
            counts[kind] += 1
            return _mark(kind)

        return one

    def tail(kind: str) -> Callable[[re.Match[str]], str]:
        """Keep every group but the last (the secret); an empty value is left alone."""

        def one(m: re.Match[str]) -> str:
            n = m.lastindex or 0
            secret = m.group(n)
            if _empty(secret):
                return m.group(0)
            counts[kind] += 1
            head = "".join(m.group(i) or "" for i in range(1, n))
            return head + _value(kind, secret)

        return one

    text = _PEM.sub(whole("private-key"), text)
    for kind, pattern in _COMPILED:
        text = pattern.sub(whole(kind), text)
    text = _AUTH.sub(tail("credentials"), text)
    text = _BEARER.sub(tail("bearer-token"), text)
    text = _JWT.sub(whole("jwt"), text)
    text = _URL_PASSWORD.sub(tail("url-password"), text)
    text = _ASSIGN_COLON.sub(tail("assignment"), text)
    text = _ASSIGN_YAML.sub(tail("assignment"), text)
    text = _ASSIGN_COMPOUND.sub(tail("assignment"), text)
    text = _ASSIGN_EQ.sub(tail("assignment"), text)
    return Redaction(text, counts)


_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(p)) for kind, p in _KEYS
)
