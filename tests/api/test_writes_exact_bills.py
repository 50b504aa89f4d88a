"""Exact Online: a bill due on its bill date would be read back as an expense, so it is refused."""

from __future__ import annotations

from typing import Any

from ledgerql.sandbox.books import BookSizes
from tests.api.test_writes import CREATE_BILL, bill_input, refs
from tests.api.test_writes_changes import codes
from tests.harness import GatewayHarness, connection_id

CONN = connection_id("EXACT_ONLINE")
UPDATE_BILL = """mutation($c: ID!, $id: ID!, $i: BillUpdateInput!) { updateBill(connectionId: $c, id: $id, input: $i)
  { bill { id dueDate } } }"""


def refused_at_due_date(body: dict[str, Any]) -> None:
    assert codes(body) == ["BAD_USER_INPUT"], body
    error = body["errors"][0]
    assert error["extensions"]["inputPath"] == ["input", "dueDate"]
    assert "createExpense" in error["message"] and "expense" in error["message"]


async def test_bill_due_on_its_bill_date_is_refused_before_any_upstream_call() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "EXACT_ONLINE")
        before = gw.sandboxes.emulators["EXACT_ONLINE"].summary()
        gw.reset_counts()
        same_day = {**bill_input(r, "SUP-SAME"), "dueDate": "2026-11-02"}  # billDate 2026-11-02
        body = await gw.execute(CREATE_BILL, {"c": CONN, "i": same_day})
        refused_at_due_date(body)
        assert "is its bill date" in body["errors"][0]["message"]
        assert gw.upstream_calls("EXACT_ONLINE") == 0 and body["extensions"]["upstreamCalls"] == 0
        dry = await gw.execute("mutation($c: ID!, $i: BillInput!) { createBill(connectionId: $c, input: $i, "
                               "dryRun: true) { dryRun } }", {"c": CONN, "i": same_day})
        refused_at_due_date(dry)
        assert gw.sandboxes.emulators["EXACT_ONLINE"].summary() == before


async def test_bill_without_due_date_is_written_due_later_and_reads_as_a_bill() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "EXACT_ONLINE")
        data = {k: v for k, v in bill_input(r, "SUP-NODUE").items() if k != "dueDate"}
        bill = (await gw.query(CREATE_BILL, {"c": CONN, "i": data}))["createBill"]["bill"]
        read = await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { bill(id: $id) { billDate dueDate } } }",
                              {"c": CONN, "id": bill["id"]})
        assert read["connection"]["bill"] == {"billDate": "2026-11-02", "dueDate": "2026-12-02"}

        # With no default term (the mapping's quirk at 0 days), an omitted due date would be the bill date.
        connector = gw.demo.gateway.connector(CONN)
        connector.mapping.quirks["bill_default_due_days"] = 0
        try:
            gw.reset_counts()
            body = await gw.execute(CREATE_BILL, {"c": CONN, "i": {**data, "number": "SUP-NODUE-2"}})
            refused_at_due_date(body)
            assert "would default to its bill date" in body["errors"][0]["message"]
            assert gw.upstream_calls("EXACT_ONLINE") == 0
        finally:
            connector.mapping.quirks["bill_default_due_days"] = 30


async def test_update_bill_to_fall_due_on_its_bill_date_is_refused_before_any_write() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "EXACT_ONLINE")
        bill = (await gw.query(CREATE_BILL, {"c": CONN, "i": bill_input(r, "SUP-UPD-SAME")}))["createBill"]["bill"]
        emulator = gw.sandboxes.emulators["EXACT_ONLINE"]
        gw.reset_counts()
        body = await gw.execute(UPDATE_BILL, {"c": CONN, "id": bill["id"], "i": {"dueDate": "2026-11-02"}})
        refused_at_due_date(body)
        assert [k for k in emulator.counter.snapshot()["byKind"] if not k.startswith("GET")] == []
        moved = await gw.query(UPDATE_BILL, {"c": CONN, "id": bill["id"], "i": {"dueDate": "2026-11-20"}})
        assert moved["updateBill"]["bill"]["dueDate"] == "2026-11-20"
