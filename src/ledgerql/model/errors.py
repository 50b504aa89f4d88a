"""The one documented list of error codes, and the exception that carries them.

Every failure that reaches a client is a `LedgerQLError` with one of these codes; upstream
failures are mapped to them by the connector that saw them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    UNSUPPORTED_BY_PROVIDER = "UNSUPPORTED_BY_PROVIDER"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_AUTH_EXPIRED = "UPSTREAM_AUTH_EXPIRED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL = "INTERNAL"


class LedgerQLError(Exception):
    """A failure with a code from `ErrorCode`; its message is safe to show to a client."""

    def __init__(self, code: ErrorCode, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = {k: v for k, v in extensions.items() if v is not None}

    def to_extensions(self) -> dict[str, Any]:
        return {"code": self.code.value, **self.extensions}

    def __repr__(self) -> str:
        return f"LedgerQLError({self.code.value}, {self.message!r})"


def not_found(what: str, ident: str) -> LedgerQLError:
    return LedgerQLError(ErrorCode.NOT_FOUND, f"{what} {ident!r} was not found")


def bad_input(message: str, path: list[str] | None = None) -> LedgerQLError:
    return LedgerQLError(ErrorCode.BAD_USER_INPUT, message, inputPath=path)


def unsupported(provider: str, resource: str, operation: str) -> LedgerQLError:
    return LedgerQLError(
        ErrorCode.UNSUPPORTED_BY_PROVIDER,
        f"{provider} does not support {operation} on {resource}",
        provider=provider,
        resource=resource,
        operation=operation,
    )


# Credentials as they appear in echoed requests: auth headers, and OAuth / key fields in forms, JSON or URLs.
_CREDENTIALS = (
    re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I),
    re.compile(r"\b(access_token|refresh_token|id_token|client_secret|api_key|apikey|password)"
               r"(\\?[\"']?\s*[=:]\s*\\?[\"']?)[^\s&\"',;}]+", re.I),
)
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the given secrets nor anything shaped like a credential: provider messages are
    shown to clients and some providers echo the request (its Authorization header, its form body)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _CREDENTIALS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _CREDENTIALS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def redacted(error: LedgerQLError, secrets: Iterable[str | None] = ()) -> LedgerQLError:
    """The same error, its message and string extensions passed through `redact`."""
    listed = list(secrets)
    copy = LedgerQLError(error.code, redact(error.message, listed))
    copy.extensions = {k: redact(v, listed) if isinstance(v, str) else v for k, v in error.extensions.items()}
    return copy
