"""The operator's configuration file (`ledgerql serve --config FILE`): partners, accounts, their access
groups, API users and connections, applied to the store at start-up.

YAML (or JSON). Any string may name an environment variable as `${NAME}`, so keys, client secrets and
tokens stay out of the file. Applying is idempotent and never destructive: what exists is left as it
is. In particular a connection already in the store keeps its tokens, which may have been rotated
since the file was written; register it again through the admin API to replace them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ledgerql.connectors.base import ConnectionConfig
from ledgerql.connectors.http import Tokens
from ledgerql.store.tenancy import ACCOUNT, PARTNER, Owner
from ledgerql.tenancy.service import Tenancy

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupConfig(_Strict):
    name: str
    permissions: list[str]
    connections: list[str] | None = None  # None: every connection of the account


class ApiUserConfig(_Strict):
    id: str
    name: str | None = None
    key: str = Field(description="The API key; write it as ${VARIABLE}.", repr=False)
    groups: list[str] = Field(default_factory=list)


class ConnectionFileConfig(ConnectionConfig):
    """A connection as `ConnectionConfig` says, with the secrets the vault seals on registration."""

    client_secret: str | None = Field(default=None, repr=False)
    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(default=None, repr=False)


class PartnerConfig(_Strict):
    id: str
    name: str
    groups: list[GroupConfig] = Field(default_factory=list)
    api_users: list[ApiUserConfig] = Field(default_factory=list)


class AccountConfig(_Strict):
    id: str
    name: str
    partner: str | None = None
    groups: list[GroupConfig] = Field(default_factory=list)
    api_users: list[ApiUserConfig] = Field(default_factory=list)
    connections: list[ConnectionFileConfig] = Field(default_factory=list)


class GatewayConfig(_Strict):
    partners: list[PartnerConfig] = Field(default_factory=list)
    accounts: list[AccountConfig] = Field(default_factory=list)


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> GatewayConfig:
    """Read and validate the file; `${NAME}` is replaced by the environment variable NAME (which must be set)."""
    env = dict(os.environ if environ is None else environ)
    data = yaml.safe_load(Path(path).read_text()) or {}
    return GatewayConfig.model_validate(_expand(data, env))


def _expand(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ValueError(f"the configuration names ${{{name}}}, which is not set in the environment")
            return env[name]
        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


async def apply_config(config: GatewayConfig, tenancy: Tenancy, add_connection: Any) -> None:
    """Create what the file declares and the store lacks. `add_connection(config, tokens, account_id=...)`
    registers a connection (the gateway's, so that it is also ready to use in this process)."""
    store = tenancy.store
    for partner in config.partners:
        if await store.partner(partner.id) is None:
            await tenancy.create_partner(partner.name, partner.id)
        await _members(tenancy, Owner(PARTNER, partner.id), partner.groups, partner.api_users)
    for account in config.accounts:
        if await store.account(account.id) is None:
            await tenancy.create_account(account.name, account.partner, account.id)
        for connection in account.connections:
            if await store.connection(connection.id) is None:
                await add_connection(
                    ConnectionConfig.model_validate(connection.model_dump(include=set(ConnectionConfig.model_fields))),
                    Tokens(access_token=connection.access_token, refresh_token=connection.refresh_token,
                           client_secret=connection.client_secret),
                    account_id=account.id)
        await _members(tenancy, Owner(ACCOUNT, account.id), account.groups, account.api_users)


async def _members(tenancy: Tenancy, owner: Owner, groups: list[GroupConfig], users: list[ApiUserConfig]) -> None:
    store = tenancy.store
    for group in groups:
        if await store.group_named(owner, group.name) is None:
            await tenancy.create_group(owner, group.name, group.permissions, group.connections)
    for user in users:
        group_ids = []
        for name in user.groups:
            found = await store.group_named(owner, name)
            if found is None:
                raise ValueError(f"API user {user.id!r} names the group {name!r}, which is not declared")
            group_ids.append(found.id)
        if await store.user(user.id) is None:
            await tenancy.create_api_user(owner, user.name or user.id, group_ids=group_ids, user_id=user.id,
                                          key=user.key)
        else:
            await tenancy.add_key(user.id, user.key)
            for group_id in group_ids:
                await tenancy.add_membership(user.id, group_id)
