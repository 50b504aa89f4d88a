"""The demo setup `ledgerql serve` runs with no configuration: the four sandboxes in-process and a
demo account with one connection per provider."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from ledgerql.connectors.base import ConnectionConfig
from ledgerql.connectors.http import Tokens
from ledgerql.gateway import Gateway
from ledgerql.model.enums import Provider
from ledgerql.sandbox import PREFIXES, SandboxSet
from ledgerql.store.database import Database, SQLiteDatabase
from ledgerql.store.tenancy import ACCOUNT, Owner
from ledgerql.tenancy.locks import LocalLocks, Locks
from ledgerql.tenancy.permissions import EVERYTHING

DEMO_KEY_ENV = "LEDGERQL_DEMO_API_KEY"
TENANT_KEYS = {"QUICKBOOKS": "realmId", "XERO": "tenantId", "EXACT_ONLINE": "division", "NETSUITE": "accountId"}
DEMO_CONNECTION_IDS = {
    Provider.QUICKBOOKS: "demo-quickbooks",
    Provider.XERO: "demo-xero",
    Provider.EXACT_ONLINE: "demo-exact-online",
    Provider.NETSUITE: "demo-netsuite",
}


@dataclass
class Demo:
    gateway: Gateway
    sandboxes: SandboxSet
    api_key: str


def sandbox_connections(sandboxes: SandboxSet, base_url: str, *, tenant_index: int = 0,
                        id_prefix: str = "demo") -> list[tuple[ConnectionConfig, Tokens]]:
    """One connection per provider to the sandbox company `tenant_index`."""
    result = []
    for provider_name, emulator in sandboxes.emulators.items():
        described = emulator.describe(base_url.rstrip("/") + PREFIXES[provider_name])
        provider = Provider(provider_name)
        tenant_id = emulator.tenant_id_for(tenant_index)
        grant = emulator.grants[tenant_id]
        config = ConnectionConfig(
            id=f"{id_prefix}-{provider.value.lower().replace('_', '-')}",
            provider=provider, name=f"{provider_name.replace('_', ' ').title()} sandbox #{tenant_index}",
            base_url=_for_tenant(str(described["baseUrl"]), described, tenant_id), tenant_id=tenant_id,
            token_url=_for_tenant(str(described["tokenUrl"]), described, tenant_id), client_id=described["clientId"])
        tokens = Tokens(access_token=grant.access_token, refresh_token=grant.refresh_token,
                        client_secret=described["clientSecret"])
        result.append((config, tokens))
    return result


def _mounted(sandboxes: SandboxSet, base_url: str) -> Any:
    """The sandboxes' app, under the path `base_url` gives them (e.g. `/sandbox` when `serve` mounts them)."""
    path = urlparse(base_url).path.rstrip("/")
    return Starlette(routes=[Mount(path, app=sandboxes.app())]) if path else sandboxes.app()


def _for_tenant(url: str, described: dict[str, object], tenant_id: str) -> str:
    """`describe()` speaks of the first company; NetSuite carries its account in the URL (the real API:
    in the hostname), so another company's URLs name its own account."""
    first = str(described.get("accountId", ""))
    return url.replace(first.lower(), tenant_id.lower()) if first and first != tenant_id else url


DEMO_PARTNER_ID = "demo-partner"
DEMO_ACCOUNT_ID = "demo"
DEMO_USER_ID = "demo-api-user"


async def build_demo(sandboxes: SandboxSet, *, base_url: str, secret_key: bytes, api_key: str | None = None,
                     in_process: bool = True, rate_limits: bool = True, database: Database | None = None,
                     locks: Locks | None = None) -> Demo:
    """A gateway with a demo partner, its demo account holding one connection per provider (talking to
    `sandboxes` in-process, no sockets, when `in_process`, else over HTTP at `base_url`), and the demo
    account's API user, which may read, write and administer that account."""
    transport = httpx.ASGITransport(app=_mounted(sandboxes, base_url)) if in_process else None
    gateway = Gateway(secret_key=secret_key, transport=transport, rate_limits=rate_limits,
                      database=database or SQLiteDatabase(":memory:"), locks=locks or LocalLocks())
    key = demo_key(api_key)
    await setup_demo(gateway, sandboxes, base_url=base_url, api_key=key)
    return Demo(gateway=gateway, sandboxes=sandboxes, api_key=key)


def demo_key(api_key: str | None = None) -> str:
    return api_key or os.environ.get(DEMO_KEY_ENV) or f"lq_demo_{secrets.token_urlsafe(18)}"


async def setup_demo(gateway: Gateway, sandboxes: SandboxSet, *, base_url: str, api_key: str,
                     only_if_absent: bool = False) -> None:
    """The demo partner, account, API user and connections, in the gateway's store. The connections are
    registered again (the sandboxes just started with their start-up tokens) unless `only_if_absent` and
    the demo account exists: a worker joining others must not reset tokens they may have refreshed."""
    await gateway.start()
    async with gateway.locks.hold("setup-demo"):  # several worker processes may start at once
        if only_if_absent and await gateway.store.account(DEMO_ACCOUNT_ID) is not None:
            await gateway.tenancy.add_key(DEMO_USER_ID, api_key)
            return
        await _demo_records(gateway, sandboxes, base_url, api_key)


async def _demo_records(gateway: Gateway, sandboxes: SandboxSet, base_url: str, api_key: str) -> None:
    tenancy = gateway.tenancy
    if await gateway.store.account(DEMO_ACCOUNT_ID) is None:
        await tenancy.create_partner("Demo partner", DEMO_PARTNER_ID)
        await tenancy.create_account("Demo company", DEMO_PARTNER_ID, DEMO_ACCOUNT_ID)
        admins = await tenancy.create_group(Owner(ACCOUNT, DEMO_ACCOUNT_ID), "admins", EVERYTHING)
        await tenancy.create_api_user(Owner(ACCOUNT, DEMO_ACCOUNT_ID), "Demo API user", group_ids=[admins.id],
                                      user_id=DEMO_USER_ID, key=api_key)
    else:  # a durable store from an earlier run: the demo account exists; make sure this key works
        await tenancy.add_key(DEMO_USER_ID, api_key)
    for config, tokens in sandbox_connections(sandboxes, base_url):
        await gateway.add_connection(config, tokens, account_id=DEMO_ACCOUNT_ID)
