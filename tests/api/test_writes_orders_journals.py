"""Updates and deletes of purchase orders and journal entries, on the providers whose APIs allow them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgerql.model.enums import Operation, Resource
from ledgerql.sandbox.books import BookSizes
from tests.api.test_writes import Refs, lines, refs
from tests.api.test_writes_changes import codes, supports
from tests.harness import PROVIDERS, GatewayHarness, connection_id

CREATE_PO = """mutation($c: ID!, $i: PurchaseOrderInput!) { createPurchaseOrder(connectionId: $c, input: $i) {
  purchaseOrder { id number total } } }"""
UPDATE_PO = """mutation($c: ID!, $id: ID!, $i: PurchaseOrderUpdateInput!, $k: String) { updatePurchaseOrder(
  connectionId: $c, id: $id, input: $i, idempotencyKey: $k) { replayed purchaseOrder { id number orderDate
  deliveryDate total } } }"""
READ_PO = """query($c: ID!, $id: ID!) { connection(id: $c) { purchaseOrder(id: $id) { id number orderDate deliveryDate
  total subTotal lineItems { totalAmount } supplier { id } } } }"""
CREATE_JE = """mutation($c: ID!, $i: JournalEntryInput!) { createJournalEntry(connectionId: $c, input: $i) {
  journalEntry { id } } }"""
UPDATE_JE = """mutation($c: ID!, $id: ID!, $i: JournalEntryUpdateInput!, $k: String) { updateJournalEntry(
  connectionId: $c, id: $id, input: $i, idempotencyKey: $k) { replayed journalEntry { id postingDate } } }"""
READ_JE = """query($c: ID!, $id: ID!) { connection(id: $c) { journalEntry(id: $id) { id number postingDate description
  lineItems { type amount account { nominalCode } } } } }"""


def journal_lines(r: Refs, amount: str) -> list[dict[str, Any]]:
    return [{"accountId": r.accounts["6500"], "type": "DEBIT", "amount": amount, "description": "Audit"},
            {"accountId": r.accounts["2300"], "type": "CREDIT", "amount": amount, "description": "Accrual"}]


async def new_order(gw: GatewayHarness, r: Refs, conn: str, number: str) -> dict[str, Any]:
    data = {"supplierId": r.supplier, "orderDate": "2026-11-05", "deliveryDate": "2026-11-20", "currency": "GBP",
            "number": number, "lineItems": lines(r, "5000", ("3", "40.00"))}
    order: dict[str, Any] = (await gw.query(CREATE_PO, {"c": conn, "i": data}))["createPurchaseOrder"]["purchaseOrder"]
    return order


async def new_journal(gw: GatewayHarness, r: Refs, conn: str) -> str:
    data = {"postingDate": "2026-11-30", "currency": "GBP", "description": "Accrued audit fee",
            "lineItems": journal_lines(r, "1250.00")}
    return str((await gw.query(CREATE_JE, {"c": conn, "i": data}))["createJournalEntry"]["journalEntry"]["id"])


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if supports(p, Resource.PURCHASE_ORDERS, Operation.UPDATE)])
async def test_update_purchase_order_reads_back(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        order = await new_order(gw, r, conn, "PO-UPD-1")
        change = {"number": "PO-UPD-1B", "deliveryDate": "2026-12-01"}
        first = await gw.query(UPDATE_PO, {"c": conn, "id": order["id"], "i": change, "k": "po-upd-1"})
        assert first["updatePurchaseOrder"]["replayed"] is False
        read = (await gw.query(READ_PO, {"c": conn, "id": order["id"]}))["connection"]["purchaseOrder"]
        assert (read["number"], read["orderDate"], read["deliveryDate"]) == ("PO-UPD-1B", "2026-11-05", "2026-12-01")
        assert Decimal(read["total"]) == Decimal("144.00") and read["supplier"]["id"] == r.supplier
        before = gw.sandboxes.emulators[provider].summary()
        again = await gw.query(UPDATE_PO, {"c": conn, "id": order["id"], "i": change, "k": "po-upd-1"})
        assert again["updatePurchaseOrder"]["replayed"] is True
        assert gw.sandboxes.emulators[provider].summary() == before

        if provider in ("QUICKBOOKS", "XERO"):  # their APIs replace lines; NetSuite's PATCH here does not
            body = await gw.query(UPDATE_PO, {"c": conn, "id": order["id"],
                                              "i": {"lineItems": lines(r, "5000", ("5", "40.00"))}})
            assert Decimal(body["updatePurchaseOrder"]["purchaseOrder"]["total"]) == Decimal("240.00")
            read = (await gw.query(READ_PO, {"c": conn, "id": order["id"]}))["connection"]["purchaseOrder"]
            assert Decimal(read["total"]) == Decimal("240.00") and read["number"] == "PO-UPD-1B"
        # Bad input is refused with its path, before any write.
        body = await gw.execute(UPDATE_PO, {"c": conn, "id": order["id"], "i": {"deliveryDate": "2026-10-01"}})
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["inputPath"] == ["input", "deliveryDate"]


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if supports(p, Resource.JOURNAL_ENTRIES, Operation.UPDATE)])
async def test_update_journal_entry_must_still_balance(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        entry_id = await new_journal(gw, r, conn)
        before = gw.sandboxes.emulators[provider].summary()
        unbalanced = [{**journal_lines(r, "900.00")[0]}, {**journal_lines(r, "899.99")[1]}]
        if provider != "NETSUITE":
            body = await gw.execute(UPDATE_JE, {"c": conn, "id": entry_id, "i": {"lineItems": unbalanced}})
            assert codes(body) == ["BAD_USER_INPUT"]
            assert body["errors"][0]["extensions"]["inputPath"] == ["input", "lineItems"]
            assert "debits" in body["errors"][0]["message"]
            assert gw.sandboxes.emulators[provider].summary() == before
            await gw.query(UPDATE_JE, {"c": conn, "id": entry_id, "i": {"lineItems": journal_lines(r, "900.00"),
                                                                         "postingDate": "2026-12-01"}})
            read = (await gw.query(READ_JE, {"c": conn, "id": entry_id}))["connection"]["journalEntry"]
            assert read["postingDate"] == "2026-12-01"
            assert sorted((x["type"], Decimal(x["amount"]), x["account"]["nominalCode"]) for x in read["lineItems"]) \
                == [("CREDIT", Decimal("900.00"), "2300"), ("DEBIT", Decimal("900.00"), "6500")]
        else:  # NetSuite's PATCH changes the header; lines are refused before any call
            gw.reset_counts()
            body = await gw.execute(UPDATE_JE, {"c": conn, "id": entry_id, "i": {"lineItems": unbalanced}})
            assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"] and gw.upstream_calls(provider) == 0
            await gw.query(UPDATE_JE, {"c": conn, "id": entry_id, "i": {"postingDate": "2026-12-01",
                                                                         "description": "Audit fee, revised"}})
            read = (await gw.query(READ_JE, {"c": conn, "id": entry_id}))["connection"]["journalEntry"]
            assert (read["postingDate"], read["description"]) == ("2026-12-01", "Audit fee, revised")
            assert sorted(Decimal(x["amount"]) for x in read["lineItems"]) == [Decimal("1250.00")] * 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_delete_purchase_order_and_journal_entry_where_allowed(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        order = await new_order(gw, r, conn, "PO-DEL-1")
        entry_id = await new_journal(gw, r, conn)
        cases = [(Resource.PURCHASE_ORDERS, "deletePurchaseOrder", "purchaseOrder", order["id"]),
                 (Resource.JOURNAL_ENTRIES, "deleteJournalEntry", "journalEntry", entry_id)]
        for resource, mutation, field, ident in cases:
            query = f"mutation($c: ID!, $id: ID!) {{ {mutation}(connectionId: $c, id: $id, idempotencyKey: " \
                    f"\"del-{field}\") {{ id deleted replayed }} }}"
            gw.reset_counts()
            body = await gw.execute(query, {"c": conn, "id": ident})
            if not supports(provider, resource, Operation.DELETE):
                assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"] and gw.upstream_calls(provider) == 0
                continue
            assert body["data"][mutation] == {"id": ident, "deleted": True, "replayed": False}, body
            gone = await gw.execute(f"query($c: ID!, $id: ID!) {{ connection(id: $c) {{ {field}(id: $id) {{ id }} }} }}",
                                    {"c": conn, "id": ident})
            assert codes(gone) == ["NOT_FOUND"]
            again = await gw.query(query, {"c": conn, "id": ident})
            assert again[mutation]["replayed"] is True
