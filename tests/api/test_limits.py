"""Limits before execution: the cost of a query in expected upstream calls (reported on every
response, an upper bound of what it really costs, refused over the limit with no call at all), and
the depth, alias and token limiters, all answering QUERY_TOO_COMPLEX."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerql.model.enums import Operation, Provider
from ledgerql.sandbox import SandboxSet
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from ledgerql.schema import build_schema
from ledgerql.schema.connection import RESOURCE_FIELDS
from ledgerql.schema.cost import DEFAULT_MAX_COST, MAX_COST_ENV, CallProfile, _camel, max_cost_from_env
from tests.api.test_one_ledger_four_dialects import BILLS_50
from tests.api.test_writes import CREATE_BILL, bill_input, refs
from tests.harness import PROVIDERS, GatewayHarness, connection_id

LINE = "lineItems { description account { name } taxRate { rate } trackingCategories { name } }"

# Real queries, each costed and then run on a cold gateway (connector memories empty).
REAL_QUERIES: dict[str, str] = {
    "fifty bills with references": BILLS_50,
    "invoices with everything": f"""query($c: ID!) {{ connection(id: $c) {{ invoices(first: 100) {{ nodes {{
        number status balance customer {{ displayName }} {LINE}
        payments {{ reference customer {{ displayName }} account {{ name }} }} creditNotes {{ number }} }} }} }} }}""",
    "payments with allocations": """query($c: ID!) { connection(id: $c) { payments(first: 100) { nodes {
        reference customer { displayName } account { name } allocations { amount invoice { number } } } } } }""",
    "bill payments through fragments": """query($c: ID!, $n: Int = 40) { connection(id: $c) {
        billPayments(first: $n) { edges { node { ...pay } } nodes { ... on BillPayment { reference } } } } }
        fragment pay on BillPayment { supplier { displayName } allocations { bill { number status } } }""",
    "filtered bills with a count": """query($c: ID!) { connection(id: $c) {
        bills(first: 20, filter: {status: PAID}) { nodes { number supplier { displayName } } totalCount } } }""",
    "journal entries and reference data": """query($c: ID!) { connection(id: $c) {
        journalEntries(first: 50) { nodes { journal { name } lineItems { account { name } } } }
        bankAccounts(first: 20) { nodes { name ledgerAccount { name } } }
        trackingCategories { nodes { name parent { name } } } companyInfo { name } } }""",
}


@pytest.fixture(scope="module")
def sandboxes() -> SandboxSet:
    """One set of books for the module; each query gets a fresh (cold) gateway in front of it."""
    return SandboxSet(seed=7, faults=Faults(), rate_limits=False)


async def measured(sandboxes: SandboxSet, provider: str, query: str,
                   variables: dict[str, Any] | None = None) -> tuple[int, int, dict[str, Any]]:
    """(upstream calls the sandbox saw, the cost the gateway expected, the body) on a cold gateway."""
    async with GatewayHarness.start(sandboxes=sandboxes) as gw:
        gw.reset_counts()
        body = await gw.execute(query, {"c": connection_id(provider), **(variables or {})})
        calls = gw.upstream_calls(provider)
        assert calls == body["extensions"]["upstreamCalls"]
        return calls, body["extensions"]["cost"]["expected"], body


# --- the estimate is an upper bound, and a close one ---------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
async def test_estimate_is_a_close_upper_bound_of_real_queries(sandboxes: SandboxSet, provider: str) -> None:
    for name, query in REAL_QUERIES.items():
        calls, expected, body = await measured(sandboxes, provider, query)
        assert not body.get("errors"), (name, body.get("errors"))
        assert calls >= 1, name
        assert calls <= expected, f"{provider} {name}: {calls} calls, {expected} expected"
        # Close: never more than twice the real cost plus a couple of calls.
        assert expected <= 2 * calls + 2, f"{provider} {name}: {expected} expected for {calls} calls"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_list_get_and_count_is_bounded(sandboxes: SandboxSet, provider: str) -> None:
    """Each list (a full page), by-id read and count of every resource costs at most its estimate,
    so provider mappings whose reads change cannot silently outgrow what they declare."""
    profile = CallProfile.of(Provider(provider))
    for list_name, id_name, resource, _, _ in RESOURCE_FIELDS:
        if not profile.supports(resource, Operation.LIST):
            continue
        field, by_id = _camel(list_name), _camel(id_name)
        page = f"query($c: ID!) {{ connection(id: $c) {{ {field}(first: 100) {{ nodes {{ id }} }} }} }}"
        calls, expected, body = await measured(sandboxes, provider, page)
        assert not body.get("errors") and calls <= expected, (field, calls, expected, body.get("errors"))
        ids = [n["id"] for n in body["data"]["connection"][field]["nodes"]]
        if ids:
            one = f"query($c: ID!, $i: ID!) {{ connection(id: $c) {{ {by_id}(id: $i) {{ id }} }} }}"
            calls, expected, body = await measured(sandboxes, provider, one, {"i": ids[-1]})
            assert not body.get("errors") and calls <= expected, (by_id, calls, expected)
        count = f"query($c: ID!) {{ connection(id: $c) {{ {field}(first: 10) {{ totalCount }} }} }}"
        calls, expected, body = await measured(sandboxes, provider, count)
        assert not body.get("errors") and calls <= expected, (f"{field}.totalCount", calls, expected)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_create_costs_at_most_its_estimate(provider: str) -> None:
    tiny = SandboxSet(seed=7, sizes=BookSizes.tiny(), faults=Faults(), rate_limits=False)
    async with GatewayHarness.start(sandboxes=tiny) as gw:
        r = await refs(gw, provider)
    calls, expected, body = await measured(tiny, provider, CREATE_BILL, {"i": bill_input(r, "COST-1")})
    assert not body.get("errors"), body.get("errors")
    assert 1 <= calls <= expected <= 2 * calls + 2, (calls, expected)


# --- reported on every response; the limit refuses before any call -------------------------------

async def test_every_response_carries_the_cost_and_the_limit() -> None:
    async with GatewayHarness.start() as gw:
        free = await gw.execute("{ connections { id provider coverage { resource } } }")
        assert free["extensions"]["cost"] == {"expected": 0, "limit": DEFAULT_MAX_COST}
        one = await gw.execute(BILLS_50, {"c": connection_id("QUICKBOOKS")})
        assert one["extensions"]["cost"]["expected"] >= 1
        invalid = await gw.execute("{ connections { nope } }")
        assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert invalid["extensions"]["cost"] == {"expected": 0, "limit": DEFAULT_MAX_COST}


async def test_over_the_limit_is_refused_with_the_figures_and_no_upstream_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_COST_ENV, "3")
    async with GatewayHarness.start() as gw:
        for provider in PROVIDERS:
            gw.reset_counts()
            body = await gw.execute(BILLS_50, {"c": connection_id(provider)})
            assert body["data"] is None
            [error] = body["errors"]
            expected = body["extensions"]["cost"]["expected"]
            assert expected > 3
            assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": {"expected": expected, "limit": 3}}
            assert body["extensions"]["cost"] == {"expected": expected, "limit": 3}
            assert body["extensions"]["upstreamCalls"] == 0
            assert all(gw.upstream_calls(p) == 0 for p in PROVIDERS)
        # Under the limit, the same gateway answers.
        small = await gw.execute("query($c: ID!) { connection(id: $c) { bills(first: 5) { nodes { id } } } }",
                                 {"c": connection_id("XERO")})
        assert not small.get("errors") and len(small["data"]["connection"]["bills"]["nodes"]) == 5


async def test_cost_bomb_across_every_connection_is_refused_at_the_default_limit() -> None:
    aliases = " ".join(f"i{n}: invoices(first: 100) {{ nodes {{ customer {{ displayName }} {LINE} "
                       f"payments {{ reference }} creditNotes {{ number }} }} totalCount }}" for n in range(6))
    async with GatewayHarness.start() as gw:
        gw.reset_counts()
        body = await gw.execute(f"{{ connections {{ id {aliases} }} }}")
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert body["extensions"]["cost"]["expected"] > DEFAULT_MAX_COST
        assert all(gw.upstream_calls(p) == 0 for p in PROVIDERS)


def test_the_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_COST_ENV, raising=False)
    assert max_cost_from_env() == DEFAULT_MAX_COST
    monkeypatch.setenv(MAX_COST_ENV, "42")
    assert max_cost_from_env() == 42
    for junk in ("lots", "0", "-3"):
        monkeypatch.setenv(MAX_COST_ENV, junk)
        with pytest.raises(ValueError, match=MAX_COST_ENV):
            max_cost_from_env()


async def test_build_schema_takes_the_limit() -> None:
    # With no request context the connection is unknown: costed as the dearest provider.
    schema = build_schema(max_cost=2)
    result = await schema.execute('{ connection(id: "x") { bills(first: 50) { nodes { supplier { id email } } } } }')
    assert result.errors and result.errors[0].extensions
    assert result.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"
    assert result.errors[0].extensions["cost"]["limit"] == 2
    assert result.extensions and result.extensions["cost"]["expected"] > 2


# --- how the document is read: aliases, fragments, variables, directives, connections --------------

async def costs(gw: GatewayHarness, query: str, variables: dict[str, Any] | None = None) -> int:
    """The estimate alone: the limit is 1 in these tests, so nothing costlier runs."""
    body = await gw.execute(query, {"c": connection_id("EXACT_ONLINE"), **(variables or {})})
    expected: int = body["extensions"]["cost"]["expected"]
    return expected


async def test_document_shapes_are_costed_as_execution_runs_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_COST_ENV, "1")
    q = "query($c: ID!) { connection(id: $c) { %s } }"
    async with GatewayHarness.start() as gw:
        one = await costs(gw, q % "bills(first: 50) { nodes { number supplier { email } } }")
        assert one >= 2
        # Two aliases of the same list are two lists; the same response key twice is one field.
        assert await costs(gw, q % ("a: bills(first: 50) { nodes { number supplier { email } } } "
                                    "b: bills(first: 50) { nodes { number supplier { email } } }")) == 2 * one
        assert await costs(gw, q % ("bills(first: 50) { nodes { number } } "
                                    "bills(first: 50) { nodes { supplier { email } } }")) == one
        # Fragments, inline fragments and `edges { node }` are the same selection.
        assert await costs(gw, "query($c: ID!) { connection(id: $c) { ...b } } fragment b on Connection { "
                               "bills(first: 50) { edges { node { ... on Bill { supplier { email } } } } } }"
                           ) == one
        # Variables: `first` read from them, or from the declared default.
        assert await costs(gw, "query($c: ID!, $n: Int!) { connection(id: $c) { bills(first: $n) { nodes { "
                               "supplier { email } } } } }", {"n": 50}) == one
        assert await costs(gw, "query($c: ID!, $n: Int = 50) { connection(id: $c) { bills(first: $n) { nodes { "
                               "supplier { email } } } } }") == one
        # Resumed mid-page by a cursor, 100 records of Exact Online (pages of 60) may span two pages.
        start = await costs(gw, q % "bills(first: 100) { nodes { number } }")
        assert await costs(gw, q % 'bills(first: 100, after: "c") { nodes { number } }') > start
        # A reference answered from what its record shows (Exact joins the supplier's name into the bill,
        # the GL account's into each line) costs nothing; asking it for more costs its batch.
        bare = await costs(gw, q % "bills(first: 50) { nodes { number } }")
        assert await costs(gw, q % ("bills(first: 50) { nodes { number supplier { id displayName } "
                                    "lineItems { account { name } } } }")) == bare
        assert await costs(gw, q % "bills(first: 50) { nodes { number lineItems { account { name type } } } }") > bare
        # A skipped field costs nothing.
        assert await costs(gw, q % "bills(first: 50) @skip(if: true) { nodes { id } }") == 0
        # References are per batch, never per row: the supplier of 100 bills is one batch.
        per_row = await costs(gw, q % "bills(first: 100) { nodes { supplier { email } } }")
        # (from the start, 100 asked of Exact Online is one page of 60: one chunk of ids)
        assert per_row - await costs(gw, q % "bills(first: 100) { nodes { number } }") == 1
        # `connections` sums every connection the caller may use, each with its own provider.
        each = [await gw.execute(q % "invoices(first: 30) { nodes { number } }", {"c": connection_id(p)})
                for p in PROVIDERS]
        everywhere = await gw.execute("{ connections { invoices(first: 30) { nodes { number } } } }")
        assert everywhere["extensions"]["cost"]["expected"] == sum(b["extensions"]["cost"]["expected"] for b in each)
        # A connection the caller cannot see is costed as the dearest provider, not as free.
        unknown = await gw.execute(q % "invoices(first: 30) { nodes { number } }", {"c": "someone-elses"})
        assert unknown["extensions"]["cost"]["expected"] == max(b["extensions"]["cost"]["expected"] for b in each)


# --- depth, aliases, tokens, huge `first` --------------------------------------------------------

async def test_abusive_documents_are_refused_with_codes_and_no_upstream_call() -> None:
    nested = "payments { allocations { invoice { " * 6 + "id" + " } } }" * 6
    deep = "{ connection(id: \"demo-xero\") { invoices { nodes { " + nested + " } } } }"
    aliases = "{ " + " ".join(f"a{i}: connections {{ id }}" for i in range(31)) + " }"
    tokens = "{ " + " ".join("connections { id }" for _ in range(1200)) + " }"
    async with GatewayHarness.start() as gw:
        gw.reset_counts()
        for document, limit in ((deep, {"depth": 12}), (aliases, {"aliases": 30}), (tokens, {"tokens": 4000})):
            body = await gw.execute(document)
            assert body["data"] is None
            refused = [e for e in body["errors"] if e["extensions"]["code"] == "QUERY_TOO_COMPLEX"]
            assert refused and refused[0]["extensions"]["limit"] == limit, body["errors"]
        huge = await gw.execute("query($c: ID!) { connection(id: $c) { invoices(first: 100000) { nodes { id } } } }",
                                {"c": connection_id("QUICKBOOKS")})
        assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert all(gw.upstream_calls(p) == 0 for p in PROVIDERS)
