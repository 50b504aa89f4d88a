"""Throttling, failures and the shared cache, through GraphQL over HTTP against the sandboxes' faults."""

from __future__ import annotations

import asyncio

from ledgerql.demo import sandbox_connections
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from tests.harness import GatewayHarness, connection_id

CUSTOMERS = "query($c: ID!) { connection(id: $c) { customers(first: 10) { nodes { displayName } } } }"


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_breaker_opens_on_a_failing_provider_and_closes_when_it_recovers() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        conn = connection_id("XERO")
        client = gw.demo.gateway.connector(conn).http
        client.breaker.cooldown = 0.3
        client.retry_policy.base_delay = 0.001
        emulator = gw.sandboxes.emulators["XERO"]
        emulator.faults.set(Faults(error5xx=1.0))
        # The breaker counts requests given up on (after their retries), not attempts.
        for _ in range(client.breaker.threshold):
            assert client.breaker.state == "CLOSED"
            assert codes(await gw.execute(CUSTOMERS, {"c": conn})) == ["UPSTREAM_UNAVAILABLE"]
        assert client.breaker.state == "OPEN"
        gw.reset_counts()
        body = await gw.execute(CUSTOMERS, {"c": conn})
        assert codes(body) == ["UPSTREAM_UNAVAILABLE"] and gw.upstream_calls("XERO") == 0, "open: no call at all"

        emulator.faults.set(Faults())
        await asyncio.sleep(0.35)
        data = await gw.query(CUSTOMERS, {"c": conn})
        assert len(data["connection"]["customers"]["nodes"]) == 4
        assert client.breaker.state == "CLOSED"


async def test_transient_failures_are_retried_on_reads() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        conn = connection_id("QUICKBOOKS")
        gw.demo.gateway.connector(conn).http.retry_policy.base_delay = 0.001
        gw.sandboxes.emulators["QUICKBOOKS"].faults.set(Faults(error5xx=0.4, seed=3))
        answered = 0
        for _ in range(20):
            body = await gw.execute(CUSTOMERS, {"c": conn})
            answered += not body.get("errors")
        assert answered >= 18, "with 40 % 5xx and three attempts, nearly every read is answered"


async def test_one_connection_down_leaves_the_others_answer_standing() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        gw.sandboxes.emulators["NETSUITE"].faults.set(Faults(error5xx=1.0))
        gw.demo.gateway.connector(connection_id("NETSUITE")).http.retry_policy.base_delay = 0.001
        body = await gw.execute(
            """query($a: ID!, $b: ID!) { up: connection(id: $a) { customers(first: 3) { nodes { displayName } } }
                 down: connection(id: $b) { customers(first: 3) { nodes { displayName } } } }""",
            {"a": connection_id("XERO"), "b": connection_id("NETSUITE")})
        assert len(body["data"]["up"]["customers"]["nodes"]) == 3
        assert body["data"]["down"] == {"customers": None}
        assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
        assert body["errors"][0]["path"] == ["down", "customers"]


async def test_a_long_retry_after_answers_rate_limited_with_retry_after() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        gw.sandboxes.emulators["XERO"].faults.set(Faults(error429=1.0))
        body = await gw.execute(CUSTOMERS, {"c": connection_id("XERO")})
        assert codes(body) == ["UPSTREAM_RATE_LIMITED"]
        assert body["errors"][0]["extensions"]["retryAfter"] >= 1


async def test_governor_keeps_within_the_declared_limit() -> None:
    """Xero allows 60 calls a minute: the 61st is refused by the gateway, never by Xero."""
    async with GatewayHarness.start(sizes=BookSizes.tiny(), rate_limits=True) as gw:
        conn = connection_id("XERO")
        emulator = gw.sandboxes.emulators["XERO"]
        refused = 0
        for _ in range(70):
            body = await gw.execute(CUSTOMERS, {"c": conn})
            if body.get("errors"):
                assert codes(body) == ["UPSTREAM_RATE_LIMITED"]
                refused += 1
        assert emulator.limiter.rejected == 0, "no upstream 429 for exceeding a declared limit"
        assert emulator.counter.by_kind["GET Contacts"] == 60
        assert refused == 10


async def test_cache_serves_reference_data_per_connection_only() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny(), companies=2, cache=True) as gw:
        gateway = gw.demo.gateway
        for config, tokens in sandbox_connections(gw.sandboxes, "http://sandbox.test", tenant_index=1,
                                                  id_prefix="second"):
            await gateway.add_connection(config, tokens, account_id="demo")

        first = await gw.execute(CUSTOMERS, {"c": "demo-xero"})
        assert first["extensions"]["upstreamCalls"] >= 1
        again = await gw.execute(CUSTOMERS, {"c": "demo-xero"})
        assert again["extensions"]["upstreamCalls"] == 0 and again["extensions"]["cacheHits"] >= 1
        assert again["data"] == first["data"]

        other = await gw.execute(CUSTOMERS, {"c": "second-xero"})
        assert other["extensions"]["upstreamCalls"] >= 1 and other["extensions"]["cacheHits"] == 0

        fresh = await gw.client.post("/graphql", json={"query": CUSTOMERS, "variables": {"c": "demo-xero"}},
                                     headers={"Cache-Control": "no-cache"})
        assert fresh.json()["extensions"]["upstreamCalls"] >= 1
