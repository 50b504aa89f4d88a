"""Administration over GraphQL: accounts, users, API users, access groups and connections.

Partners administer every account under them; an account's administrators their own account. Every
operation needs the ADMIN permission (READ to look, WRITE to change), and names accounts only within
the caller's reach: any other account id is refused exactly like one that does not exist.
"""

from __future__ import annotations

import enum
import time
from typing import Any

import strawberry
from strawberry.types import Info

from ledgerql.connectors.base import ConnectionConfig
from ledgerql.connectors.http import Tokens
from ledgerql.model.enums import Provider
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema.types import context
from ledgerql.store.tenancy import ACCOUNT, PARTNER, GroupRow, Owner
from ledgerql.tenancy.permissions import Family, Level
from ledgerql.tenancy.principal import Principal
from ledgerql.tenancy.service import account_refused, new_id


@strawberry.enum(description="ACTIVE: usable. REFRESHING: new tokens are being fetched. REAUTH_REQUIRED: the "
                             "provider refused the refresh token; the connection must be authorised again.")
class ConnectionState(enum.Enum):
    ACTIVE = "ACTIVE"
    REFRESHING = "REFRESHING"
    REAUTH_REQUIRED = "REAUTH_REQUIRED"


@strawberry.enum(description="Who owns a user: a partner (acting for its accounts) or one account.")
class UserKind(enum.Enum):
    PARTNER = "partner"
    ACCOUNT = "account"


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    kind: UserKind
    owner_id: strawberry.ID


@strawberry.type
class AccessGroup:
    id: strawberry.ID
    name: str
    permissions: list[str] = strawberry.field(description="FAMILY:LEVEL, e.g. AR:WRITE, LEDGER:READ, ADMIN:WRITE.")
    connection_ids: list[strawberry.ID] | None = strawberry.field(
        description="The connections members may use; null means every connection of the account.")

    @classmethod
    def of(cls, group: GroupRow) -> AccessGroup:
        return cls(id=strawberry.ID(group.id), name=group.name, permissions=sorted(group.permissions),
                   connection_ids=None if group.connection_ids is None else
                   [strawberry.ID(c) for c in sorted(group.connection_ids)])


@strawberry.type
class Account:
    id: strawberry.ID
    name: str

    @strawberry.field(description="The account's users (needs ADMIN:READ).")
    async def users(self, info: Info) -> list[User]:
        _require_admin(info, Level.READ)
        rows = await context(info).gateway.store.users_of(Owner(ACCOUNT, str(self.id)))
        return [_user(r) for r in rows]

    @strawberry.field(description="The account's access groups (needs ADMIN:READ).")
    async def access_groups(self, info: Info) -> list[AccessGroup]:
        _require_admin(info, Level.READ)
        groups = await context(info).gateway.store.groups_of_owner(Owner(ACCOUNT, str(self.id)))
        return [AccessGroup.of(g) for g in groups]


@strawberry.type(description="A partner: seen by its own users only.")
class Partner:
    id: strawberry.ID
    name: str

    @strawberry.field
    async def accounts(self, info: Info) -> list[Account]:
        rows = await context(info).gateway.store.accounts_of_partner(str(self.id))
        return [Account(id=strawberry.ID(r["id"]), name=r["name"]) for r in rows]


@strawberry.type
class Me:
    user_id: strawberry.ID
    kind: UserKind
    permissions: list[str]
    account: Account | None = strawberry.field(description="The account acted for; a partner's API user names "
                                                           "it with the X-LedgerQL-Account header.")


@strawberry.type
class ApiUserCreated:
    user: User
    api_key: str = strawberry.field(description="Shown this once; LedgerQL keeps only its hash.")


@strawberry.input(description="A new account; LedgerQL names it (ids are global, so a chosen one could tell "
                               "another partner's accounts apart).")
class AccountInput:
    name: str


@strawberry.input
class UserInput:
    name: str
    account_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "The account the user belongs to; the acting account when omitted (a partner user without one creates "
        "a partner user)."))
    group_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description=(
        "Access groups to join. An API user named in none joins its owner's `integrations` group (every data "
        "family, every connection)."))


@strawberry.input
class AccessGroupInput:
    name: str
    permissions: list[str]
    connection_ids: list[strawberry.ID] | None = None
    account_id: strawberry.ID | None = None


@strawberry.input
class ConnectionInput:
    provider: Provider
    name: str
    base_url: str = strawberry.field(description="The provider's API host, e.g. https://api.xero.com.")
    tenant_id: str = strawberry.field(description="QBO realm, Xero tenant, Exact division or NetSuite account.")
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    access_token: str
    refresh_token: str | None = None
    expires_in: int | None = strawberry.field(default=None, description="Seconds the access token has left.")
    id: strawberry.ID | None = strawberry.field(default=None, description=(
        "To re-authorise a connection of this account, its id; omitted for a new connection (LedgerQL "
        "names it)."))
    account_id: strawberry.ID | None = None


def _user(row: dict[str, Any]) -> User:
    return User(id=strawberry.ID(row["id"]), name=row["name"], kind=UserKind(row["owner_kind"]),
                owner_id=strawberry.ID(row["owner_id"]))


def _require_admin(info: Info, level: Level) -> Principal:
    principal = context(info).principal
    principal.require(Family.ADMIN, level)
    return principal


def _owner(principal: Principal, account_id: Any) -> Owner:
    """Whose users and groups an operation touches: the account named (within reach), else the acting
    account, else (a partner user acting for none) the partner itself."""
    if account_id is not None:
        if str(account_id) not in principal.account_ids:
            raise account_refused()
        return Owner(ACCOUNT, str(account_id))
    if principal.account_id is not None:
        return Owner(ACCOUNT, principal.account_id)
    if principal.partner_id is not None and principal.is_partner:
        return Owner(PARTNER, principal.partner_id)
    raise account_refused()


@strawberry.type
class AdminQuery:
    @strawberry.field(description="Who the API key belongs to, what it may do and which account it acts for.")
    async def me(self, info: Info) -> Me:
        ctx = context(info)
        principal = ctx.principal
        account = None
        if principal.account_id is not None:
            row = await ctx.gateway.store.account(principal.account_id)
            account = Account(id=strawberry.ID(row["id"]), name=row["name"]) if row else None
        return Me(user_id=strawberry.ID(principal.user_id), kind=UserKind(principal.kind),
                  permissions=sorted(principal.permissions), account=account)

    @strawberry.field(description="The partner, for a partner's users only.")
    async def partner(self, info: Info) -> Partner:
        ctx = context(info)
        principal = ctx.principal
        if not principal.is_partner or principal.partner_id is None:
            raise LedgerQLError(ErrorCode.FORBIDDEN, "Only a partner's users see the partner")
        row = await ctx.gateway.store.partner(principal.partner_id)
        if row is None:
            raise LedgerQLError(ErrorCode.FORBIDDEN, "Only a partner's users see the partner")
        return Partner(id=strawberry.ID(row["id"]), name=row["name"])

    @strawberry.field(description="The accounts within reach: a partner's, or the caller's own.")
    async def accounts(self, info: Info) -> list[Account]:
        ctx = context(info)
        result = []
        for account_id in sorted(ctx.principal.account_ids):
            row = await ctx.gateway.store.account(account_id)
            if row is not None:
                result.append(Account(id=strawberry.ID(row["id"]), name=row["name"]))
        return result


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="A new account under the caller's partner (partner administrators only).")
    async def create_account(self, info: Info, input: AccountInput) -> Account:
        principal = _require_admin(info, Level.WRITE)
        if not principal.is_partner or principal.partner_id is None:
            raise LedgerQLError(ErrorCode.FORBIDDEN, "Only a partner's administrators create accounts")
        account_id = await context(info).gateway.tenancy.create_account(input.name, principal.partner_id)
        return Account(id=strawberry.ID(account_id), name=input.name)

    @strawberry.mutation(description="A user without an API key (e.g. someone who signs in through an app).")
    async def create_user(self, info: Info, input: UserInput) -> User:
        owner = _owner(_require_admin(info, Level.WRITE), input.account_id)
        tenancy = context(info).gateway.tenancy
        await _check_groups(info, owner, input.group_ids)
        user_id = await tenancy.create_user(owner, input.name)
        for group_id in input.group_ids:
            await tenancy.add_membership(user_id, str(group_id))
        return User(id=strawberry.ID(user_id), name=input.name, kind=UserKind(owner.kind),
                    owner_id=strawberry.ID(owner.id))

    @strawberry.mutation(description="A user with an API key, in the `api_user` group. The key is shown once.")
    async def create_api_user(self, info: Info, input: UserInput) -> ApiUserCreated:
        owner = _owner(_require_admin(info, Level.WRITE), input.account_id)
        await _check_groups(info, owner, input.group_ids)
        user_id, key = await context(info).gateway.tenancy.create_api_user(
            owner, input.name, group_ids=[str(g) for g in input.group_ids])
        return ApiUserCreated(user=User(id=strawberry.ID(user_id), name=input.name, kind=UserKind(owner.kind),
                                        owner_id=strawberry.ID(owner.id)), api_key=key)

    @strawberry.mutation(description="Revoke every API key of a user; returns how many were revoked.")
    async def revoke_api_keys(self, info: Info, user_id: strawberry.ID) -> int:
        principal = _require_admin(info, Level.WRITE)
        store = context(info).gateway.store
        await _user_in_reach(info, principal, str(user_id))
        return await store.revoke_keys(str(user_id))

    @strawberry.mutation(description="An access group: permissions (FAMILY:LEVEL) and, optionally, which "
                                     "connections its members may use.")
    async def create_access_group(self, info: Info, input: AccessGroupInput) -> AccessGroup:
        owner = _owner(_require_admin(info, Level.WRITE), input.account_id)
        connection_ids = None if input.connection_ids is None else [str(c) for c in input.connection_ids]
        group = await context(info).gateway.tenancy.create_group(owner, input.name, input.permissions,
                                                                 connection_ids)
        return AccessGroup.of(group)

    @strawberry.mutation
    async def add_membership(self, info: Info, user_id: strawberry.ID, group_id: strawberry.ID) -> User:
        principal = _require_admin(info, Level.WRITE)
        row = await _user_in_reach(info, principal, str(user_id))
        await context(info).gateway.tenancy.add_membership(str(user_id), str(group_id))
        return _user(row)

    @strawberry.mutation
    async def remove_membership(self, info: Info, user_id: strawberry.ID, group_id: strawberry.ID) -> User:
        principal = _require_admin(info, Level.WRITE)
        row = await _user_in_reach(info, principal, str(user_id))
        await context(info).gateway.store.remove_membership(str(user_id), str(group_id))
        return _user(row)

    @strawberry.mutation(description="Register (or re-authorise) a provider company for an account. Its client "
                                     "secret and tokens are encrypted at rest and never shown again.")
    async def register_connection(self, info: Info, input: ConnectionInput) -> ConnectionSummary:
        principal = _require_admin(info, Level.WRITE)
        owner = _owner(principal, input.account_id)
        if owner.kind != ACCOUNT:
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "Name the account the connection belongs to",
                                inputPath=["accountId"])
        if not input.base_url.startswith(("https://", "http://")):
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "baseUrl must be an http(s) URL", inputPath=["baseUrl"])
        if input.id is not None:
            existing = await context(info).gateway.store.connection(str(input.id))
            if existing is None or existing.account_id != owner.id:
                # Ids are global: one of another account must look exactly like one that does not exist.
                raise LedgerQLError(ErrorCode.NOT_FOUND, f"No connection with id {str(input.id)!r}",
                                    inputPath=["id"])
        config = ConnectionConfig(id=str(input.id) if input.id else new_id("con"), provider=input.provider,
                                  name=input.name, base_url=input.base_url, tenant_id=input.tenant_id,
                                  token_url=input.token_url, client_id=input.client_id)
        tokens = Tokens(access_token=input.access_token, refresh_token=input.refresh_token,
                        expires_at=time.time() + input.expires_in if input.expires_in else None,
                        client_secret=input.client_secret)
        await context(info).gateway.add_connection(config, tokens, account_id=owner.id)
        return ConnectionSummary(id=strawberry.ID(config.id), provider=config.provider, name=config.name,
                                 account_id=strawberry.ID(owner.id), state=ConnectionState.ACTIVE)


@strawberry.type(description="A connection as administrators see it: where it belongs and its state.")
class ConnectionSummary:
    id: strawberry.ID
    provider: Provider
    name: str
    account_id: strawberry.ID
    state: ConnectionState


async def _check_groups(info: Info, owner: Owner, group_ids: list[strawberry.ID]) -> None:
    store = context(info).gateway.store
    for group_id in group_ids:
        group = await store.group(str(group_id))
        if group is None or group.owner != owner:
            raise LedgerQLError(ErrorCode.NOT_FOUND, "No such access group here", inputPath=["groupIds"])


async def _user_in_reach(info: Info, principal: Principal, user_id: str) -> dict[str, Any]:
    row = await context(info).gateway.store.user(user_id)
    reachable = row is not None and (
        (row["owner_kind"] == ACCOUNT and row["owner_id"] in principal.account_ids)
        or (row["owner_kind"] == PARTNER and principal.is_partner and row["owner_id"] == principal.partner_id))
    if row is None or not reachable:
        raise LedgerQLError(ErrorCode.NOT_FOUND, "No such user here")
    return row


async def connection_state(info: Info, connection_id: str) -> ConnectionState:
    row = await context(info).gateway.store.connection(connection_id)
    return ConnectionState(row.state) if row else ConnectionState.REAUTH_REQUIRED
