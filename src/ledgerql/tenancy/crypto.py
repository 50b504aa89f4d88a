"""Encryption at rest for provider secrets (tokens, client secrets).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) rather than our own construction. Keys come
from `LEDGERQL_ENCRYPTION_KEYS`: comma-separated Fernet keys, the first encrypts, all decrypt. To
rotate, put a new key first, keep the old one after it, and run `ledgerql rotate-keys`, which
re-encrypts every stored secret under the new key; then the old key can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEYS_ENV = "LEDGERQL_ENCRYPTION_KEYS"


class SecretBoxError(Exception):
    """A stored secret that none of the configured keys opens."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_environment(cls, fallback_secret: bytes) -> SecretBox:
        """The configured keys; without any, one derived from the gateway's secret key (fine for a
        single machine, but set LEDGERQL_ENCRYPTION_KEYS in production so the two can rotate apart)."""
        configured = [k.strip().encode() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
        return cls(configured or [derive_key(fallback_secret)])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise SecretBoxError("a stored secret could not be decrypted with the configured keys") from None
        return data

    def rotate(self, sealed: str) -> str:
        """The same secret encrypted under the first (current) key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("a stored secret could not be decrypted with the configured keys") from None


def derive_key(secret: bytes) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"ledgerql-encryption:" + secret).digest())
