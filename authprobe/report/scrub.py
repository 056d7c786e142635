"""Remove credentials from anything that goes into a report.

Reports are shared (CI artifacts, PR comments), so every value written to one passes
through ``scrub``: bearer tokens, Authorization headers, private keys, kubeconfig key
data, JWTs, static-token CSV lines and values under secret-looking keys are replaced.
Values known to be secret (the harness's generated tokens) can be registered and are
replaced wherever they appear.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from pathlib import Path
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEY_RE = re.compile(
    r"(token|password|passwd|secret|authorization|private[-_]?key|key[-_]?data|kubeconfig"
    r"|credential|api[-_]?key|cookie)",
    re.IGNORECASE,
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, including one cut short by a log tail.
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "-----BEGIN PRIVATE KEY----- " + REDACTED,
    ),
    # HTTP header lines and dict reprs: Authorization: Bearer x, 'Authorization': 'Basic x';
    # not the audit log's annotations named .../authorization (a latency, a decision).
    (
        re.compile(
            r"""((?<![\w./-])(?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n,}]+""",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    # Bearer tokens are long; the phrase "bearer token" is not one.
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE), r"\1 " + REDACTED),
    # kubeconfig / YAML / JSON fields holding credentials.
    (
        re.compile(
            r"""((?:client-key-data|client-certificate-data|password)['"]?\s*[:=]\s*['"]?)"""
            r"""[^\s'",}]+""",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    # Token fields; not a log's prose such as "oidc: verify token: failed to verify", where a
    # short word and another word follow.
    (
        re.compile(
            r"""((?:token|id-token|refresh-token|access-token)['"]?\s*[:=]\s*['"]?)"""
            r"""(?![a-z]{1,15} [a-z])[^\s'",}]+""",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    # Command-line flags carrying secrets: --token=x, --token x, --password x
    (re.compile(r"(--(?:token|password)[=\s]+)\S+", re.IGNORECASE), r"\1" + REDACTED),
    # JSON Web Tokens (service-account tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Static token file lines: token,user,uid[,"groups"]
    (re.compile(r"(?m)^(\s*)[A-Za-z0-9._~+/=-]{16,},(?=[^,\s]+,)"), r"\1" + REDACTED + ","),
]

_known: set[str] = set()
_lock = threading.Lock()


_BASIC = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])", re.IGNORECASE)


def _basic(match: re.Match[str]) -> str:
    """Basic credentials are base64 of ``user:password``; "Basic realm=..." stays."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"{match.group(1)} {REDACTED}" if b":" in decoded else match.group(0)


def register_secret(value: str) -> None:
    """Replace ``value`` wherever it appears in any report written by this process."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def scrub_text(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _BASIC.sub(_basic, text)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key))


def scrub(value: Any) -> Any:
    """A copy of ``value`` (JSON-like data or text) with credentials replaced."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key) and item not in (None, "", False):
                if isinstance(item, (bool, int, float)):
                    out[key] = item
                else:
                    out[key] = REDACTED
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def scrub_tree(root: Path, max_bytes: int = 64 * 1024 * 1024) -> int:
    """Scrub every UTF-8 text file under ``root`` in place; returns how many changed."""
    changed = 0
    if not root.is_dir():
        return 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            if path.stat().st_size > max_bytes:
                continue
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        clean = scrub_text(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed += 1
    return changed
