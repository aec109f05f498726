"""The key that hashes anonymous voters. It must live outside the database, so that a person
reading the database cannot recompute whose vote is whose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import logging
import math
import os
import re
import secrets
import stat
import zlib
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.engine import async_url, sqlite_file

log = logging.getLogger(__name__)
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
MIN_BITS = 256  # 32 bytes: what `secrets.token_urlsafe(32)` and `token_hex(32)` carry
KEY_FILE_BYTES = 32
# Words people type when asked for a secret; a key containing one was not generated (six
# letters or more, so a generated key holds one by chance about once in 30 million).
WEAK_WORDS = (
    "changeme",
    "password",
    "passwd",
    "secret",
    "example",
    "default",
    "finops",
    "letmein",
    "qwerty",
)
RUN = 8  # `abcdefgh`, `12345678`: a random hex key has such a run about once in 2 million
_PASSPHRASE = re.compile(r"[A-Za-z][a-z]*(?:[\s\-_.,;:+]+[A-Za-z][a-z]*)+")
BITS_PER_WORD = 13  # a word from a 7,776-word (diceware) list, at best


class MissingSecretKey(RuntimeError):
    """No usable key: start-up stops (exit code 2) with this message."""


class WeakSecretKey(MissingSecretKey):
    """FINOPS_SECRET_KEY is set but could be guessed."""


def estimated_bits(value: str) -> float:
    """A generous estimate of the entropy of a typed key: its length times the bits per
    character of the character classes it uses (hex counts 4 bits), or, for words with
    separators, 13 bits a word. Generated keys pass with room to spare."""
    if _PASSPHRASE.fullmatch(value):
        return BITS_PER_WORD * len(re.findall(r"[A-Za-z]+", value))
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return 4.0 * len(value)
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    if re.fullmatch(r"[A-Za-z0-9_-]+", value) and classes >= 2:  # base64url, as generated
        return 6.0 * len(value)
    alphabet = 0
    for pattern, size in ((r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[^A-Za-z0-9]", 33)):
        if re.search(pattern, value):
            alphabet += size
    return len(value) * math.log2(max(alphabet, 2))


def key_problem(value: str) -> str | None:
    """Why `value` is not a strong FINOPS_SECRET_KEY, or None when it is."""
    lowered = value.lower()
    if any(word in lowered for word in WEAK_WORDS):
        return "it contains a common word"
    if len(set(value)) < 12 or len(zlib.compress(value.encode(), 9)) < 0.6 * len(value):
        return "it repeats itself"
    if _run(value) >= RUN:
        return "it has a run of consecutive characters (abcdefgh, 12345678)"
    if (bits := estimated_bits(value)) < MIN_BITS:
        return f"it carries about {bits:.0f} bits of entropy; at least {MIN_BITS} are needed"
    return None


def _run(value: str) -> int:
    """The longest run of characters that count up or down by one (`abcd`, `4321`)."""
    longest = current = 1
    step = 0
    for before, after in itertools.pairwise(value):
        delta = ord(after) - ord(before)
        if delta in (1, -1) and (current == 1 or delta == step):
            current, step = current + 1, delta
        elif delta in (1, -1):
            current, step = 2, delta
        else:
            current = 1
        longest = max(longest, current)
    return longest if value else 0


def check_secret_key(value: str) -> None:
    """Refuse a guessable FINOPS_SECRET_KEY: whoever guesses it can forge dashboard links
    and test whose anonymous vote is whose."""
    problem = key_problem(value)
    if problem is not None:
        raise WeakSecretKey(
            f"FINOPS_SECRET_KEY is too weak ({problem}): it protects anonymous votes and "
            f"dashboard links. Generate one with: {GENERATE}"
        )


def load_voter_key(secret_key: str, database_url: str) -> bytes:
    """FINOPS_SECRET_KEY when set (and strong); for a local SQLite file, a key file created
    beside it."""
    if secret_key:
        check_secret_key(secret_key)
        return hashlib.sha256(secret_key.encode()).digest()
    path = sqlite_file(database_url)
    if path is not None:
        return _key_file(path.with_name(path.name + ".secret"))
    if async_url(database_url).get_backend_name() == "sqlite":  # in-memory: this process only
        return secrets.token_bytes(32)
    raise MissingSecretKey(
        "FINOPS_SECRET_KEY must be set with PostgreSQL: every replica must hash anonymous "
        f"votes with the same key. Generate one with: {GENERATE}"
    )


def _key_file(path: Path) -> bytes:
    """The key file: created 0600 with 32 random bytes (hex). One that others may read is
    made private again, with a warning (it may have been copied: delete it for a new key);
    one that holds no 32-byte key is refused."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_FILE_BYTES))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning(
            "%s was readable by other users (mode %o); it is now 0600. If anyone else could "
            "have read it, delete it and restart: a new key is made (open anonymous polls "
            "then count earlier voters anew, and dashboard links stop working).",
            path,
            mode,
        )
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) < KEY_FILE_BYTES:
        raise MissingSecretKey(
            f"{path} does not hold a {KEY_FILE_BYTES}-byte key in hex; delete it to have a new "
            f"one made, or set FINOPS_SECRET_KEY (generate one with: {GENERATE})"
        )
    return key


def event_key(key: bytes, platform: str, event_id: str) -> str:
    """The stored de-duplication key of an inbound event: a keyed hash, so the row says
    nothing about the conversation, person or click it came from (an anonymous vote's
    claim is written in the vote's own transaction)."""
    digest = hmac.new(key, f"event:{platform}:{event_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:64]


def voter_hash(key: bytes, poll_id: int, user_id: str) -> str:
    """A per-poll keyed hash: the same person gets unrelated hashes in different polls."""
    return hmac.new(key, f"{poll_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:48]


def _sealing_key(key: bytes) -> bytes:
    return hmac.new(key, b"inbox-payload", hashlib.sha256).digest()


def seal(key: bytes, text: str) -> str:
    """`text` encrypted and authenticated (AES-256-GCM under a key derived from the secret
    key): what the inbox keeps of a request while it is worked on. A database reader without
    the key sees no message, person or vote in it."""
    nonce = os.urandom(12)
    sealed = AESGCM(_sealing_key(key)).encrypt(nonce, text.encode(), None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, token: str) -> str:
    """What `seal` sealed; raises ValueError when it was not sealed under this key."""
    try:
        raw = base64.b64decode(token, validate=True)
        return AESGCM(_sealing_key(key)).decrypt(raw[:12], raw[12:], None).decode()
    except (InvalidTag, ValueError) as error:
        raise ValueError("not sealed under this key") from error
