"""The gateway's long-lived state: connections, their connectors, API keys and the cursor key.

One `Gateway` lives per process. Connectors (and their HTTP clients) are built once per connection
and shared by requests; everything per-request lives in `RequestContext`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import httpx

from ledgerql.connectors import connector_class
from ledgerql.connectors.base import ConnectionConfig, Connector
from ledgerql.connectors.cache import RecordCache
from ledgerql.connectors.http import MemoryTokenStore, Tokens, TokenStore
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema.pagination import CursorCodec
from ledgerql.store.idempotency import IdempotencyStore, SQLiteIdempotencyStore


@dataclass(frozen=True)
class Principal:
    """Who is asking: an API user and the connections its account(s) may use."""

    user_id: str
    account_ids: frozenset[str]
    connection_ids: frozenset[str]


@dataclass
class ApiKey:
    key_hash: str
    principal: Principal


@dataclass
class Gateway:
    secret_key: bytes
    tokens: TokenStore = field(default_factory=MemoryTokenStore)
    transport: httpx.AsyncBaseTransport | None = None  # in-process sandboxes; None = real network
    idempotency: IdempotencyStore = field(default_factory=lambda: SQLiteIdempotencyStore(":memory:"))
    # Keep each connection within its provider's declared rate limits (off only for benchmarks).
    rate_limits: bool = True
    # Reference data shared across requests (memory here; Redis when configured); None = no cache.
    cache: RecordCache | None = field(default_factory=RecordCache.memory)
    connections: dict[str, ConnectionConfig] = field(default_factory=dict)
    _connectors: dict[str, Connector] = field(default_factory=dict)
    _keys: dict[str, ApiKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cursors = CursorCodec(hashlib.sha256(b"cursor:" + self.secret_key).digest())

    # -- connections -----------------------------------------------------------------------------
    async def add_connection(self, config: ConnectionConfig, tokens: Tokens) -> None:
        self.connections[config.id] = config
        await self.tokens.put(config.id, tokens)
        old = self._connectors.pop(config.id, None)
        if old is not None:
            await old.aclose()

    def connector(self, connection_id: str) -> Connector:
        connector = self._connectors.get(connection_id)
        if connector is None:
            config = self.connections.get(connection_id)
            if config is None:
                raise LedgerQLError(ErrorCode.NOT_FOUND, f"No connection with id {connection_id!r}")
            connector = connector_class(config.provider).build(config, self.tokens, self.transport,
                                                               rate_limits=self.rate_limits)
            connector.cache = self.cache
            self._connectors[connection_id] = connector
        return connector

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()
        await self.idempotency.aclose()
        if self.cache is not None:
            await self.cache.aclose()

    # -- API keys ----------------------------------------------------------------------------------
    def hash_key(self, key: str) -> str:
        return hmac.new(self.secret_key, key.encode(), hashlib.sha256).hexdigest()

    def add_api_key(self, key: str, principal: Principal) -> None:
        digest = self.hash_key(key)
        self._keys[digest] = ApiKey(digest, principal)

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise LedgerQLError(ErrorCode.UNAUTHENTICATED, "Send an API key: `Authorization: Bearer <key>`")
        found = self._keys.get(self.hash_key(key))
        if found is None:
            raise LedgerQLError(ErrorCode.UNAUTHENTICATED, "The API key is not valid")
        return found.principal
