"""References answered from what the referencing record shows, through GraphQL over HTTP.

Xero sends a document's contact with its current name; Exact Online joins the supplier's name into a
purchase entry and each GL account's description into its lines. A selection that asks a reference
for nothing more (`supplier { id displayName }`) is answered from that, with no call for the supplier;
any other field loads the record. The names are the providers' current ones, not copies kept since the
document was written: a rename shows on old documents at once, and the tests check that too.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledgerql.demo import DEMO_ACCOUNT_ID
from ledgerql.sandbox.books import BookSizes
from ledgerql.store.tenancy import ACCOUNT, Owner
from tests.harness import GatewayHarness, connection_id

# The endpoint each provider's emulator counts a supplier read under, and a ledger account read.
SUPPLIER_READS = {"XERO": "Contacts", "EXACT_ONLINE": "crm/Accounts"}
LEDGER_READS = {"XERO": "Accounts", "EXACT_ONLINE": "financial/GLAccounts"}


def reads_of(gw: GatewayHarness, provider: str, endpoint: str) -> int:
    """Calls the provider's emulator served on `endpoint` since the counts were reset."""
    counts = gw.sandboxes.emulators[provider].counter.by_kind
    return sum(n for kind, n in counts.items() if kind.split(" ", 1)[-1].split("?")[0].endswith(endpoint))


async def bills(gw: GatewayHarness, provider: str, selection: str, fragments: str = "") -> list[dict[str, Any]]:
    gw.reset_counts()
    data = await gw.query(f"query($c: ID!) {{ connection(id: $c) {{ bills(first: 50) {{ nodes {{ {selection} }} }} }} }}"
                          f" {fragments}", {"c": connection_id(provider)})
    nodes: list[dict[str, Any]] = data["connection"]["bills"]["nodes"]
    return nodes


@pytest.mark.parametrize("provider", list(SUPPLIER_READS))
async def test_a_supplier_name_comes_with_its_bills_and_follows_a_rename(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        loaded = await bills(gw, provider, "id supplier { id displayName email }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) >= 1  # email is not shown: suppliers are read
        supplier_id = loaded[0]["supplier"]["id"]

        renamed = f"Renamed {provider.title()} Supplies"
        await gw.query("""mutation($c: ID!, $id: ID!, $n: String!) { updateSupplier(connectionId: $c, id: $id,
            input: {displayName: $n}) { supplier { id } } }""", {"c": connection_id(provider), "id": supplier_id,
                                                               "n": renamed})

        shown = await bills(gw, provider, "id supplier { __typename id displayName companyName }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) == 0
        theirs = [b for b in shown if b["supplier"]["id"] == supplier_id]
        assert theirs and all(b["supplier"] == {"__typename": "Supplier", "id": supplier_id, "displayName": renamed,
                                                "companyName": renamed} for b in theirs)

        # The same names as the suppliers themselves answer, bill for bill.
        full = await bills(gw, provider, "id supplier { id displayName companyName email }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) >= 1
        assert [(b["id"], b["supplier"]["displayName"], b["supplier"]["companyName"]) for b in full] == \
            [(b["id"], b["supplier"]["displayName"], b["supplier"]["companyName"]) for b in shown]


@pytest.mark.parametrize("provider", list(SUPPLIER_READS))
async def test_fragments_and_skip_include_are_followed(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        through_fragment = await bills(gw, provider, "id supplier { ...Named ... on Supplier { id } }",
                                       "fragment Named on Supplier { displayName }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) == 0
        left_out = await bills(gw, provider, "id supplier { displayName email @include(if: false) }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) == 0
        asked = await bills(gw, provider, "id supplier { displayName email @skip(if: false) }")
        assert reads_of(gw, provider, SUPPLIER_READS[provider]) >= 1
        assert all(b["supplier"]["email"] is not None for b in asked)
        # The same response key twice is one field: what both ask for counts.
        # (Suppliers may now come from what the connector kept: the emails say the records were loaded.)
        merged = await bills(gw, provider, "id supplier { displayName } supplier { email }")
        assert [b["supplier"]["email"] for b in merged] == [b["supplier"]["email"] for b in asked]
        assert [b["supplier"]["displayName"] for b in through_fragment] == \
            [b["supplier"]["displayName"] for b in left_out] == [b["supplier"]["displayName"] for b in asked]


async def test_exact_line_account_names_come_with_the_lines() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        shown = await bills(gw, "EXACT_ONLINE", "id lineItems { account { id name } }")
        assert reads_of(gw, "EXACT_ONLINE", LEDGER_READS["EXACT_ONLINE"]) == 0
        loaded = await bills(gw, "EXACT_ONLINE", "id lineItems { account { id name nominalCode } }")
        assert reads_of(gw, "EXACT_ONLINE", LEDGER_READS["EXACT_ONLINE"]) >= 1
        assert [[(x["account"]["id"], x["account"]["name"]) for x in b["lineItems"]] for b in shown] == \
            [[(x["account"]["id"], x["account"]["name"]) for x in b["lineItems"]] for b in loaded]
        assert any(b["lineItems"] for b in shown)


async def test_a_shown_reference_still_needs_the_permission_to_read_it() -> None:
    """A clerk who may read payables but not the ledger gets no account name, though Exact sends it
    with the bill's lines."""
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        tenancy = gw.demo.gateway.tenancy
        owner = Owner(ACCOUNT, DEMO_ACCOUNT_ID)
        group = await tenancy.create_group(owner, "ap-readers", ["AP:READ"])
        _, key = await tenancy.create_api_user(owner, "ap clerk", group_ids=[group.id])
        gw.reset_counts()
        response = await gw.client.post("/graphql", headers={"Authorization": f"Bearer {key}"}, json={
            "query": """query($c: ID!) { connection(id: $c) { bills(first: 5) { nodes {
                supplier { displayName } lineItems { account { name } } } } } }""",
            "variables": {"c": connection_id("EXACT_ONLINE")}})
        body = response.json()
        assert response.status_code == 200
        nodes = body["data"]["connection"]["bills"]["nodes"]
        assert nodes and all(b["supplier"]["displayName"] for b in nodes)
        assert all(x["account"] is None for b in nodes for x in b["lineItems"])
        assert body["errors"] and {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
        assert all(e["extensions"]["permission"] == "LEDGER:READ" for e in body["errors"])
