"""Two gateway processes sharing one Redis cache: a record cached by one is not fetched again by the
other, and a write through either is visible on the next read of both.

Runs against the machine's real Redis when LEDGERQL_TEST_REDIS_URL is set (CI sets it) and FAILS if the
server cannot be reached; skipped only where no URL is configured.
"""

from __future__ import annotations

import uuid

from ledgerql.connectors.cache import RecordCache
from ledgerql.sandbox import SandboxSet
from ledgerql.sandbox.books import BookSizes
from tests.harness import GatewayHarness, connection_id

CUSTOMERS = "query($c: ID!) { connection(id: $c) { customers(first: 50) { nodes { displayName } } } }"


async def test_two_gateways_share_the_cache_and_its_invalidation(redis_url: str) -> None:
    namespace = f"ledgerql-test-{uuid.uuid4().hex[:8]}"
    sandboxes = SandboxSet(sizes=BookSizes.tiny(), rate_limits=False)
    conn = connection_id("XERO")
    async with GatewayHarness.start(sandboxes=sandboxes, record_cache=RecordCache.redis(redis_url, namespace)) as a, \
            GatewayHarness.start(sandboxes=sandboxes, record_cache=RecordCache.redis(redis_url, namespace)) as b:
        first = await a.execute(CUSTOMERS, {"c": conn})
        assert first["extensions"]["upstreamCalls"] >= 1
        second = await b.execute(CUSTOMERS, {"c": conn})
        assert second["extensions"]["upstreamCalls"] == 0 and second["extensions"]["cacheHits"] >= 1
        assert second["data"] == first["data"]

        created = await a.execute('mutation($c: ID!) { createCustomer(connectionId: $c, input: {displayName: '
                                  '"Shared Cache Ltd", currency: "GBP"}) { customer { id } } }', {"c": conn})
        assert not created.get("errors"), created["errors"]
        after = await b.execute(CUSTOMERS, {"c": conn})
        assert after["extensions"]["upstreamCalls"] >= 1
        assert "Shared Cache Ltd" in {c["displayName"] for c in after["data"]["connection"]["customers"]["nodes"]}
