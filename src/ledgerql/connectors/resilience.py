"""Staying polite and available when providers throttle, fail or go down.

- `RateGovernor`: per connection, mirrors the provider's declared limits (per second, per minute,
  per day, concurrency) so we do not cause the provider's 429s; a short wait is queued, a long one
  answers UPSTREAM_RATE_LIMITED with `retryAfter`. It also obeys `Retry-After` and the providers'
  remaining-quota headers. Its budget lives in a `RateStore` (ratelimit.py): this process's memory,
  or Redis shared by every gateway process.
- `CircuitBreaker`: per connection, stops calling a provider that keeps failing and answers
  UPSTREAM_UNAVAILABLE at once, trying again after a cool-down.
- `RetryPolicy`: which failures may be retried (reads; writes only under a provider idempotency key)
  and how long to back off (exponential, with jitter).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from ledgerql.connectors.ratelimit import MemoryRateStore, RateStore, Window
from ledgerql.model.errors import ErrorCode, LedgerQLError

logger = logging.getLogger("ledgerql.ratelimit")

# Remaining-quota headers the providers send (lowercase): the window each speaks of, and the header
# that says when that window resets (epoch milliseconds), where the provider sends one.
QUOTA_HEADERS: dict[str, tuple[str, str | None]] = {
    "x-minlimit-remaining": ("minute", None),  # Xero
    "x-daylimit-remaining": ("day", None),  # Xero
    "x-ratelimit-minutely-remaining": ("minute", "x-ratelimit-minutely-reset"),  # Exact Online
    "x-ratelimit-remaining": ("day", "x-ratelimit-reset"),  # Exact Online
}

# Each window is counted a little longer than it lasts: the budget is taken before the request
# leaves, and the provider counts it when it arrives; jitter between the two (network latency, a
# busy event loop) must not let the provider see one call too many in its window. A 0.1 s margin
# on the one-second window still let QuickBooks' limiter fire once in a 1,000-query soak on a loaded
# machine; 0.25 s costs a fifth of the per-second rate and has not.
_MARGIN = {"second": 0.25, "minute": 2.0, "day": 2.0}


@dataclass
class RetryPolicy:
    # Five attempts: with 30 % of calls failing transiently (429 or 5xx), 0.3^5 = 0.24 % of reads
    # still fail, which keeps well over 99 % of queries whole.
    attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 2.0
    # Retries one GraphQL request may spend in all, across its upstream calls.
    request_budget: int = 20
    # A Retry-After longer than this is not waited for: the client hears UPSTREAM_RATE_LIMITED.
    max_wait: float = 2.0

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)  # jitter, not security


@dataclass
class RateGovernor:
    per_second: int | None = None
    per_minute: int | None = None
    per_day: int | None = None
    concurrent: int | None = None
    # A wait for the window budget up to this long is queued; a longer one is refused at once.
    max_wait: float = 2.0
    # Short waits can follow one another when many calls queue for a busy window; past this long in
    # all, the call is refused rather than kept waiting.
    max_queue: float = 8.0
    # How long a call may queue for a concurrency slot (calls in flight end by themselves).
    slot_wait: float = 10.0
    # A concurrency slot frees itself after this long (set from the provider's timeout), so a
    # process that dies mid-call cannot hold it for ever.
    lease: float = 35.0
    key: str = ""  # the connection whose budget this is
    store: RateStore = field(default_factory=MemoryRateStore)
    _used: dict[str, int] = field(default_factory=dict)
    _reported: dict[str, int] = field(default_factory=dict)

    def windows(self) -> list[Window]:
        declared = (("second", 1, self.per_second), ("minute", 60, self.per_minute), ("day", 86400, self.per_day))
        return [Window(name, seconds + _MARGIN[name], limit) for name, seconds, limit in declared if limit]

    def use(self, store: RateStore) -> None:
        """Keep the budget in `store` (the gateway's: Redis when configured)."""
        self.store = store

    async def acquire(self, provider: str) -> str | None:
        """Take a concurrency slot and one call's share of every window, queueing briefly when the
        wait is short. Returns the slot to hand back to `release`."""
        slot = None
        try:
            if self.concurrent:
                slot = await self.store.enter(self.key, self.concurrent, self.lease, self.slot_wait)
                if slot is None:
                    raise self._refusal(provider, 1, f"{self.concurrent} calls are already in flight")
            windows = self.windows()
            deadline = time.monotonic() + self.max_queue
            while True:
                admission = await self.store.take(self.key, windows)
                self._used = {w.name: n for w, n in zip(windows, admission.used, strict=True)}
                if admission.wait <= 0:
                    return slot
                if admission.wait > min(self.max_wait, deadline - time.monotonic()):
                    raise self._refusal(provider, admission.wait, "its call budget is spent for now")
                # A little jitter, so that calls queued behind the same window do not all wake at once.
                await asyncio.sleep(admission.wait + random.uniform(0, 0.02))
        except BaseException as exc:
            await self.release(slot)
            if isinstance(exc, OSError | TimeoutError) or _is_redis_error(exc):
                raise self._store_unreachable(exc) from None
            raise

    async def release(self, slot: str | None) -> None:
        if slot is None:
            return
        try:
            await self.store.leave(self.key, slot)
        except Exception as exc:  # the lease frees it in the end; the call's answer stands
            logger.warning("could not give back a concurrency slot of %s (%s)", self.key, type(exc).__name__)

    async def observe(self, headers: dict[str, str], status: int, retry_after: int | None) -> None:
        """Learn from the provider's answer: Retry-After on a 429, and the remaining-quota headers
        (a spent window blocks every process until the reset the provider names)."""
        block = 0.0
        for name, (window, reset_header) in QUOTA_HEADERS.items():
            value = headers.get(name)
            if value is None or not value.isdigit():
                continue
            self._reported[window] = int(value)
            reset = headers.get(reset_header) if reset_header else None
            if int(value) == 0 and reset and reset.isdigit():
                block = max(block, int(reset) / 1000 - time.time())
        if status == 429 and retry_after:
            block = max(block, float(retry_after))
        if block > 0:
            try:
                await self.store.block(self.key, block)
            except Exception as exc:
                logger.warning("could not record a rate block for %s (%s)", self.key, type(exc).__name__)

    def quota(self) -> dict[str, Any]:
        """Per window: the declared limit and what remains of it (counted across every process that
        shares the store), and what the provider itself last said remains."""
        report: dict[str, Any] = {}
        for window in self.windows():
            report[window.name] = {"limit": window.limit,
                                   "remaining": max(0, window.limit - self._used.get(window.name, 0))}
        for window_name, value in self._reported.items():
            report.setdefault(window_name, {})["providerRemaining"] = value
        if self.concurrent:
            report["concurrent"] = {"limit": self.concurrent}
        return report

    def _refusal(self, provider: str, wait: float, why: str) -> LedgerQLError:
        return LedgerQLError(ErrorCode.UPSTREAM_RATE_LIMITED, f"{provider}: {why}; retry later",
                             retryAfter=max(1, math.ceil(wait)), connectionId=self.key or None)

    def _store_unreachable(self, exc: BaseException) -> LedgerQLError:
        logger.warning("the shared rate budget cannot be reached (%s)", type(exc).__name__)
        return LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, "The shared rate budget cannot be reached; retry later",
                             retryAfter=1, connectionId=self.key or None)


def _is_redis_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("redis")


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial call through after `cooldown`."""

    threshold: int = 5
    cooldown: float = 10.0
    failures: int = 0
    opened_at: float | None = None

    def check(self, provider: str) -> None:
        if self.opened_at is None:
            return
        if time.monotonic() - self.opened_at >= self.cooldown:
            return  # half-open: this call is the trial
        raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                            f"{provider} is failing; calls are paused for a few seconds",
                            retryAfter=max(1, int(self.cooldown - (time.monotonic() - self.opened_at))))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "CLOSED"
        return "HALF_OPEN" if time.monotonic() - self.opened_at >= self.cooldown else "OPEN"
