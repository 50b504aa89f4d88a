"""Staying polite and available when providers throttle, fail or go down.

- `RateGovernor`: per connection, mirrors the provider's declared limits (per second, per minute,
  per day, concurrency) so we do not cause the provider's 429s; a short wait is queued, a long one
  answers UPSTREAM_RATE_LIMITED with `retryAfter`. It also obeys `Retry-After` and the providers'
  remaining-quota headers.
- `CircuitBreaker`: per connection, stops calling a provider that keeps failing and answers
  UPSTREAM_UNAVAILABLE at once, trying again after a cool-down.
- `RetryPolicy`: which failures may be retried (reads; writes only under a provider idempotency key)
  and how long to back off (exponential, with jitter).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field

from ledgerql.model.errors import ErrorCode, LedgerQLError

# Remaining-quota headers the providers send (lowercase), and which window each speaks of.
QUOTA_HEADERS = {
    "x-minlimit-remaining": "minute",  # Xero
    "x-daylimit-remaining": "day",  # Xero
    "x-ratelimit-minutely-remaining": "minute",  # Exact Online
    "x-ratelimit-remaining": "day",  # Exact Online
}


@dataclass
class RetryPolicy:
    attempts: int = 3
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
    max_wait: float = 2.0
    _stamps: deque[float] = field(default_factory=deque)
    _day: deque[float] = field(default_factory=deque)
    _blocked_until: float = 0.0
    _reported: dict[str, int] = field(default_factory=dict)
    _semaphore: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.concurrent:
            self._semaphore = asyncio.Semaphore(self.concurrent)

    def _wait_needed(self, now: float) -> float:
        while self._stamps and self._stamps[0] <= now - 60:
            self._stamps.popleft()
        while self._day and self._day[0] <= now - 86400:
            self._day.popleft()
        waits = [self._blocked_until - now]
        if self.per_minute is not None and len(self._stamps) >= self.per_minute:
            waits.append(self._stamps[len(self._stamps) - self.per_minute] + 60 - now)
        if self.per_second is not None:
            recent = [s for s in self._stamps if s > now - 1]
            if len(recent) >= self.per_second:
                waits.append(recent[len(recent) - self.per_second] + 1 - now)
        if self.per_day is not None and len(self._day) >= self.per_day:
            waits.append(self._day[0] + 86400 - now)
        if self._reported.get("minute") == 0:
            waits.append(self._blocked_until - now)
        return max(0.0, *waits)

    async def acquire(self, provider: str) -> None:
        """Take one call's share of the budget, waiting briefly if the window is nearly full."""
        while True:
            now = time.monotonic()
            wait = self._wait_needed(now)
            if wait <= 0:
                break
            if wait > self.max_wait:
                raise LedgerQLError(ErrorCode.UPSTREAM_RATE_LIMITED,
                                    f"{provider} call budget is spent for now; retry later",
                                    retryAfter=int(wait) + 1)
            await asyncio.sleep(wait)
        self._stamps.append(time.monotonic())
        if self.per_day is not None:
            self._day.append(time.monotonic())
        if self._semaphore is not None:
            await self._semaphore.acquire()

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()

    def observe(self, headers: dict[str, str], status: int, retry_after: int | None) -> None:
        """Learn from the provider's answer: remaining quota, and Retry-After on a 429."""
        for name, window in QUOTA_HEADERS.items():
            value = headers.get(name)
            if value is not None and value.isdigit():
                self._reported[window] = int(value)
        if status == 429:
            self._blocked_until = max(self._blocked_until, time.monotonic() + (retry_after or 1))

    def remaining(self) -> dict[str, int]:
        """What the provider last said remains (for `extensions`)."""
        return dict(self._reported)


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
