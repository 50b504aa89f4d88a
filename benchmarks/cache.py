"""Cache hit rates and upstream calls saved for a repeated query mix, per provider.

The same mix of queries (documents with their references to reference data, and reference lists)
runs `--rounds` times with the shared cache off, then on; the difference in upstream calls is what
the cache saved.

    python benchmarks/cache.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import PROVIDERS, GatewayHarness, connection_id

MIX = [
    "query($c: ID!) { connection(id: $c) { invoices(first: 20) { nodes { number customer { displayName } "
    "lineItems { account { name } taxRate { rate } } } } } }",
    "query($c: ID!) { connection(id: $c) { bills(first: 20) { nodes { number supplier { displayName } "
    "lineItems { account { nominalCode } } } } } }",
    "query($c: ID!) { connection(id: $c) { customers(first: 50) { nodes { displayName } } "
    "taxRates { nodes { code rate } } } }",
    "query($c: ID!) { connection(id: $c) { ledgerAccounts(first: 100) { nodes { nominalCode name } } } }",
]


async def run_mix(provider: str, rounds: int, cache: bool) -> tuple[int, float]:
    """Upstream calls for the whole mix, and the share of cache lookups that hit."""
    calls = 0
    async with GatewayHarness.start(cache=cache) as gw:
        for _ in range(rounds):
            for query in MIX:
                body = await gw.execute(query, {"c": connection_id(provider)})
                assert not body.get("errors"), body["errors"]
                calls += body["extensions"]["upstreamCalls"]
        stats = gw.demo.gateway.cache.stats if gw.demo.gateway.cache else None
        rate = stats.hits / (stats.hits + stats.misses) if stats and stats.hits + stats.misses else 0.0
    return calls, rate


async def main(rounds: int) -> None:
    print(f"query mix of {len(MIX)} queries x {rounds} rounds")
    print(f"{'provider':<14}{'calls, no cache':>17}{'calls, cache':>14}{'saved':>8}{'hit rate':>10}")
    for provider in PROVIDERS:
        cold, _ = await run_mix(provider, rounds, cache=False)
        warm, rate = await run_mix(provider, rounds, cache=True)
        print(f"{provider:<14}{cold:>17}{warm:>14}{cold - warm:>8}{rate:>10.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
