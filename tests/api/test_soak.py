"""The bounded soak (issue 6, "Must show"): 1,000 mixed queries against sandboxes that answer 20 % of
calls with 429, 10 % with 5xx, and with jittered latency.

Every request must be answered (HTTP 200 with JSON); at least 99 % with complete data, equal to what
the same query returns from fault-free sandboxes; the rest with typed errors and the data that could
be had. The governor is on and the load fits the providers' declared limits, so the sandboxes' own
rate limiters must never fire: every 429 seen upstream is an injected one (the emulators count the
two apart).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from typing import Any

from ledgerql.demo import sandbox_connections
from ledgerql.sandbox import SandboxSet
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from tests.harness import SANDBOX_BASE, GatewayHarness

QUERIES = 1000
CONCURRENCY = 16
COMPANIES = 4
SEED = 7
# Injected 429s ask for a one-second pause (a real throttle's Retry-After); QuickBooks and NetSuite
# send no Retry-After at all.
FAULTS = Faults(error429=0.2, error5xx=0.1, latencyMs=6, jitterMs=5, retryAfter=1, seed=11)
SIZES = BookSizes(customers=8, suppliers=8, invoices=24, bills=24, credit_notes=4, purchase_orders=4,
                  expenses=6, journal_entries=4)
PROVIDER_SLUGS = {"QUICKBOOKS": "quickbooks", "XERO": "xero", "EXACT_ONLINE": "exact-online", "NETSUITE": "netsuite"}
# Queries per connection of each provider. Xero and Exact Online allow 60 calls a minute per company
# and the governor counts retries too, so they get what fits in a minute with room for the retries
# that 30 % of failing calls cause.
PER_CONNECTION = {"QUICKBOOKS": 120, "NETSUITE": 100, "XERO": 15, "EXACT_ONLINE": 15}
TYPED = {"UPSTREAM_RATE_LIMITED", "UPSTREAM_UNAVAILABLE"}

INVOICES = """query($c: ID!) { connection(id: $c) { invoices(first: 8) {
  nodes { id number total currency customer { displayName } } pageInfo { hasNextPage } } } }"""
INVOICE = """query($c: ID!, $id: ID!) { connection(id: $c) { invoice(id: $id) {
  number total balance lineItems { totalAmount account { name } taxRate { code } } payments { totalAmount } } } }"""
BILLS = """query($c: ID!) { connection(id: $c) { bills(first: 6) {
  nodes { number total supplier { displayName } payments { totalAmount } } } } }"""
CUSTOMERS = "query($c: ID!) { connection(id: $c) { customers(first: 20) { nodes { displayName email } } } }"
TWO = """query($a: ID!, $b: ID!) { a: connection(id: $a) { customers(first: 5) { nodes { displayName } } }
  b: connection(id: $b) { invoices(first: 3) { nodes { number total } } } }"""


def connection_ids(provider: str) -> list[str]:
    return [f"c{i}-{PROVIDER_SLUGS[provider]}" for i in range(COMPANIES)]


async def add_companies(gw: GatewayHarness) -> None:
    """One connection per provider and company, in the demo account."""
    for index in range(COMPANIES):
        for config, tokens in sandbox_connections(gw.sandboxes, SANDBOX_BASE, tenant_index=index,
                                                  id_prefix=f"c{index}"):
            await gw.demo.gateway.add_connection(config, tokens, account_id="demo")


def plan(invoice_ids: dict[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
    """The mix: per connection, lists, by-id reads with references, reference data, and queries over two
    connections at once; shuffled so that every connection is busy throughout."""
    rng = random.Random(SEED)
    mix: list[tuple[str, dict[str, Any]]] = []
    for provider, count in PER_CONNECTION.items():
        for conn in connection_ids(provider):
            for n in range(count):
                kind = n % 5
                if kind == 0:
                    mix.append((INVOICES, {"c": conn}))
                elif kind == 1:
                    mix.append((INVOICE, {"c": conn, "id": rng.choice(invoice_ids[conn])}))
                elif kind == 2:
                    mix.append((BILLS, {"c": conn}))
                elif kind == 3:
                    mix.append((CUSTOMERS, {"c": conn}))
                else:  # the other half of the pair is on a provider without a tight per-minute limit
                    mix.append((TWO, {"a": conn, "b": rng.choice(connection_ids("NETSUITE"))}))
    rng.shuffle(mix)
    return mix[:QUERIES]


def key(query: str, variables: dict[str, Any]) -> str:
    return query + json.dumps(variables, sort_keys=True)


async def mix_and_answers() -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """The mix, and what each distinct query of it answers from fault-free sandboxes over the same books."""
    answers: dict[str, Any] = {}
    async with GatewayHarness.start(sizes=SIZES, seed=SEED, companies=COMPANIES) as clean:
        await add_companies(clean)
        ids = {}
        for provider in PER_CONNECTION:
            for conn in connection_ids(provider):
                data = await clean.query("query($c: ID!) { connection(id: $c) { invoices(first: 24) { nodes { id } } } }",
                                         {"c": conn})
                ids[conn] = [n["id"] for n in data["connection"]["invoices"]["nodes"]]
        mix = plan(ids)
        for query, variables in mix:
            if key(query, variables) not in answers:
                answers[key(query, variables)] = await clean.query(query, variables)
    return mix, answers


def null_paths(value: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    if value is None:
        return {path}
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in null_paths(v, (*path, k))}
    if isinstance(value, list):
        return {p for i, v in enumerate(value) for p in null_paths(v, (*path, i))}
    return set()


def partial_is_sound(body: dict[str, Any], expected: Any) -> bool:
    """A failed answer: data present, every error typed and placed at a path, every field that is null
    and should not be sits under an error's path, and what did arrive equals the clean answer."""
    data = body.get("data")
    errors = body.get("errors") or []
    if data is None or not errors:
        return False
    if any(e.get("extensions", {}).get("code") not in TYPED or not e.get("path") for e in errors):
        return False
    failed = [tuple(e["path"]) for e in errors]
    missing = null_paths(data) - null_paths(expected)
    # A failed non-null field nulls its nearest nullable parent: the error's path is at or below the null.
    if any(not any(f[:len(m)] == m for f in failed) for m in missing):
        return False
    return bool(_agrees(data, expected))


def _agrees(got: Any, want: Any) -> bool:
    """`got` equals `want` except where `got` is null (a failed field)."""
    if got is None:
        return True
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_agrees(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_agrees(g, w) for g, w in zip(got, want, strict=True))
    return bool(got == want)


async def test_soak_thousand_mixed_queries_with_injected_faults() -> None:
    mix, expected = await mix_and_answers()
    assert len(mix) == QUERIES

    sandboxes = SandboxSet(seed=SEED, sizes=SIZES, companies=COMPANIES, faults=FAULTS, rate_limits=True)
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    refusals = 0
    upstream_calls = 0
    problems: list[str] = []
    async with GatewayHarness.start(sandboxes=sandboxes, rate_limits=True, cache=True) as gw:
        await add_companies(gw)
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        for item in mix:
            queue.put_nowait(item)

        async def worker() -> None:
            nonlocal upstream_calls, refusals
            while not queue.empty():
                query, variables = queue.get_nowait()
                started = time.perf_counter()
                response = await gw.post(query, variables)
                latencies.append(time.perf_counter() - started)
                try:
                    body = response.json()
                except ValueError:
                    outcomes["not json"] += 1
                    problems.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                if response.status_code != 200:
                    outcomes[f"HTTP {response.status_code}"] += 1
                    problems.append(json.dumps(body)[:300])
                    continue
                upstream_calls += body.get("extensions", {}).get("upstreamCalls", 0)
                want = expected[key(query, variables)]
                codes.update(e.get("extensions", {}).get("code", "?") for e in body.get("errors") or [])
                # A refusal by our own governor carries no upstream status: the provider never saw the call.
                refusals += sum(1 for e in body.get("errors") or []
                                if e.get("extensions", {}).get("code") == "UPSTREAM_RATE_LIMITED"
                                and "upstreamStatus" not in e["extensions"])
                if not body.get("errors") and body.get("data") == want:
                    outcomes["complete"] += 1
                elif partial_is_sound(body, want):
                    outcomes["partial"] += 1
                else:
                    outcomes["wrong"] += 1
                    problems.append(json.dumps(body)[:400])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started

        upstream = {p: (emu.counter.total, dict(emu.injected), emu.limiter.rejected, dict(emu.limiter.rejected_by))
                    for p, emu in sandboxes.emulators.items()}
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99)]
    injected_429 = sum(injected.get("429", 0) for _, injected, _, _ in upstream.values())
    injected_5xx = sum(injected.get("5xx", 0) for _, injected, _, _ in upstream.values())
    served = sum(total for total, _, _, _ in upstream.values())
    limiter_429 = {p: by for p, (_, _, rejected, by) in upstream.items() if rejected}
    summary = (f"soak: {QUERIES} queries in {elapsed:.1f} s at concurrency {CONCURRENCY}; outcomes {dict(outcomes)}; "
               f"error codes {dict(codes)} ({refusals} refusals by the governor); latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; "
               f"{upstream_calls} upstream calls reported, {served} requests reached the sandboxes, of which "
               f"{injected_429} injected 429s and {injected_5xx} injected 5xx; sandbox rate limiters fired: "
               f"{limiter_429 or 'never'}")
    print("\n" + summary)

    answered = outcomes["complete"] + outcomes["partial"] + outcomes["wrong"]
    assert answered == QUERIES, f"every request answered with HTTP 200 and JSON — {summary}; e.g. {problems[:3]}"
    assert outcomes["wrong"] == 0, f"a failed answer is typed and keeps the rest — {summary}; e.g. {problems[:3]}"
    assert outcomes["complete"] >= 0.99 * QUERIES, f"at least 99 % complete — {summary}"
    assert not limiter_429, f"no upstream 429 for exceeding a declared limit — {summary}"
    assert injected_429 >= 0.15 * served and injected_5xx >= 0.07 * served, f"the faults were really injected — {summary}"
    assert elapsed < 60, f"bounded in time — {summary}"
