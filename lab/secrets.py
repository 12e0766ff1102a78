"""Type-9 style secrets: the running config never holds a password in clear text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

# Light scrypt parameters: the lab is no vault, and 500 routers log in within seconds.
_N, _R, _P = 1024, 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data, altchars=b"./").decode().rstrip("=")


@lru_cache(maxsize=4096)
def _derive(password: str, salt: str) -> str:
    return _b64(hashlib.scrypt(password.encode(), salt=salt.encode(), n=_N, r=_R, p=_P, dklen=32))


# One salt per lab process: 500 routers with the same password cost one derivation, not 500.
_PROCESS_SALT = _b64(os.urandom(10))[:14]


def hash_secret(password: str, salt: str | None = None) -> str:
    salt = salt or _PROCESS_SALT
    return f"$9${salt}${_derive(password, salt)}"


def verify_secret(password: str, stored: str) -> bool:
    """stored: '$9$salt$hash' (type 9) or a clear-text value (type 0, as typed by a user)."""
    if stored.startswith("$9$"):
        parts = stored.split("$")
        if len(parts) != 4:
            return False
        return hmac.compare_digest(_derive(password, parts[2]), parts[3])
    return hmac.compare_digest(password, stored)
