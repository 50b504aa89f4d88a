"""Tenancy: partners own accounts; accounts own connections, users and access groups.

An API user is a user with an API key who belongs to its owner's `api_user` group. A partner's API
user acts for any account under that partner, naming it per request; an account's API user acts for
that account only. Refusals never tell an account that exists apart from one that does not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from ledgerql.connectors.base import ConnectionConfig
from ledgerql.connectors.http import Tokens
from ledgerql.model.enums import Provider
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.store.tenancy import ACCOUNT, PARTNER, ConnectionRow, GroupRow, Owner, TenancyStore
from ledgerql.tenancy.crypto import SecretBox
from ledgerql.tenancy.permissions import API_USER_DEFAULT, normalise
from ledgerql.tenancy.principal import Principal

API_USER_GROUP = "api_user"
DEFAULT_GROUP = "integrations"
KEY_PREFIX = "lq_"


class ConnectionState:
    ACTIVE = "ACTIVE"
    REFRESHING = "REFRESHING"
    REAUTH_REQUIRED = "REAUTH_REQUIRED"


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def account_refused() -> LedgerQLError:
    # One answer for "not yours" and "does not exist", so ids cannot be probed.
    return LedgerQLError(ErrorCode.FORBIDDEN, "This API key cannot act for that account")


class Tenancy:
    def __init__(self, store: TenancyStore, box: SecretBox, hash_secret: bytes) -> None:
        self.store = store
        self.box = box
        self._hash_secret = hash_secret

    def hash_key(self, key: str) -> str:
        return hmac.new(self._hash_secret, key.encode(), hashlib.sha256).hexdigest()

    # -- who is asking -------------------------------------------------------------------------------
    async def authenticate(self, key: str | None, account_id: str | None = None) -> Principal:
        if not key:
            raise LedgerQLError(ErrorCode.UNAUTHENTICATED, "Send an API key: `Authorization: Bearer <key>`")
        user = await self.store.user_by_key(self.hash_key(key))
        groups = await self.store.groups_of_user(user["id"]) if user else []
        owner = Owner(user["owner_kind"], user["owner_id"]) if user else None
        if user is None or owner is None or not any(g.name == API_USER_GROUP and g.owner == owner for g in groups):
            raise LedgerQLError(ErrorCode.UNAUTHENTICATED, "The API key is not valid")
        permissions = frozenset(p for g in groups for p in g.permissions)

        if owner.kind == ACCOUNT:
            if account_id and account_id != owner.id:
                raise account_refused()
            acting: str | None = owner.id
            partner_id = (await self.store.account(owner.id) or {}).get("partner_id")
            reach = frozenset({owner.id})
        else:
            partner_id = owner.id
            reach = frozenset(a["id"] for a in await self.store.accounts_of_partner(owner.id))
            if account_id and account_id not in reach:
                raise account_refused()
            acting = account_id or None

        connection_ids: frozenset[str] = frozenset()
        if acting is not None:
            in_account = {c.id for c in await self.store.connections_of([acting])}
            scopes = [g.connection_ids for g in groups]
            allowed = in_account if any(s is None for s in scopes) else \
                in_account & {cid for s in scopes if s is not None for cid in s}
            connection_ids = frozenset(allowed)
        return Principal(user_id=user["id"], kind=owner.kind, partner_id=partner_id, account_id=acting,
                         account_ids=reach, connection_ids=connection_ids, permissions=permissions)

    # -- creating things (callers check who may) --------------------------------------------------
    async def create_partner(self, name: str, partner_id: str | None = None) -> str:
        partner_id = partner_id or new_id("prt")
        await self.store.create_partner(partner_id, name)
        await self._ensure_api_user_group(Owner(PARTNER, partner_id))
        return partner_id

    async def create_account(self, name: str, partner_id: str | None = None, account_id: str | None = None) -> str:
        account_id = account_id or new_id("acc")
        await self.store.create_account(account_id, name, partner_id)
        await self._ensure_api_user_group(Owner(ACCOUNT, account_id))
        return account_id

    async def create_user(self, owner: Owner, name: str, user_id: str | None = None) -> str:
        user_id = user_id or new_id("usr")
        await self.store.create_user(user_id, owner, name)
        return user_id

    async def create_api_user(self, owner: Owner, name: str, *, group_ids: Iterable[str] = (),
                              user_id: str | None = None, key: str | None = None) -> tuple[str, str]:
        """A user with a new API key, in its owner's `api_user` group (and the groups given). The key
        is returned here once; only its hash is stored."""
        user_id = await self.create_user(owner, name, user_id)
        api_group = await self._ensure_api_user_group(owner)
        await self.store.add_membership(user_id, api_group.id)
        group_ids = list(group_ids)
        if not group_ids:  # no groups named: the owner's default rights (every data family, every connection)
            default = await self.store.group_named(owner, DEFAULT_GROUP)
            group_ids = [default.id] if default else []
        for group_id in group_ids:
            await self.add_membership(user_id, group_id)
        key = key or KEY_PREFIX + secrets.token_urlsafe(32)
        await self.store.add_key(self.hash_key(key), user_id, key[:8])
        return user_id, key

    async def add_key(self, user_id: str, key: str) -> None:
        """Register a key chosen by the operator (configuration), stored as its hash only."""
        await self.store.add_key(self.hash_key(key), user_id, key[:8])

    async def create_group(self, owner: Owner, name: str, permissions: Iterable[str],
                           connection_ids: Iterable[str] | None = None, group_id: str | None = None) -> GroupRow:
        try:
            granted = normalise(permissions)
        except ValueError:
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "Permissions are FAMILY:LEVEL with a family of AR, AP, "
                                "LEDGER, REPORTS or ADMIN and a level of READ or WRITE", inputPath=["permissions"]
                                ) from None
        scope = None if connection_ids is None else frozenset(connection_ids)
        if scope is not None and owner.kind == ACCOUNT:
            known = {c.id for c in await self.store.connections_of([owner.id])}
            unknown = sorted(scope - known)
            if unknown:
                raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"No connection {unknown[0]!r} in this account",
                                    inputPath=["connectionIds"])
        if await self.store.group_named(owner, name) is not None:
            raise LedgerQLError(ErrorCode.CONFLICT, f"An access group named {name!r} exists already",
                                inputPath=["name"])
        group = GroupRow(id=group_id or new_id("grp"), owner=owner, name=name, permissions=granted,
                         connection_ids=scope)
        await self.store.create_group(group)
        return group

    async def add_membership(self, user_id: str, group_id: str) -> None:
        user = await self.store.user(user_id)
        group = await self.store.group(group_id)
        if user is None or group is None or group.owner != Owner(user["owner_kind"], user["owner_id"]):
            raise LedgerQLError(ErrorCode.NOT_FOUND, "No such user or access group here")
        await self.store.add_membership(user_id, group_id)

    async def register_connection(self, account_id: str, config: ConnectionConfig, tokens: Tokens) -> None:
        row = ConnectionRow(id=config.id, account_id=account_id, provider=config.provider.value, name=config.name,
                            base_url=config.base_url, tenant_id=config.tenant_id, token_url=config.token_url,
                            client_id=config.client_id, state=ConnectionState.ACTIVE)
        existing = await self.store.connection(config.id)
        if existing is not None and existing.account_id != account_id:
            raise LedgerQLError(ErrorCode.CONFLICT, "That connection id is taken; choose another",
                                inputPath=["id"])
        await self.store.save_connection(row, self.box.seal(seal_tokens(tokens)))

    async def _ensure_api_user_group(self, owner: Owner) -> GroupRow:
        """`api_user` marks who may sign in with a key and grants nothing by itself, so that a narrow
        group can stay narrow; `integrations` is where a new API user's rights come from by default."""
        group = await self.store.group_named(owner, API_USER_GROUP)
        if group is None:
            group = GroupRow(id=new_id("grp"), owner=owner, name=API_USER_GROUP, permissions=frozenset(),
                             connection_ids=frozenset())
            await self.store.create_group(group)
        if await self.store.group_named(owner, DEFAULT_GROUP) is None:
            await self.store.create_group(GroupRow(id=new_id("grp"), owner=owner, name=DEFAULT_GROUP,
                                                   permissions=API_USER_DEFAULT, connection_ids=None))
        return group

    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret under the current (first) key; the number re-encrypted."""
        rotated = 0
        for connection_id, sealed in await self.store.all_secrets():
            if await self.store.replace_secret(connection_id, sealed, self.box.rotate(sealed.sealed)):
                rotated += 1
        return rotated


def config_of(row: ConnectionRow) -> ConnectionConfig:
    return ConnectionConfig(id=row.id, provider=Provider(row.provider), name=row.name, base_url=row.base_url,
                            tenant_id=row.tenant_id, token_url=row.token_url, client_id=row.client_id)


def seal_tokens(tokens: Tokens) -> dict[str, object]:
    return {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at, "client_secret": tokens.client_secret}


def open_tokens(data: dict[str, object]) -> Tokens:
    expires = data.get("expires_at")
    return Tokens(access_token=str(data["access_token"]),
                  refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
                  expires_at=float(expires) if isinstance(expires, (int, float)) else None,
                  client_secret=str(data["client_secret"]) if data.get("client_secret") else None)
