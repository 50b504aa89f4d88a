"""The token vault: each connection's OAuth tokens, sealed at rest, refreshed once at a time.

Refresh follows the providers' rules (../shared/reference/providers.md):
- single flight per connection: in process by an asyncio lock, across processes by `Locks`; whoever
  waited re-reads the store and uses the tokens the winner saved instead of refreshing again (QBO and
  Xero rotate refresh tokens, so a second refresh with the old one would fail or fork the chain);
- the new refresh token is persisted before the new access token is used;
- a refresh whose response was lost (timeout, connection reset) is retried once with the same refresh
  token, which the providers honour within their grace rules (Xero: 30 minutes);
- a refresh token the provider refuses moves the connection to REAUTH_REQUIRED, and from then on every
  query that needs it answers UPSTREAM_AUTH_EXPIRED at once, without calling the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ledgerql.connectors.http import Tokens
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.store.tenancy import TenancyStore
from ledgerql.tenancy.crypto import SecretBox
from ledgerql.tenancy.locks import LocalLocks, Locks
from ledgerql.tenancy.service import ConnectionState, open_tokens, seal_tokens

logger = logging.getLogger("ledgerql.vault")

Exchange = Callable[[Tokens], Awaitable[Tokens]]


@dataclass
class _Held:
    tokens: Tokens
    state: str
    loaded_at: float


class TokenVault:
    def __init__(self, store: TenancyStore, box: SecretBox, locks: Locks | None = None, *,
                 memory_seconds: float = 5.0) -> None:
        self.store = store
        self.box = box
        self.locks: Locks = locks or LocalLocks()
        # Decrypted tokens are kept briefly in memory; a refresh always re-reads the store.
        self.memory_seconds = memory_seconds
        self._held: dict[str, _Held] = {}
        self._local: dict[str, asyncio.Lock] = {}

    async def get(self, connection_id: str) -> Tokens:
        held = self._held.get(connection_id)
        if held is None or time.monotonic() - held.loaded_at > self.memory_seconds:
            held = await self._load(connection_id)
        if held.state == ConnectionState.REAUTH_REQUIRED:
            raise _reauth(connection_id)
        return held.tokens

    async def put(self, connection_id: str, tokens: Tokens) -> None:
        await self.store.put_secret(connection_id, self.box.seal(seal_tokens(tokens)))
        held = self._held.get(connection_id)
        self._held[connection_id] = _Held(tokens, held.state if held else ConnectionState.ACTIVE, time.monotonic())

    async def refresh(self, connection_id: str, used: Tokens, exchange: Exchange) -> Tokens:
        """Tokens newer than `used`: someone else's fresh ones if they exist, else ours from `exchange`."""
        async with self._local.setdefault(connection_id, asyncio.Lock()):
            held = await self._usable(connection_id)
            if held.tokens.access_token != used.access_token:
                return held.tokens
            async with self.locks.hold(f"refresh:{connection_id}"):
                held = await self._usable(connection_id)
                if held.tokens.access_token != used.access_token:
                    return held.tokens  # another process refreshed while we waited
                await self.store.set_state(connection_id, ConnectionState.REFRESHING)
                try:
                    fresh = await self._exchange(connection_id, held.tokens, exchange)
                except LedgerQLError as error:
                    if error.code == ErrorCode.UPSTREAM_AUTH_EXPIRED and _refresh_token_dead(error):
                        # Where no lock spans the processes, another one may have used the refresh token
                        # first: its fresh tokens are in the store, and the connection is alive.
                        latest = await self._load(connection_id)
                        if latest.tokens.refresh_token != held.tokens.refresh_token:
                            await self.store.set_state(connection_id, ConnectionState.ACTIVE)
                            return latest.tokens
                        await self.store.set_state(connection_id, ConnectionState.REAUTH_REQUIRED, error.message)
                        self._held.pop(connection_id, None)
                        logger.warning("connection %s needs to be reconnected: the provider refused its refresh "
                                       "token", connection_id)
                        raise _reauth(connection_id) from None
                    await self.store.set_state(connection_id, ConnectionState.ACTIVE)
                    raise
                await self.put(connection_id, fresh)  # persisted before anyone uses the new access token
                await self.store.set_state(connection_id, ConnectionState.ACTIVE)
                return fresh

    async def _exchange(self, connection_id: str, current: Tokens, exchange: Exchange) -> Tokens:
        try:
            return await exchange(current)
        except LedgerQLError as error:
            if error.code != ErrorCode.UPSTREAM_UNAVAILABLE:
                raise
        # The response may have been lost after the provider rotated the tokens: asking again with the
        # same refresh token gets the new grant back within the provider's grace period.
        logger.info("token refresh of %s got no answer; asking again with the same refresh token", connection_id)
        return await exchange(current)

    async def _usable(self, connection_id: str) -> _Held:
        held = await self._load(connection_id)
        if held.state == ConnectionState.REAUTH_REQUIRED:
            raise _reauth(connection_id)
        return held

    async def _load(self, connection_id: str) -> _Held:
        row = await self.store.connection(connection_id)
        sealed = await self.store.secret(connection_id)
        if row is None or sealed is None:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED, "The connection has no credentials",
                                connectionId=connection_id)
        held = _Held(open_tokens(self.box.open(sealed.sealed)), row.state, time.monotonic())
        self._held[connection_id] = held
        return held

    def forget(self, connection_id: str) -> None:
        """Drop what memory holds (after the connection is registered again)."""
        self._held.pop(connection_id, None)


def _reauth(connection_id: str) -> LedgerQLError:
    return LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                         "The provider no longer accepts this connection's credentials: reconnect it",
                         connectionId=connection_id, connectionState=ConnectionState.REAUTH_REQUIRED)


# OAuth2 errors (RFC 6749 §5.2) after which only the user can help: the grant or the client is no good.
# Anything else (Exact's "not expired yet" is an `invalid_request`) leaves the connection as it was.
_DEAD = {"invalid_grant", "invalid_client", "unauthorized_client"}


def _refresh_token_dead(error: LedgerQLError) -> bool:
    code = error.extensions.get("oauthError")
    return code is None or code in _DEAD
