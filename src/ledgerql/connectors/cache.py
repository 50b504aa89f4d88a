"""The cross-request cache of reference data (aiocache: memory by default, Redis when configured).

Only resources whose mapping sets a `cache_ttl` are cached (ledger accounts, tax rates, tracking,
customers, suppliers, company info...). Keys always start with the connection id, so one
connection's records can never answer for another's. Each (connection, resource) has a generation
number kept in the cache itself; a write through the gateway bumps it, which makes every older key
unreachable at once, in every process that shares the cache. Concurrent misses for the same key
wait for one upstream call (single flight) instead of stampeding the provider.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiocache import Cache

from ledgerql.model.entities import ENTITY_TYPES, Record


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


@dataclass
class RecordCache:
    backend: Any
    stats: CacheStats = field(default_factory=CacheStats)
    _flights: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    @classmethod
    def memory(cls) -> RecordCache:
        return cls(Cache(Cache.MEMORY))

    @classmethod
    def redis(cls, url: str, namespace: str = "ledgerql") -> RecordCache:
        from urllib.parse import urlparse

        parsed = urlparse(url)
        db = int((parsed.path or "/0").lstrip("/") or 0)
        return cls(Cache(Cache.REDIS, endpoint=parsed.hostname or "127.0.0.1", port=parsed.port or 6379, db=db,
                         password=parsed.password, namespace=namespace))

    async def _generation(self, connection_id: str, resource: str) -> int:
        value = await self.backend.get(f"gen:{connection_id}:{resource}")
        return int(value or 0)

    async def invalidate(self, connection_id: str, resource: str) -> None:
        key = f"gen:{connection_id}:{resource}"
        try:
            await self.backend.increment(key, 1)
        except Exception:  # a backend without atomic increment of a missing key
            await self.backend.set(key, (await self._generation(connection_id, resource)) + 1)

    async def key(self, connection_id: str, resource: str, *parts: str) -> str:
        generation = await self._generation(connection_id, resource)
        return ":".join([connection_id, resource, f"g{generation}", *parts])

    async def get_records(self, key: str, resource: str) -> list[Record] | None:
        raw = await self.backend.get(key)
        if raw is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        kind = ENTITY_TYPES[resource]
        return [kind.model_validate(item) for item in json.loads(raw)]

    async def set_records(self, key: str, records: list[Record], ttl: int) -> None:
        payload = json.dumps([r.model_dump(mode="json") for r in records])
        await self.backend.set(key, payload, ttl=ttl)

    async def single_flight(self, key: str, produce: Callable[[], Awaitable[Any]]) -> Any:
        """Run `produce` once for concurrent callers of the same key in this process."""
        running = self._flights.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            result = await produce()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the callers that wait re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._flights[key]

    async def aclose(self) -> None:
        await self.backend.close()
