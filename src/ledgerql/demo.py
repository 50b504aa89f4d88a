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
from ledgerql.gateway import Gateway, Principal
from ledgerql.model.enums import Provider
from ledgerql.sandbox import PREFIXES, SandboxSet

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


async def build_demo(sandboxes: SandboxSet, *, base_url: str, secret_key: bytes, api_key: str | None = None,
                     in_process: bool = True, rate_limits: bool = True) -> Demo:
    """A gateway whose demo account holds one connection per provider, talking to `sandboxes`
    in-process (no sockets) when `in_process`, else over HTTP at `base_url`."""
    transport = httpx.ASGITransport(app=_mounted(sandboxes, base_url)) if in_process else None
    gateway = Gateway(secret_key=secret_key, transport=transport, rate_limits=rate_limits)
    for config, tokens in sandbox_connections(sandboxes, base_url):
        await gateway.add_connection(config, tokens)
    key = api_key or os.environ.get(DEMO_KEY_ENV) or f"lq_demo_{secrets.token_urlsafe(18)}"
    gateway.add_api_key(key, Principal(user_id="demo-api-user", account_ids=frozenset({"demo"}),
                                       connection_ids=frozenset(gateway.connections)))
    return Demo(gateway=gateway, sandboxes=sandboxes, api_key=key)
