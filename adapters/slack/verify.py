"""Slack request signatures, checked before bolt sees the request.

Our own check (rather than bolt's) so that a forged, stale or malformed request, including a
non-numeric timestamp, is always a 401 and its body is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: Callable[[], float] = time.time,
) -> str | None:
    """None when the request is genuine; otherwise the reason (for a log line, not the user)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    given = headers.get("X-Slack-Signature", "")
    if not timestamp or not given:
        return "missing signature headers"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return "malformed timestamp"
    if abs(now() - int(timestamp)) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode()):
        return "bad signature"
    return None
