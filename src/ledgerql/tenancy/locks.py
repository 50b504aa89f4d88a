"""Named locks for work that must happen once at a time across gateway processes (token refresh).

In process by default; a PostgreSQL advisory lock when the store is PostgreSQL; a Redis lock when
only Redis is shared; a file lock beside a SQLite file that several processes of one machine share.
A lock is held for the length of one provider round trip, so all of them bound the wait and give up
with UPSTREAM_UNAVAILABLE rather than hang a request.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from ledgerql.model.errors import ErrorCode, LedgerQLError

WAIT_SECONDS = 30.0


def _timed_out(name: str) -> LedgerQLError:
    return LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, "Another process is still refreshing the connection's "
                         "credentials; try again shortly", retryAfter=1)


class Locks(Protocol):
    def hold(self, name: str) -> Any:
        """`async with locks.hold(name):` — exclusive among every holder of the same name."""
        ...


class LocalLocks:
    """Exclusive within this process only."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await lock.acquire()
        except TimeoutError:
            raise _timed_out(name) from None
        try:
            yield
        finally:
            lock.release()


class FileLocks:
    """`flock` on a file per name in a directory: exclusive among the processes of one machine (those
    that share a SQLite file), released by the kernel if the holder dies."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._local = LocalLocks()  # flock is per open file: one waiter per process at a time

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        path = self.directory / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock"
        async with self._local.hold(name):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                deadline = time.monotonic() + WAIT_SECONDS
                pause = 0.005
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise _timed_out(name) from None
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 0.1)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class PostgresLocks:
    """A session-level advisory lock, held on one pooled connection for the length of the work. If the
    process dies, PostgreSQL drops its session and with it the lock."""

    def __init__(self, database: Any) -> None:
        self.database = database  # a PostgresDatabase

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        async with self.database.connection() as conn:
            await conn.execute(f"SET lock_timeout = '{int(WAIT_SECONDS)}s'")
            try:
                await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", name)
            except Exception as exc:  # asyncpg's LockNotAvailableError, named loosely to keep asyncpg optional
                if type(exc).__name__ == "LockNotAvailableError":
                    raise _timed_out(name) from None
                raise
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", name)
                await conn.execute("RESET lock_timeout")


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class RedisLocks:
    """SET NX with an expiry (a crashed holder cannot block for ever), released only by its holder."""

    def __init__(self, url: str, *, prefix: str = "ledgerql:lock:", expiry_seconds: float = WAIT_SECONDS) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self.prefix = prefix
        self.expiry_ms = int(expiry_seconds * 1000)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        key, token = self.prefix + name, secrets.token_hex(16)
        deadline = time.monotonic() + WAIT_SECONDS
        pause = 0.005
        while not await self._redis.set(key, token, nx=True, px=self.expiry_ms):
            if time.monotonic() > deadline:
                raise _timed_out(name)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        try:
            yield
        finally:
            await self._redis.eval(_RELEASE, 1, key, token)

    async def aclose(self) -> None:
        await self._redis.aclose()
