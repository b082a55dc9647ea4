"""API key format and hashing.

A key reads `wump_<id>_<secret>`: `wump_` makes leaked keys easy to spot (and
to scan for), the 8-character id is stored in clear for lookup, and the secret
is 32 random bytes (43 URL-safe characters). Only an HMAC-SHA256 of the secret,
keyed with the server-side pepper, is stored; the key itself is shown once.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

KEY_PREFIX = "wump"
ID_LENGTH = 8
SECRET_BYTES = 32
_ID_ALPHABET = string.ascii_lowercase + string.digits
KEY_PATTERN = re.compile(r"^wump_([a-z0-9]{8})_([A-Za-z0-9_\-]{43})$")


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


def generate() -> NewKey:
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    return NewKey(key_id=key_id, secret=secrets.token_urlsafe(SECRET_BYTES))


def split(raw: str) -> tuple[str, str] | None:
    """The (id, secret) of a well-formed key, or None."""
    match = KEY_PATTERN.match(raw)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, stored_hash: str, pepper: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)
