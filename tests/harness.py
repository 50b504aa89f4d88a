"""Run the gateway in-process against in-process sandboxes, and talk GraphQL to it over HTTP.

    async with GatewayHarness.start() as gw:
        data = await gw.query("{ connections { id provider } }")
        gw.upstream_calls("XERO")   # requests the Xero emulator served since the last reset
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ledgerql.app import create_app
from ledgerql.connectors.cache import RecordCache
from ledgerql.demo import DEMO_CONNECTION_IDS, Demo, build_demo
from ledgerql.model.enums import Provider
from ledgerql.sandbox import SandboxSet
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults

SANDBOX_BASE = "http://sandbox.test"
CONNECTIONS = {p.value: cid for p, cid in DEMO_CONNECTION_IDS.items()}
PROVIDERS = list(CONNECTIONS)


class GraphQLFailure(AssertionError):
    pass


@dataclass
class GatewayHarness:
    client: httpx.AsyncClient
    demo: Demo

    @property
    def sandboxes(self) -> SandboxSet:
        return self.demo.sandboxes

    @classmethod
    @asynccontextmanager
    async def start(cls, *, sizes: BookSizes | None = None, seed: int = 7, companies: int = 1,
                    faults: Faults | None = None, rate_limits: bool = False, cache: bool = False,
                    sandboxes: SandboxSet | None = None, record_cache: RecordCache | None = None,
                    ) -> AsyncIterator[GatewayHarness]:
        """Sandboxes and gateway in-process. Rate limits and the shared cache are off unless asked for,
        so that upstream call counts speak of one request alone."""
        sandboxes = sandboxes or SandboxSet(seed=seed, sizes=sizes, companies=companies, faults=faults or Faults(),
                                            rate_limits=rate_limits)
        demo = await build_demo(sandboxes, base_url=SANDBOX_BASE, secret_key=b"test-secret", api_key="test-key",
                                rate_limits=rate_limits)
        if record_cache is not None:
            demo.gateway.cache = record_cache
        elif not cache:
            demo.gateway.cache = None
        app = create_app(demo.gateway, demo_key=demo.api_key)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test",
                                     headers={"Authorization": "Bearer test-key"}) as client:
            try:
                yield cls(client=client, demo=demo)
            finally:
                await demo.gateway.aclose()

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=headers or {})

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body (data, errors, extensions)."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data`, failing the test on any error."""
        body = await self.execute(query, variables)
        if body.get("errors"):
            raise GraphQLFailure(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def upstream_calls(self, provider: str) -> int:
        return self.sandboxes.emulators[provider].counter.total

    def reset_counts(self) -> None:
        self.sandboxes.reset_counts()


def connection_id(provider: str | Provider) -> str:
    return CONNECTIONS[str(provider.value if isinstance(provider, Provider) else provider)]
