"""Upstream calls and time for the 50-bill query on each provider: the gateway against the naive way.

The gateway answers one GraphQL query (50 bills with supplier, every line's account and tax rate, and
the bills' payments) with batched upstream calls. The naive way is what a REST client writes by hand:
fetch the bills, then each supplier, each line's account and tax rate one call at a time, then all
bill payments, matched by hand. Both run against the same in-process sandboxes with the same injected
latency, so the calls (a stable figure) and the time (a noisy one) can be compared in one run. Every run
starts cold: the gateway in a fresh harness, the naive client with a connector of its own, so neither
profits from what a connector kept from the other (Exact Online's connector keeps reference data).

    python benchmarks/run.py [--latency-ms 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import PROVIDERS, GatewayHarness, connection_id

from ledgerql.connectors import connector_class
from ledgerql.connectors.base import Connector, ListFilter
from ledgerql.model.enums import Resource
from ledgerql.sandbox.common import Faults

QUERY = """query($c: ID!) { connection(id: $c) { bills(first: 50) { nodes {
  number total supplier { displayName }
  lineItems { account { name } taxRate { rate } }
  payments { reference totalAmount }
} } } }"""


async def gateway_way(gw: GatewayHarness, provider: str) -> tuple[int, float]:
    gw.reset_counts()
    started = time.perf_counter()
    body = await gw.execute(QUERY, {"c": connection_id(provider)})
    elapsed = time.perf_counter() - started
    assert not body.get("errors"), body["errors"]
    return gw.upstream_calls(provider), elapsed


def fresh_connector(gw: GatewayHarness, provider: str) -> Connector:
    """A connector of the naive client's own, to the same sandbox (nothing kept from the gateway's runs)."""
    gateway = gw.demo.gateway
    config = gateway.connections[connection_id(provider)]
    return connector_class(config.provider).build(config, gateway.tokens, gateway.transport, rate_limits=False)


async def naive_way(gw: GatewayHarness, provider: str) -> tuple[int, float]:
    """One call per reference, as a hand-written REST client makes them (a fresh connector: no reuse)."""
    connector = fresh_connector(gw, provider)
    gw.reset_counts()
    started = time.perf_counter()
    page = await connector.list_page(Resource.BILLS, ListFilter(), None, 50)
    bills = page.records[:50]
    for bill in bills:
        await connector.get_many(Resource.SUPPLIERS, [bill.supplier_id])  # type: ignore[attr-defined]
        for line in bill.line_items:  # type: ignore[attr-defined]
            await connector.get_many(Resource.LEDGER_ACCOUNTS, [line.account_id])
            await connector.get_many(Resource.TAX_RATES, [line.tax_rate_id])
    payments = await connector.list_all(Resource.BILL_PAYMENTS)
    wanted = {b.id for b in bills}
    _ = [p for p in payments if any(a.document_id in wanted for a in p.allocations)]  # type: ignore[attr-defined]
    result = gw.upstream_calls(provider), time.perf_counter() - started
    await connector.aclose()
    return result


async def cold_runs(provider: str, latency_ms: float) -> tuple[tuple[int, float], tuple[int, float]]:
    """One gateway run and one naive run, each cold, against the same freshly seeded sandboxes."""
    async with GatewayHarness.start(faults=Faults(latencyMs=latency_ms)) as gw:
        return await gateway_way(gw, provider), await naive_way(gw, provider)


async def main(latency_ms: float, repeat: int) -> None:
    print(f"50 bills with supplier, lines' account and tax rate, and payments; sandbox latency {latency_ms} ms")
    columns = ("gateway calls", 14), ("gateway ms", 12), ("naive calls", 13), ("naive ms", 11), ("calls saved", 13)
    print(f"{'provider':<14}" + "".join(f"{name:>{width}}" for name, width in columns))
    for provider in PROVIDERS:
        pairs = [await cold_runs(provider, latency_ms) for _ in range(repeat)]
        runs, naive = [p[0] for p in pairs], [p[1] for p in pairs]
        if len({r[0] for r in runs}) != 1 or len({n[0] for n in naive}) != 1:
            raise SystemExit(f"{provider}: cold call counts differ between runs: {runs} {naive}")
        g_calls, n_calls = runs[0][0], naive[0][0]
        g_ms = statistics.median(r[1] for r in runs) * 1000
        n_ms = statistics.median(r[1] for r in naive) * 1000
        print(f"{provider:<14}{g_calls:>14}{g_ms:>12.0f}{n_calls:>13}{n_ms:>11.0f}{n_calls - g_calls:>13}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.latency_ms, args.repeat))
