"""The key that hashes anonymous voters. It must live outside the database, so that a person
reading the database cannot recompute whose vote is whose."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from storage.engine import async_url, sqlite_file


class MissingSecretKey(RuntimeError):
    pass


def load_voter_key(secret_key: str, database_url: str) -> bytes:
    """FINOPS_SECRET_KEY when set; for a local SQLite file, a key file created beside it."""
    if secret_key:
        return hashlib.sha256(secret_key.encode()).digest()
    path = sqlite_file(database_url)
    if path is not None:
        return _key_file(path.with_name(path.name + ".secret"))
    if async_url(database_url).get_backend_name() == "sqlite":  # in-memory: this process only
        return secrets.token_bytes(32)
    raise MissingSecretKey(
        "FINOPS_SECRET_KEY must be set with PostgreSQL: every replica must hash anonymous "
        "votes with the same key. Generate one with: python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'"
    )


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def event_key(key: bytes, platform: str, event_id: str) -> str:
    """The stored de-duplication key of an inbound event: a keyed hash, so the row says
    nothing about the conversation, person or click it came from (an anonymous vote's
    claim is written in the vote's own transaction)."""
    digest = hmac.new(key, f"event:{platform}:{event_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:64]


def voter_hash(key: bytes, poll_id: int, user_id: str) -> str:
    """A per-poll keyed hash: the same person gets unrelated hashes in different polls."""
    return hmac.new(key, f"{poll_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:48]
