"""Secrets never leave the process: what a secret looks like, and the one function that masks it.

A secret is the value of an environment variable whose name says it is one (`OPENAI_API_KEY`,
`LOGFIRE_TOKEN`, `DB_PASSWORD`, ...), any bearer token, an OpenAI-style `sk-...` key, and the
password of a URL (`postgres://user:PASSWORD@host`). A server that echoes a key back may show only
part of it, so any run of 8 or more characters of a known secret is masked too.

`redact()` is applied where text leaves synthgen: error bodies as they arrive (llm/retries.py), the
one-line error, every log line, trace.jsonl and the spans exported to Logfire or OTLP.
"""

import os
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
_SECRET_NAME = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_FRAGMENT = 8  # the shortest run of a known secret that is masked on its own
_PATTERNS = (
    (re.compile(r"\b([Bb]earer\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_*-]{16,}"), REDACTED),
    (re.compile(r"(?<=://)([^/\s:@\"',;]+):[^/\s@\"',;]+@"), rf"\g<1>:{REDACTED}@"),  # never across a quote
    (re.compile(r"\b((?i:password|passwd|pwd)=)[^&\s;\"']+"), rf"\g<1>{REDACTED}"),
)
# The same shapes as regular expressions for Logfire's scrubber, which masks the spans it exports.
SECRET_PATTERNS = tuple(pattern.pattern for pattern, _ in _PATTERNS)
_TOKEN = re.compile(r"[A-Za-z0-9_*+/=-][A-Za-z0-9_*.+/=-]{6,}[A-Za-z0-9_*+/=-]")  # a sentence's full stop is not in it


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Secret values from the environment, plus `extra` (e.g. the key a request was sent with)."""
    found = {value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= _FRAGMENT}
    return sorted(found | {value for value in extra if len(value) >= _FRAGMENT}, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every secret it shows, whole or in part, replaced by [REDACTED]."""
    secrets = known_secrets(extra)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    if secrets:
        windows = {secret[i : i + _FRAGMENT] for secret in secrets for i in range(len(secret) - _FRAGMENT + 1)}
        text = _TOKEN.sub(lambda match: REDACTED if _shares(match.group(), windows) else match.group(), text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _shares(token: str, windows: set[str]) -> bool:
    """Whether `token` shows 8 or more characters in a row of a secret (masking stars dropped)."""
    for part in token.split("*"):
        if any(part[i : i + _FRAGMENT] in windows for i in range(len(part) - _FRAGMENT + 1)):
            return True
    return False
