"""NetSuite creates: record/v1 bodies, idempotency (header + externalId), lost answers, upstream errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.connectors.netsuite.writes import build_payload, id_from_location, sql_text
from ledgerql.model import entities as m
from ledgerql.model.enums import PostingType, Resource
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults, ReplayCache
from tests.api.test_writes import CREATE_BILL, bill_input, refs
from tests.harness import GatewayHarness, connection_id

CID = connection_id("NETSUITE")


@pytest.fixture
async def gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as harness:
        yield harness


def store(gw: GatewayHarness) -> Any:
    emulator = gw.sandboxes.emulators["NETSUITE"]
    return next(iter(emulator.stores.values()))


def bills_numbered(gw: GatewayHarness, number: str) -> list[dict[str, Any]]:
    return [b for b in store(gw).records["vendorBill"].values() if b.get("tranId") == number]


def test_payloads_use_record_api_names_and_exact_amounts() -> None:
    gbp = {"GBP": {"id": "2"}}
    entry = m.JournalEntry(id="", posting_date=date(2026, 11, 30), currency="GBP", description="Accrual",
                           line_items=[m.JournalLine(account_id="58", type=PostingType.DEBIT, amount=Decimal("1250.00"),
                                                     tracking_category_ids=["department:3"]),
                                       m.JournalLine(account_id="25", type=PostingType.CREDIT,
                                                     amount=Decimal("1250.00"))])
    body = build_payload(Resource.JOURNAL_ENTRIES, entry, gbp.__getitem__)
    assert body == {"tranDate": "2026-11-30", "memo": "Accrual", "currency": {"id": "2"}, "line": {"items": [
        {"account": {"id": "58"}, "debit": Decimal("1250.00"), "department": {"id": "3"}},
        {"account": {"id": "25"}, "credit": Decimal("1250.00")}]}}
    payment = m.BillPayment(id="", supplier_id="56", account_id="1", payment_date=date(2024, 3, 15),
                            total_amount=Decimal("200.00"), currency="GBP",
                            allocations=[m.Allocation(document_id="9876", amount=Decimal("200.00"))])
    assert build_payload(Resource.BILL_PAYMENTS, payment, gbp.__getitem__) == {
        "entity": {"id": "56"}, "account": {"id": "1"}, "tranDate": "2024-03-15", "currency": {"id": "2"},
        "total": Decimal("200.00"), "apply": {"items": [{"doc": {"id": "9876"}, "apply": True,
                                                         "amount": Decimal("200.00")}]}}
    assert id_from_location("https://acct.suitetalk.api.netsuite.com/services/rest/record/v1/customer/647") == "647"
    assert sql_text("o'brien") == "'o''brien'"


async def test_key_is_sent_as_header_and_external_id(gw: GatewayHarness) -> None:
    r = await refs(gw, "NETSUITE")
    created = (await gw.query(CREATE_BILL, {"c": CID, "i": bill_input(r, "NS-KEY-1"), "k": "ns-key-1"}))
    bill = created["createBill"]["bill"]
    [record] = bills_numbered(gw, "NS-KEY-1")
    assert record["externalId"] == "ns-key-1" and str(record["id"]) == bill["id"]
    assert record["total"] == Decimal("145.19")
    connector = gw.demo.gateway.connector(CID)
    found = await connector.find_created(Resource.BILLS, "ns-key-1")
    assert found is not None and found.id == bill["id"]
    assert await connector.find_created(Resource.BILLS, "never-used") is None


async def test_lost_answer_then_restart_finds_the_record_instead_of_writing_again(gw: GatewayHarness) -> None:
    """The POST wrote but its answer never came; the emulator then forgot its idempotency keys
    (a restart): the retry finds the bill by externalId and writes nothing more."""
    r = await refs(gw, "NETSUITE")
    emulator = gw.sandboxes.emulators["NETSUITE"]
    connector = gw.demo.gateway.connector(CID)
    data = bill_input(r, "NS-LOST-1")
    # Warm every read the write needs, so the hang lands on the POST.
    await gw.execute(CREATE_BILL.replace("idempotencyKey: $k", "idempotencyKey: $k, dryRun: true"),
                     {"c": CID, "i": data, "k": None})
    connector.http.timeout = 0.2
    original_request = connector.http.request

    async def hanging_post(method: str, path: str, **kwargs: Any) -> Any:
        if method == "POST" and path.startswith("/record/v1/"):
            emulator.faults.set(Faults(timeout=1.0, timeoutMs=400))
            try:
                return await original_request(method, path, **{**kwargs, "retry": False})
            finally:
                emulator.faults.set(Faults())
        return await original_request(method, path, **kwargs)

    connector.http.request = hanging_post  # type: ignore[method-assign]
    body = await gw.execute(CREATE_BILL, {"c": CID, "i": data, "k": "ns-lost-1"})
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert len(bills_numbered(gw, "NS-LOST-1")) == 1  # it was written
    connector.http.request = original_request  # type: ignore[method-assign]
    connector.http.timeout = 30
    emulator.replay = ReplayCache()

    again = await gw.query(CREATE_BILL, {"c": CID, "i": data, "k": "ns-lost-1"})
    assert again["createBill"]["bill"]["number"] == "NS-LOST-1"
    assert len(bills_numbered(gw, "NS-LOST-1")) == 1


async def test_upstream_validation_error_is_bad_user_input_with_netsuite_message(gw: GatewayHarness) -> None:
    r = await refs(gw, "NETSUITE")
    before = len(store(gw).records["expenseReport"])
    body = await gw.execute(
        """mutation($c: ID!, $i: ExpenseInput!) { createExpense(connectionId: $c, input: $i) { expense { id } } }""",
        {"c": CID, "i": {"accountId": r.accounts["1200"], "transactionDate": "2026-11-12", "currency": "GBP",
                         "lineItems": [{"description": "Taxi", "quantity": "1", "unitPrice": "64.00",
                                        "totalAmount": "64.00", "accountId": r.accounts["6200"]}]}})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Please enter value(s) for: Name" in error["message"] and "USER_ERROR" in error["message"]
    assert len(store(gw).records["expenseReport"]) == before


async def test_customer_and_supplier_created_with_key_replay(gw: GatewayHarness) -> None:
    create = """mutation($c: ID!, $k: String) { createSupplier(connectionId: $c, idempotencyKey: $k,
                input: {displayName: "O'Hare Supplies", email: "ap@ohare.example", currency: "GBP"}) {
                replayed supplier { id displayName email currency } } }"""
    first = (await gw.query(create, {"c": CID, "k": "sup-'1"}))["createSupplier"]
    second = (await gw.query(create, {"c": CID, "k": "sup-'1"}))["createSupplier"]
    assert first["supplier"] == second["supplier"] == {"id": first["supplier"]["id"], "displayName": "O'Hare Supplies",
                                                       "email": "ap@ohare.example", "currency": "GBP"}
    assert (first["replayed"], second["replayed"]) == (False, True)
    found = await gw.demo.gateway.connector(CID).find_created(Resource.SUPPLIERS, "sup-'1")
    assert found is not None and found.id == first["supplier"]["id"]
