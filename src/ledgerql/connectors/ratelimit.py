"""Where a connection's rate budget is kept: in this process, or in Redis shared by every process.

A budget is a set of sliding windows (calls per second / minute / day), a "blocked until" instant
(the provider said Retry-After, or its quota headers said the window is spent) and a concurrency
semaphore. `RateGovernor` (resilience.py) decides what to do with a wait; the store only answers,
atomically, "admitted" or "not for another N seconds".

The Redis store does each decision in one Lua script, on the Redis server's clock, so two gateway
processes racing for the last call of a window cannot both get it, and processes on hosts whose
clocks disagree still count the same window. Concurrency slots are leases that expire, so a process
that dies mid-call gives its slot back after `lease` seconds instead of holding it for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Window:
    name: str  # "second" | "minute" | "day": how extensions.quota names it
    seconds: float
    limit: int


@dataclass(frozen=True)
class Admission:
    """`wait` 0: the call was counted; otherwise nothing was counted and this many seconds must pass."""

    wait: float
    used: tuple[int, ...]  # calls counted in each window (after this one, when admitted)


class RateStore(Protocol):
    async def take(self, key: str, windows: list[Window]) -> Admission:
        """Count one call if every window has room and the key is not blocked."""
        ...

    async def block(self, key: str, seconds: float) -> None:
        """No call on `key` for `seconds` (an existing longer block stands)."""
        ...

    async def enter(self, key: str, limit: int, lease: float, wait: float) -> str | None:
        """One of `limit` concurrency slots, waiting at most `wait` seconds; None when none came free.
        A slot not given back within `lease` seconds is freed by itself."""
        ...

    async def leave(self, key: str, slot: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class _Budget:
    stamps: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    semaphore: asyncio.Semaphore | None = None


class MemoryRateStore:
    """The budget of one process (the default, and what each process uses without Redis)."""

    def __init__(self) -> None:
        self._budgets: dict[str, _Budget] = {}

    def _budget(self, key: str) -> _Budget:
        return self._budgets.setdefault(key, _Budget())

    async def take(self, key: str, windows: list[Window]) -> Admission:
        budget = self._budget(key)
        now = time.monotonic()
        wait = max(0.0, budget.blocked_until - now)
        used = []
        for window in windows:
            first = bisect_right(budget.stamps, now - window.seconds)
            count = len(budget.stamps) - first
            used.append(count)
            if count >= window.limit:
                # The call that has to leave the window before one more fits.
                leaving = budget.stamps[first + count - window.limit]
                wait = max(wait, leaving + window.seconds - now)
        if wait > 0:
            return Admission(wait, tuple(used))
        longest = max((w.seconds for w in windows), default=0.0)
        del budget.stamps[:bisect_right(budget.stamps, now - longest)]
        budget.stamps.append(now)
        return Admission(0.0, tuple(n + 1 for n in used))

    async def block(self, key: str, seconds: float) -> None:
        budget = self._budget(key)
        budget.blocked_until = max(budget.blocked_until, time.monotonic() + seconds)

    async def enter(self, key: str, limit: int, lease: float, wait: float) -> str | None:
        budget = self._budget(key)
        if budget.semaphore is None:
            budget.semaphore = asyncio.Semaphore(limit)
        try:
            # asyncio.timeout rather than wait_for: no task in between, so waiters keep their turn and the
            # calls of one dataloader tick still leave together.
            async with asyncio.timeout(wait):
                await budget.semaphore.acquire()
        except TimeoutError:
            return None
        return "local"

    async def leave(self, key: str, slot: str) -> None:
        semaphore = self._budget(key).semaphore
        if semaphore is not None:
            semaphore.release()

    async def aclose(self) -> None:
        self._budgets.clear()


# KEYS[1] call stamps (sorted set, score = ms on the Redis clock), KEYS[2] the block key (expires).
# ARGV[1] a unique member for this call, then pairs of (window ms, limit).
# Returns {wait ms, used in window 1, used in window 2, ...}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = redis.call('PTTL', KEYS[2])
if wait < 0 then wait = 0 end
local longest = 0
local used = {}
for i = 2, #ARGV, 2 do
  local window = tonumber(ARGV[i])
  local limit = tonumber(ARGV[i + 1])
  if window > longest then longest = window end
  local low = '(' .. (now - window)
  local count = redis.call('ZCOUNT', KEYS[1], low, '+inf')
  used[#used + 1] = count
  if count >= limit then
    local leaving = redis.call('ZRANGEBYSCORE', KEYS[1], low, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local free_in = tonumber(leaving[2]) + window - now
    if free_in > wait then wait = free_in end
  end
end
if wait <= 0 then
  wait = 0
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  if longest > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
    redis.call('PEXPIRE', KEYS[1], math.ceil(longest))
  end
  for i = 1, #used do used[i] = used[i] + 1 end
end
local result = {math.ceil(wait)}
for i = 1, #used do result[#result + 1] = used[i] end
return result
"""

# KEYS[1] the block key; ARGV[1] ms. Only ever lengthens a block.
_BLOCK = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
"""

# KEYS[1] slot holders (sorted set, score = lease end in ms); ARGV limit, lease ms, holder.
_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""


class RedisRateStore:
    """The budget shared by every process that names the same Redis and namespace."""

    #: how often a call waiting for a concurrency slot asks again
    poll_interval = 0.01

    def __init__(self, client: Any, namespace: str = "ledgerql") -> None:
        self._redis = client
        self.namespace = namespace
        self._take = client.register_script(_TAKE)
        self._block = client.register_script(_BLOCK)
        self._enter = client.register_script(_ENTER)

    @classmethod
    def from_url(cls, url: str, namespace: str = "ledgerql") -> RedisRateStore:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), namespace)

    def _key(self, key: str, part: str) -> str:
        # One hash tag per connection keeps a script's keys in one slot should the Redis be a cluster.
        return f"{self.namespace}:rate:{{{key}}}:{part}"

    async def take(self, key: str, windows: list[Window]) -> Admission:
        args: list[Any] = [uuid.uuid4().hex]
        for window in windows:
            args += [int(window.seconds * 1000), window.limit]
        result = await self._take(keys=[self._key(key, "calls"), self._key(key, "blocked")], args=args)
        return Admission(int(result[0]) / 1000, tuple(int(n) for n in result[1:]))

    async def block(self, key: str, seconds: float) -> None:
        if seconds > 0:
            await self._block(keys=[self._key(key, "blocked")], args=[int(seconds * 1000)])

    async def enter(self, key: str, limit: int, lease: float, wait: float) -> str | None:
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while True:
            if await self._enter(keys=[self._key(key, "slots")], args=[limit, int(lease * 1000), holder]):
                return holder
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(self.poll_interval)

    async def leave(self, key: str, slot: str) -> None:
        await self._redis.zrem(self._key(key, "slots"), slot)

    async def aclose(self) -> None:
        await self._redis.aclose()
