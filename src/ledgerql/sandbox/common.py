"""What every provider emulator shares: clock, OAuth token store, faults, rate limits, counters.

An emulator is a Starlette app built by `Emulator.build_app()`. Every request passes, in order:
request counting → fault injection (latency, 5xx, 429, timeouts) → bearer-token check →
rate limits → the provider's own route. Each step that can fail asks the emulator subclass for
the body in its provider's own error format, so a client sees exactly what the real API sends.

Runtime controls live under `{prefix}/_sandbox/` on every emulator (no auth: it is a sandbox):
`GET stats`, `POST stats/reset`, `GET|POST faults`, `POST limits`, `POST tokens/expire`,
`POST clock/advance`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp

from ledgerql.sandbox.books import Books

logger = logging.getLogger("ledgerql.sandbox")

# --- clock ---------------------------------------------------------------------------------------


class Clock:
    """Wall-clock time that tests can move forward (token expiry, rate windows, grace periods)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


# --- OAuth2 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPolicy:
    """How a provider's OAuth2 server issues and rotates tokens."""

    access_ttl: int = 3600
    refresh_ttl: int = 100 * 24 * 3600
    rotate_refresh: bool = True
    # Seconds during which the previous refresh token still works after a rotation (Xero: 1800).
    refresh_grace: int = 0
    # Refuse a refresh while the current access token is younger than this (Exact: ~570 s).
    min_refresh_interval: int = 0


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    tenant: str
    access_expires_at: float
    refresh_expires_at: float
    issued_at: float


class TokenError(Exception):
    """A refresh the provider refuses; `reason` is `invalid_grant` or `too_early`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class OAuthServer:
    """Issues, checks and rotates bearer tokens for one emulator (all of its tenants)."""

    def __init__(self, policy: TokenPolicy, clock: Clock, client_id: str, client_secret: str) -> None:
        self.policy = policy
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self._by_access: dict[str, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}
        # refresh token → (grant it was rotated into, instant the grace ends)
        self._rotated: dict[str, tuple[Grant, float]] = {}
        self.refresh_count = 0

    def issue(self, tenant: str, seed: str | None = None) -> Grant:
        """A new grant. With a seed the tokens are derived from it, so that another process (such as
        `ledgerql sandbox --describe`) can name the tokens a running sandbox starts with."""
        now = self.clock.now()
        access = _derived_token("at", seed, tenant) if seed else _token("at")
        refresh = _derived_token("rt", seed, tenant) if seed else _token("rt")
        grant = Grant(access_token=access, refresh_token=refresh, tenant=tenant,
                      access_expires_at=now + self.policy.access_ttl,
                      refresh_expires_at=now + self.policy.refresh_ttl, issued_at=now)
        self._by_access[grant.access_token] = grant
        self._by_refresh[grant.refresh_token] = grant
        return grant

    def check_client(self, client_id: str | None, client_secret: str | None) -> bool:
        return client_id == self.client_id and client_secret == self.client_secret

    def authenticate(self, access_token: str) -> Grant | None:
        """The grant of a valid, unexpired access token, or None."""
        grant = self._by_access.get(access_token)
        if grant is None or grant.access_expires_at <= self.clock.now():
            return None
        return grant

    def refresh(self, refresh_token: str) -> Grant:
        now = self.clock.now()
        grant = self._by_refresh.get(refresh_token)
        if grant is None:
            rotated = self._rotated.get(refresh_token)
            if rotated and rotated[1] > now:
                # Within the grace period the old refresh token answers with the current grant,
                # so a client that lost the response can recover.
                return rotated[0]
            raise TokenError("invalid_grant", "The refresh token is invalid, expired or already used.")
        if grant.refresh_expires_at <= now:
            raise TokenError("invalid_grant", "The refresh token has expired.")
        if self.policy.min_refresh_interval and now - grant.issued_at < self.policy.min_refresh_interval:
            raise TokenError("too_early", "The access token may not be refreshed yet.")
        self.refresh_count += 1
        new = Grant(access_token=_token("at"),
                    refresh_token=_token("rt") if self.policy.rotate_refresh else grant.refresh_token,
                    tenant=grant.tenant, access_expires_at=now + self.policy.access_ttl,
                    refresh_expires_at=now + self.policy.refresh_ttl, issued_at=now)
        self._by_access.pop(grant.access_token, None)
        self._by_access[new.access_token] = new
        if self.policy.rotate_refresh:
            del self._by_refresh[refresh_token]
            if self.policy.refresh_grace:
                self._rotated[refresh_token] = (new, now + self.policy.refresh_grace)
        self._by_refresh[new.refresh_token] = new
        return new

    def expire_access_tokens(self) -> int:
        """Expire every access token now (refresh tokens stay valid)."""
        now = self.clock.now()
        for grant in self._by_access.values():
            grant.access_expires_at = min(grant.access_expires_at, now - 1)
            # An expired token may always be refreshed, whatever the minimum interval.
            grant.issued_at = min(grant.issued_at, now - self.policy.min_refresh_interval)
        return len(self._by_access)


def _token(kind: str) -> str:
    return f"sbx-{kind}-{secrets.token_urlsafe(24)}"


def _derived_token(kind: str, seed: str, tenant: str) -> str:
    return f"sbx-{kind}-" + hashlib.sha256(f"{seed}:{tenant}:{kind}".encode()).hexdigest()[:32]


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """Client id and secret from HTTP Basic auth, as the providers' token endpoints take them."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


# --- faults --------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Injected misbehaviour. Shares are probabilities in [0, 1]; `seed` makes them repeatable."""

    latencyMs: float = 0
    jitterMs: float = 0
    error429: float = 0
    error5xx: float = 0
    timeout: float = 0  # share of requests that hang for `timeoutMs` (writes still happen first)
    timeoutMs: float = 30_000
    expireToken: float = 0  # share of requests answered 401 as if the token expired early
    # Seconds an injected 429 asks the client to wait (Retry-After, or the quota reset it names).
    retryAfter: int = 60
    seed: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | str | None) -> Faults:
        if not data:
            return cls()
        if isinstance(data, str):
            data = json.loads(data)
        assert isinstance(data, dict)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    def active(self) -> bool:
        return any((self.latencyMs, self.jitterMs, self.error429, self.error5xx, self.timeout,
                    self.expireToken))


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self.set(faults)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)

    def delay(self) -> float:
        f = self.faults
        return max(0.0, f.latencyMs + (self.rng.uniform(-f.jitterMs, f.jitterMs) if f.jitterMs else 0)) / 1000

    def roll(self, share: float) -> bool:
        return share > 0 and self.rng.random() < share


# --- rate limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """A provider's documented limits per tenant; None means no such limit."""

    per_second: int | None = None
    per_minute: int | None = None
    per_day: int | None = None
    concurrent: int | None = None
    enabled: bool = True


@dataclass
class RateDecision:
    allowed: bool
    problem: str | None = None  # "second" | "minute" | "day" | "concurrent"
    retry_after: int = 0
    minute_remaining: int | None = None
    day_remaining: int | None = None
    minute_reset: float = 0
    day_reset: float = 0


@dataclass
class _Window:
    stamps: deque[float] = field(default_factory=deque)
    day_count: int = 0
    day_started: float = 0
    in_flight: int = 0


class RateLimiter:
    """Sliding one-second and one-minute windows, a daily count and a concurrency gate per tenant."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self.rejected = 0
        self.rejected_by: Counter[str] = Counter()  # problem → 429s this limiter answered

    def acquire(self, tenant: str) -> RateDecision:
        limits = self.limits
        now = self.clock.now()
        w = self._windows.setdefault(tenant, _Window(day_started=now))
        while w.stamps and w.stamps[0] <= now - 60:
            w.stamps.popleft()
        if now - w.day_started >= 86400:
            w.day_started, w.day_count = now, 0
        minute_used = len(w.stamps)
        decision = RateDecision(
            allowed=True,
            minute_remaining=None if limits.per_minute is None else max(0, limits.per_minute - minute_used - 1),
            day_remaining=None if limits.per_day is None else max(0, limits.per_day - w.day_count - 1),
            minute_reset=(w.stamps[0] + 60) if w.stamps else now + 60,
            day_reset=w.day_started + 86400,
        )
        if not limits.enabled:
            w.in_flight += 1
            return decision
        second_used = sum(1 for s in w.stamps if s > now - 1)
        problem, retry_after = None, 0
        if limits.concurrent is not None and w.in_flight >= limits.concurrent:
            problem, retry_after = "concurrent", 1
        elif limits.per_second is not None and second_used >= limits.per_second:
            problem, retry_after = "second", 1
        elif limits.per_minute is not None and minute_used >= limits.per_minute:
            problem, retry_after = "minute", max(1, int(w.stamps[0] + 60 - now) + 1)
        elif limits.per_day is not None and w.day_count >= limits.per_day:
            problem, retry_after = "day", max(1, int(w.day_started + 86400 - now))
        if problem:
            self.rejected += 1
            self.rejected_by[problem] += 1
            decision.allowed, decision.problem, decision.retry_after = False, problem, retry_after
            decision.minute_remaining = 0 if problem == "minute" else decision.minute_remaining
            decision.day_remaining = 0 if problem == "day" else decision.day_remaining
            return decision
        w.stamps.append(now)
        w.day_count += 1
        w.in_flight += 1
        return decision

    def release(self, tenant: str) -> None:
        w = self._windows.get(tenant)
        if w and w.in_flight > 0:
            w.in_flight -= 1


# --- counting ------------------------------------------------------------------------------------


class RequestCounter:
    """Requests served, per kind ("GET Invoices", "query Invoice", ...), for tests and benchmarks."""

    def __init__(self) -> None:
        self.by_kind: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        self.by_kind[kind] += 1

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def reset(self) -> None:
        self.by_kind.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total, "byKind": dict(sorted(self.by_kind.items()))}


# --- idempotency ---------------------------------------------------------------------------------


class ReplayCache:
    """Remembers the response to each idempotency key per tenant, as QBO and Xero do."""

    def __init__(self) -> None:
        self._responses: dict[tuple[str, str], tuple[str, int, bytes, dict[str, str]]] = {}

    def get(self, tenant: str, key: str) -> Response | None:
        hit = self._responses.get((tenant, key))
        if hit is None:
            return None
        _, status, content, headers = hit
        return Response(content, status_code=status, headers=headers, media_type=headers.get("content-type"))

    def body_matches(self, tenant: str, key: str, body: bytes) -> bool:
        hit = self._responses.get((tenant, key))
        return hit is None or hit[0] == hashlib.sha256(body).hexdigest()

    def put(self, tenant: str, key: str, body: bytes, response: Response) -> None:
        if response.status_code < 300:
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            self._responses[(tenant, key)] = (hashlib.sha256(body).hexdigest(), response.status_code,
                                              bytes(response.body), headers)


# --- the emulator base ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxTenant:
    """One company inside an emulator: its tenant id in the provider's terms and its books."""

    tenant_id: str
    books: Books


Handler = Callable[[Request], Awaitable[Response]]


class Emulator:
    """Base of the four emulators. Subclasses set the class attributes and implement the hooks."""

    provider: str = ""
    token_policy = TokenPolicy()
    default_limits = RateLimits()
    #: paths (relative to the emulator's mount) that need no bearer token, e.g. the token endpoint
    public_paths: tuple[str, ...] = ()

    def __init__(self, tenants: list[SandboxTenant], faults: Faults | None = None,
                 limits: RateLimits | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.tenants = {t.tenant_id: t for t in tenants}
        # Start-up tokens and the client secret derive from the books' seed: a sandbox restarted with
        # the same books accepts the same start-up credentials, and `--describe` can print them.
        seed = f"ledgerql-sandbox:{self.provider}:" + ",".join(str(t.books.seed) for t in tenants)
        self.oauth = OAuthServer(self.token_policy, self.clock, client_id=f"{self.provider.lower()}-client",
                                 client_secret="sbx-secret-" + hashlib.sha256(seed.encode()).hexdigest()[:24])
        self.grants = {t.tenant_id: self.oauth.issue(t.tenant_id, seed=seed) for t in tenants}
        self.faults = FaultInjector(faults or Faults())
        self.limiter = RateLimiter(limits or self.default_limits, self.clock)
        self.counter = RequestCounter()
        # Faults injected, by kind ("429", "5xx", "timeout", "401"): kept apart from the rate
        # limiter's own 429s, so a test can tell a throttle it caused from one it was dealt.
        self.injected: Counter[str] = Counter()
        self.replay = ReplayCache()
        self.load()

    # -- hooks for subclasses --------------------------------------------------------------------
    @classmethod
    def tenant_id_for(cls, index: int) -> str:
        """The provider-style tenant id of the index-th sandbox company (realm, division, ...)."""
        raise NotImplementedError

    def load(self) -> None:
        """Convert `self.tenants[*].books` into the provider's own records."""

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def request_kind(self, request: Request) -> str:
        """How a request is counted; override to name the entity ("query Invoice")."""
        return f"{request.method} {request.url.path}"

    def tenant_of(self, request: Request) -> str | None:
        """The tenant a request addresses (realm in path, header, ...), None if it names none."""
        raise NotImplementedError

    def error_401(self, request: Request, detail: str) -> Response:
        raise NotImplementedError

    def error_403(self, request: Request, detail: str) -> Response:
        return self.error_401(request, detail)

    def error_429(self, request: Request, decision: RateDecision) -> Response:
        raise NotImplementedError

    def error_5xx(self, request: Request) -> Response:
        return JSONResponse({"message": "Service unavailable"}, status_code=503)

    def error_404(self, request: Request, status_code: int = 404) -> Response:
        """No such path (or method): answered in the provider's format, never as plain text."""
        return JSONResponse({"message": "Not found"}, status_code=status_code)

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        """Remaining-quota headers added to every authenticated answer."""
        return {}

    # -- the pipeline ----------------------------------------------------------------------------
    def build_app(self) -> ASGIApp:
        admin = [
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/stats/reset", self._stats_reset, methods=["POST"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
            Route("/_sandbox/limits", self._limits, methods=["POST"]),
            Route("/_sandbox/tokens/expire", self._expire_tokens, methods=["POST"]),
            Route("/_sandbox/clock/advance", self._advance_clock, methods=["POST"]),
        ]
        # The bare router, not a Starlette app: its error middleware would answer a crash with a
        # plain-text 500, and the pipeline must answer in the provider's own format instead.
        router = Router(routes=admin + self.routes())

        async def not_found(scope: Any, receive: Any, send: Any) -> None:
            await self.error_404(Request(scope, receive))(scope, receive, send)

        router.default = not_found
        return _Pipeline(router, self)

    async def _stats(self, request: Request) -> Response:
        data = self.counter.snapshot()
        data["refreshes"] = self.oauth.refresh_count
        data["rateLimited"] = self.limiter.rejected
        data["rateLimitedBy"] = dict(self.limiter.rejected_by)
        data["injected"] = dict(self.injected)
        return JSONResponse(data)

    async def _stats_reset(self, request: Request) -> Response:
        self.counter.reset()
        self.injected.clear()
        return JSONResponse({"ok": True})

    async def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.faults.set(Faults.from_json(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(self.faults.faults))

    async def _limits(self, request: Request) -> Response:
        data = await request.json()
        self.limiter.limits = replace(self.limiter.limits, **data)
        return JSONResponse(asdict(self.limiter.limits))

    async def _expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.oauth.expire_access_tokens()})

    async def _advance_clock(self, request: Request) -> Response:
        seconds = float((await request.json()).get("seconds", 0))
        self.clock.advance(seconds)
        return JSONResponse({"offset": self.clock.offset})

    def describe(self, base_url: str) -> dict[str, Any]:
        """What a client needs to talk to this emulator: base URL, tenant, tokens, client credentials."""
        raise NotImplementedError


class _Pipeline:
    """ASGI wrapper that runs counting, faults, auth and rate limits before the routes."""

    def __init__(self, app: Router, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        relative = path[len(root):] if root and path.startswith(root) else path
        emu = self.emulator
        if relative.startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        emu.counter.add(emu.request_kind(request))
        injector = emu.faults
        delay = injector.delay()
        if delay:
            await asyncio.sleep(delay)
        if injector.roll(injector.faults.error5xx):
            emu.injected["5xx"] += 1
            await emu.error_5xx(request)(scope, receive, send)
            return
        public = any(relative.startswith(p) for p in emu.public_paths)
        tenant: str | None = None
        if not public:
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            grant = emu.oauth.authenticate(token)
            if grant is None or injector.roll(injector.faults.expireToken):
                if grant is not None:
                    emu.injected["401"] += 1
                await emu.error_401(request, "Token expired or invalid")(scope, receive, send)
                return
            tenant = emu.tenant_of(request)
            if tenant is not None and tenant != grant.tenant:
                await emu.error_403(request, "The token does not grant access to this tenant")(
                    scope, receive, send)
                return
            tenant = grant.tenant
        if injector.roll(injector.faults.error429):
            emu.injected["429"] += 1
            wait = injector.faults.retryAfter
            await emu.error_429(request, RateDecision(False, "minute", wait, minute_reset=emu.clock.now() + wait))(
                scope, receive, send)
            return
        decision = emu.limiter.acquire(tenant or "-")
        if not decision.allowed:
            await emu.error_429(request, decision)(scope, receive, send)
            return
        extra = emu.rate_headers(decision) if tenant else {}
        hang = injector.roll(injector.faults.timeout)
        if hang:
            emu.injected["timeout"] += 1

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start" and extra:
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in extra.items()]
            if message["type"] == "http.response.start" and hang:
                # The work is done (a write has happened); the answer never arrives in time.
                await asyncio.sleep(injector.faults.timeoutMs / 1000)
            await send(message)

        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, tracking_send)
        except HTTPException as exc:  # e.g. 405 from a route that exists for other methods
            if not started:
                await emu.error_404(request, exc.status_code)(scope, receive, send)
        except Exception:
            if not started:
                await emu.error_5xx(request)(scope, receive, send)
            logger.exception("%s emulator crashed on %s %s", emu.provider, request.method, path)
        finally:
            emu.limiter.release(tenant or "-")
