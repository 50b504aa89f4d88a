"""The gateway's HTTP surface: auth, typed errors, tracking ids, health and metrics."""

from __future__ import annotations

import pytest

from ledgerql.sandbox.books import BookSizes
from tests.harness import PROVIDERS, GatewayHarness, connection_id


@pytest.fixture
async def gw():
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as harness:
        yield harness


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_no_key_is_unauthenticated(gw: GatewayHarness) -> None:
    response = await gw.client.post("/graphql", json={"query": "{ connections { id } }"},
                                    headers={"Authorization": ""})
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    response = await gw.post("{ connections { id } }", headers={"Authorization": "Bearer wrong"})
    assert codes(response.json()) == ["UNAUTHENTICATED"]


async def test_connections_and_tracking_id(gw: GatewayHarness) -> None:
    response = await gw.post("{ connections { id provider name } }", headers={"X-Tracking-Id": "abc-123"})
    body = response.json()
    assert response.headers["x-tracking-id"] == "abc-123"
    assert body["extensions"]["trackingId"] == "abc-123"
    assert body["extensions"]["upstreamCalls"] == 0
    assert sorted(c["provider"] for c in body["data"]["connections"]) == sorted(PROVIDERS)


async def test_unknown_connection_is_not_found(gw: GatewayHarness) -> None:
    body = await gw.execute('{ connection(id: "nope") { id } }')
    assert body["data"] == {"connection": None}
    assert codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["path"] == ["connection"]


@pytest.mark.parametrize("first", [0, 101, -5])
async def test_first_out_of_range_is_bad_user_input(gw: GatewayHarness, first: int) -> None:
    query = "query($c: ID!, $n: Int!) { connection(id: $c) { invoices(first: $n) { nodes { id } } } }"
    body = await gw.execute(query, {"c": connection_id("XERO"), "n": first})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["data"]["connection"]["invoices"] is None
    assert body["extensions"]["upstreamCalls"] == 0


async def test_bad_cursor_and_bad_filter_values(gw: GatewayHarness) -> None:
    conn = connection_id("QUICKBOOKS")
    body = await gw.execute('query($c: ID!) { connection(id: $c) { bills(after: "garbage") { nodes { id } } } }',
                            {"c": conn})
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await gw.execute('query($c: ID!) { connection(id: $c) { bills(filter: {updatedSince: "yesterday"}) '
                            '{ nodes { id } } } }', {"c": conn})
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await gw.execute('query($c: ID!, $f: BillFilter) { connection(id: $c) { bills(filter: $f) '
                            '{ nodes { id } } } }', {"c": conn, "f": {"dateFrom": "2025-13-45"}})
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await gw.execute('query($c: ID!) { connection(id: $c) { bills(filter: {dateFrom: "2025-06-01", '
                            'dateTo: "2025-01-01"}) { nodes { id } } } }', {"c": conn})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_cursor_of_another_connection_is_refused(gw: GatewayHarness) -> None:
    query = "query($c: ID!, $a: String) { connection(id: $c) { customers(first: 2, after: $a) { pageInfo { endCursor } } } }"
    first = await gw.query(query, {"c": connection_id("XERO")})
    cursor = first["connection"]["customers"]["pageInfo"]["endCursor"]
    body = await gw.execute(query, {"c": connection_id("NETSUITE"), "a": cursor})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_unknown_field_and_syntax_errors_are_typed(gw: GatewayHarness) -> None:
    assert codes(await gw.execute("{ connections { nope } }")) == ["GRAPHQL_VALIDATION_FAILED"]
    response = await gw.post("{ connections { id ")
    assert codes(response.json()) == ["GRAPHQL_PARSE_FAILED"]


async def test_health_and_metrics(gw: GatewayHarness) -> None:
    assert (await gw.client.get("/healthz")).json()["status"] == "ok"
    await gw.query("{ connections { id } }")
    metrics = (await gw.client.get("/metrics")).text
    assert "ledgerql_graphql_requests_total 1" in metrics


async def test_graphiql_carries_the_demo_key(gw: GatewayHarness) -> None:
    response = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "Bearer test-key" in response.text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_raw_records_come_back_with_exact_numbers(provider: str) -> None:
    """`raw` is the provider's record as sent: its numbers stay the exact numbers it wrote (Xero's raw
    amounts are Decimals inside; they once crashed the response encoder)."""
    import json
    from decimal import Decimal

    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        response = await gw.post('query($c: ID!) { connection(id: $c) { invoices(first: 3) { nodes { total raw } } } }',
                                 {"c": connection_id(provider)})
        assert response.status_code == 200, response.text[:300]
        body = json.loads(response.text, parse_float=Decimal)
        assert not body.get("errors"), body.get("errors")
        nodes = body["data"]["connection"]["invoices"]["nodes"]
        assert nodes and all(isinstance(n["raw"], dict) and n["raw"] for n in nodes)
        if provider == "XERO":
            assert [Decimal(str(n["raw"]["Total"])) for n in nodes] == [Decimal(n["total"]) for n in nodes]
