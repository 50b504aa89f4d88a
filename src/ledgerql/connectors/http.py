"""The one way connectors talk to providers: httpx, with auth, refresh, timeouts and counting.

Every upstream call goes through `UpstreamClient.request`, which
- adds the bearer token of the connection, refreshing it once on a 401 (single-flight per
  connection, so a burst of expired calls makes one refresh);
- bounds the call with the provider's timeout (also under in-process transports, which ignore
  httpx's own timeouts);
- counts the call into the current request's `UpstreamStats` (`extensions.upstreamCalls`);
- maps transport failures and provider error statuses to our error codes, asking the
  connector for the provider's own message.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import httpx

from ledgerql.connectors.resilience import CircuitBreaker, RateGovernor, RetryPolicy
from ledgerql.model.errors import ErrorCode, LedgerQLError, redact, redacted

logger = logging.getLogger("ledgerql.upstream")


@dataclass
class UpstreamStats:
    """Upstream calls made while serving one GraphQL request."""

    calls: int = 0
    by_connection: dict[str, int] = field(default_factory=dict)
    # Sequential round trips: a call that starts while no other call of the request is in flight
    # begins a new round; calls started together (one dataloader tick) share one.
    rounds: int = 0
    in_flight: int = 0
    retries: int = 0
    cache_hits: int = 0
    quota: dict[str, dict[str, Any]] = field(default_factory=dict)

    def started(self, connection_id: str) -> None:
        self.calls += 1
        self.by_connection[connection_id] = self.by_connection.get(connection_id, 0) + 1
        if self.in_flight == 0:
            self.rounds += 1
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight -= 1


current_stats: contextvars.ContextVar[UpstreamStats | None] = contextvars.ContextVar(
    "ledgerql_upstream_stats", default=None)
current_tracking_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ledgerql_tracking_id", default=None)


@dataclass
class Tokens:
    """A connection's secrets: OAuth tokens and the client secret used to refresh them."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # epoch seconds; None = unknown
    client_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never print a secret, even in a debugger or a log line
        return f"Tokens(expires_at={self.expires_at})"

    @classmethod
    def from_grant(cls, body: dict[str, Any], current: Tokens, default_ttl: float = 3600) -> Tokens:
        """The tokens of an OAuth2 token response. `expires_in` may be a number or a string (Exact); a
        provider that does not rotate sends no refresh token, and the current one is kept."""
        try:
            ttl = float(body.get("expires_in") or default_ttl)
        except (TypeError, ValueError):
            ttl = default_ttl
        return cls(access_token=str(body["access_token"]),
                   refresh_token=str(body.get("refresh_token") or current.refresh_token or "") or None,
                   expires_at=time.time() + ttl, client_secret=current.client_secret)


TokenExchange = Callable[[Tokens], Awaitable[Tokens]]


class TokenStore(Protocol):
    """Where a connection's tokens live: memory here, the encrypted vault in `ledgerql.tenancy`."""

    async def get(self, connection_id: str) -> Tokens: ...

    async def put(self, connection_id: str, tokens: Tokens) -> None: ...

    async def refresh(self, connection_id: str, used: Tokens, exchange: TokenExchange) -> Tokens:
        """Tokens newer than `used`: those another caller already got, else the result of `exchange`
        (the provider's refresh), saved before they are returned. One exchange at a time."""
        ...


class MemoryTokenStore:
    """Tokens in this process only (tests of a single connector); the gateway uses the vault."""

    def __init__(self) -> None:
        self._tokens: dict[str, Tokens] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, connection_id: str) -> Tokens:
        try:
            return self._tokens[connection_id]
        except KeyError:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED, "The connection has no credentials") from None

    async def put(self, connection_id: str, tokens: Tokens) -> None:
        self._tokens[connection_id] = tokens

    async def refresh(self, connection_id: str, used: Tokens, exchange: TokenExchange) -> Tokens:
        async with self._locks.setdefault(connection_id, asyncio.Lock()):
            current = await self.get(connection_id)
            if current.access_token != used.access_token:
                return current  # another call refreshed while we waited
            fresh = await exchange(current)
            await self.put(connection_id, fresh)
            return fresh


RefreshFn = Callable[[httpx.AsyncClient, Tokens], Awaitable[Tokens]]
ErrorMessageFn = Callable[[httpx.Response], str]


def decimal_json(response: httpx.Response) -> Any:
    """Parse a provider's JSON body with every non-integer number as an exact Decimal."""
    return json.loads(response.content or b"null", parse_float=Decimal)


def dump_json(data: Any) -> bytes:
    """JSON for a provider request: Decimals written as exact numbers, never through float."""
    return _encode(data).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, default=str)


class UpstreamClient:
    """HTTP to one connection's provider."""

    def __init__(self, *, connection_id: str, provider: str, base_url: str, tokens: TokenStore,
                 refresh: RefreshFn, error_message: ErrorMessageFn, timeout: float = 30,
                 transport: httpx.AsyncBaseTransport | None = None,
                 default_headers: dict[str, str] | None = None, governor: RateGovernor | None = None,
                 retry_policy: RetryPolicy | None = None, breaker: CircuitBreaker | None = None) -> None:
        self.connection_id = connection_id
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._refresh = refresh
        self._error_message = error_message
        self.timeout = timeout
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout,
                                         headers={"Accept": "application/json", **(default_headers or {})})
        self.governor = governor or RateGovernor()
        # The budget is the connection's, whichever process spends it; a concurrency slot outlives
        # the longest call this client lets run.
        self.governor.key = self.governor.key or connection_id
        self.governor.lease = timeout + 5
        self.retry_policy = retry_policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()

    @property
    def http(self) -> httpx.AsyncClient:
        return self._client

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                      content: bytes | str | None = None, headers: dict[str, str] | None = None,
                      ok: tuple[int, ...] = (), retry: bool | None = None) -> httpx.Response:
        """Send one call; return the response when it succeeded (2xx, or a status in `ok`).

        `retry` says whether the call is safe to repeat: by default GETs are; a connector passes True
        for reads sent as POST (query endpoints) and for writes that carry the provider's own
        idempotency key. Only 429s, 5xx, connect errors and timeouts are retried, never another 4xx.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        body = dump_json(json_body) if json_body is not None else content
        send_headers = dict(headers or {})
        if json_body is not None:
            send_headers.setdefault("Content-Type", "application/json")
        tracking = current_tracking_id.get()
        if tracking:
            send_headers["X-Tracking-Id"] = tracking
        retryable = method.upper() == "GET" if retry is None else retry
        stats = current_stats.get()
        attempt = 0
        while True:
            self.breaker.check(self.provider)
            try:
                response = await self._authorised(method, url, params, body, send_headers)
            except LedgerQLError as error:
                if error.code != ErrorCode.UPSTREAM_UNAVAILABLE:
                    raise
                if not self._may_retry(retryable, attempt, stats):
                    # The breaker counts calls we gave up on, not attempts: a provider that fails
                    # now and then but answers a retry is alive.
                    self.breaker.failure()
                    raise
                await asyncio.sleep(self.retry_policy.backoff(attempt))
                attempt += 1
                continue
            status = response.status_code
            retry_after = _retry_after(response)
            await self.governor.observe({k.lower(): v for k, v in response.headers.items()}, status, retry_after)
            if stats is not None:
                stats.quota[self.connection_id] = self.governor.quota()
            if response.is_success or status in ok:
                self.breaker.success()
                return response
            transient = status >= 500 or (status == 429 and (retry_after or 0) <= self.retry_policy.max_wait)
            if transient and self._may_retry(retryable, attempt, stats):
                pause = retry_after if status == 429 and retry_after else self.retry_policy.backoff(attempt)
                await asyncio.sleep(pause)
                attempt += 1
                continue
            if status >= 500:
                self.breaker.failure()
            raise self.error_for(response)

    def _may_retry(self, retryable: bool, attempt: int, stats: UpstreamStats | None) -> bool:
        if not retryable or attempt + 1 >= self.retry_policy.attempts:
            return False
        if stats is not None:
            if stats.retries >= self.retry_policy.request_budget:
                return False
            stats.retries += 1
        return True

    async def _authorised(self, method: str, url: str, params: Any, body: bytes | str | None,
                          headers: dict[str, str]) -> httpx.Response:
        """One call with the connection's token, refreshed and repeated once on a 401."""
        tokens = await self.tokens.get(self.connection_id)
        response = await self._send(method, url, params, body, headers, tokens)
        if response.status_code == 401:
            tokens = await self._refreshed(tokens)
            response = await self._send(method, url, params, body, headers, tokens)
            if response.status_code == 401:
                raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                    f"{self.provider} refused the connection's credentials",
                                    connectionId=self.connection_id)
        return response

    async def _send(self, method: str, url: str, params: Any, body: bytes | str | None,
                    headers: dict[str, str], tokens: Tokens) -> httpx.Response:
        stats = current_stats.get()
        try:
            slot = await self.governor.acquire(self.provider)
        finally:
            if stats is not None:  # a refusal reports the quota too: it says why
                stats.quota[self.connection_id] = self.governor.quota()
        if stats is not None:
            stats.started(self.connection_id)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(
                    method, url, params=params, content=body,
                    headers={**headers, "Authorization": f"Bearer {tokens.access_token}"})
        except TimeoutError:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{self.provider} did not answer in time",
                                connectionId=self.connection_id) from None
        except httpx.TransportError as exc:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"{self.provider} could not be reached ({type(exc).__name__})",
                                connectionId=self.connection_id) from None
        finally:
            await self.governor.release(slot)
            if stats is not None:
                stats.finished()
        logger.debug("upstream %s %s %s -> %s in %.1f ms [%s]", self.provider, method, httpx.URL(url).path,
                     response.status_code, (time.perf_counter() - started) * 1000, current_tracking_id.get())
        return response

    async def _refreshed(self, used: Tokens) -> Tokens:
        """New tokens after a 401: the token store makes it one refresh per connection at a time."""
        return await self.tokens.refresh(self.connection_id, used, self._exchange)

    async def _exchange(self, current: Tokens) -> Tokens:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._refresh(self._client, current)
        except LedgerQLError as error:
            # A token endpoint's refusal may echo the refresh token or the client's credentials.
            raise redacted(error, [current.access_token, current.refresh_token, current.client_secret]) from None
        except (httpx.TransportError, TimeoutError):
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"{self.provider}'s token endpoint could not be reached",
                                connectionId=self.connection_id) from None

    def error_for(self, response: httpx.Response) -> LedgerQLError:
        """Our error for a provider's failed answer; the provider's message where it is safe to show."""
        status = response.status_code
        try:
            # Some providers echo the request in their errors: never its credentials.
            message = redact(self._error_message(response), [response.request.headers.get("authorization")])
        except Exception:  # a malformed error body must not hide the status
            message = ""
        where = {"connectionId": self.connection_id, "upstreamStatus": status}
        if status == 429:
            retry_after = _retry_after(response)
            return LedgerQLError(ErrorCode.UPSTREAM_RATE_LIMITED,
                                 f"{self.provider} rate limit reached" + (f": {message}" if message else ""),
                                 retryAfter=retry_after, **where)
        if status in (401, 403):
            return LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED if status == 401 else ErrorCode.FORBIDDEN,
                                 f"{self.provider} refused access" + (f": {message}" if message else ""), **where)
        if status == 404:
            return LedgerQLError(ErrorCode.NOT_FOUND, message or f"{self.provider} has no such record", **where)
        if status >= 500:
            return LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{self.provider} failed ({status})", **where)
        return LedgerQLError(ErrorCode.BAD_USER_INPUT,
                             f"{self.provider} rejected the request: {message or status}", **where)


def oauth_error(response: httpx.Response) -> str | None:
    """The OAuth2 `error` code of a token endpoint's refusal (RFC 6749 §5.2), e.g. `invalid_grant`."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error) if isinstance(error, str) else None


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0, int(float(value)))
    except ValueError:
        return None
