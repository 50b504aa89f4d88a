"""Updates of credit notes, payments, bill payments and expenses, on the providers whose APIs allow them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgerql.model.enums import Operation, Resource
from ledgerql.sandbox.books import BookSizes
from tests.api.test_writes import PAY_BILL, Refs, bill_input, lines, refs
from tests.api.test_writes_changes import CREATE_BILL, codes, new_invoice, pay, read_invoice, supports
from tests.harness import PROVIDERS, GatewayHarness, connection_id

CREATE_NOTE = """mutation($c: ID!, $i: CreditNoteInput!) { createCreditNote(connectionId: $c, input: $i) {
  creditNote { id } } }"""
UPDATE_NOTE = """mutation($c: ID!, $id: ID!, $i: CreditNoteUpdateInput!, $k: String) { updateCreditNote(
  connectionId: $c, id: $id, input: $i, idempotencyKey: $k) { replayed creditNote { id number issueDate total } } }"""
READ_NOTE = """query($c: ID!, $id: ID!) { connection(id: $c) { creditNote(id: $id) { id number issueDate total balance
  customer { id } allocations { amount } } } }"""
UPDATE_PAYMENT = """mutation($c: ID!, $id: ID!, $i: PaymentUpdateInput!, $k: String) { updatePayment(connectionId: $c,
  id: $id, input: $i, idempotencyKey: $k) { replayed payment { id reference paymentDate totalAmount } } }"""
READ_PAYMENT = """query($c: ID!, $id: ID!) { connection(id: $c) { payment(id: $id) { id reference paymentDate totalAmount
  allocations { amount invoice { id } } } } }"""
UPDATE_BILL_PAYMENT = """mutation($c: ID!, $id: ID!, $i: PaymentUpdateInput!, $k: String) { updateBillPayment(
  connectionId: $c, id: $id, input: $i, idempotencyKey: $k) { replayed billPayment { id reference paymentDate } } }"""
READ_BILL_PAYMENT = """query($c: ID!, $id: ID!) { connection(id: $c) { billPayment(id: $id) { id reference paymentDate
  totalAmount allocations { amount bill { id balance } } } } }"""
CREATE_EXPENSE = """mutation($c: ID!, $i: ExpenseInput!) { createExpense(connectionId: $c, input: $i) {
  expense { id } } }"""
UPDATE_EXPENSE = """mutation($c: ID!, $id: ID!, $i: ExpenseUpdateInput!, $k: String) { updateExpense(connectionId: $c,
  id: $id, input: $i, idempotencyKey: $k) { replayed expense { id number transactionDate totalAmount } } }"""
READ_EXPENSE = """query($c: ID!, $id: ID!) { connection(id: $c) { expense(id: $id) { id number transactionDate
  totalAmount lineItems { totalAmount } } } }"""


def _where(resource: Resource) -> list[str]:
    return [p for p in PROVIDERS if supports(p, resource, Operation.UPDATE)]


async def _replays(gw: GatewayHarness, provider: str, query: str, variables: dict[str, Any], field: str) -> None:
    """The same key again answers the record as it is, and writes nothing."""
    before = gw.sandboxes.emulators[provider].summary()
    again = await gw.query(query, variables)
    assert again[field]["replayed"] is True
    assert gw.sandboxes.emulators[provider].summary() == before


def test_updates_are_offered_where_the_provider_apis_allow_them() -> None:
    # The coverage each provider file reports (the schema and sandboxes follow it).
    assert _where(Resource.CREDIT_NOTES) == ["QUICKBOOKS", "XERO", "EXACT_ONLINE", "NETSUITE"]
    assert _where(Resource.PAYMENTS) == ["QUICKBOOKS", "NETSUITE"]  # Xero and Exact take no payment changes
    assert _where(Resource.BILL_PAYMENTS) == ["QUICKBOOKS", "NETSUITE"]
    assert _where(Resource.EXPENSES) == ["QUICKBOOKS", "XERO", "EXACT_ONLINE", "NETSUITE"]


# Providers whose APIs replace a document's lines on update (NetSuite's PATCH and Exact's PUT do not).
LINES = ("QUICKBOOKS", "XERO")


async def _lines_refused(gw: GatewayHarness, provider: str, query: str, variables: dict[str, Any]) -> None:
    gw.reset_counts()
    body = await gw.execute(query, variables)
    assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"], body
    assert body["errors"][0]["extensions"]["inputPath"] == ["input", "lineItems"]
    assert gw.upstream_calls(provider) == 0


@pytest.mark.parametrize("provider", _where(Resource.CREDIT_NOTES))
async def test_update_credit_note_reads_back(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        data = {"customerId": r.customer, "issueDate": "2026-11-20", "currency": "GBP", "number": "CN-UPD-1",
                "lineItems": lines(r, "4000", ("1", "100.00"))}
        note_id = (await gw.query(CREATE_NOTE, {"c": conn, "i": data}))["createCreditNote"]["creditNote"]["id"]
        # Exact Online fixes an entry's date once posted; only its reference changes.
        issued = "2026-11-20" if provider == "EXACT_ONLINE" else "2026-11-22"
        change = {"number": "CN-UPD-1B"} if provider == "EXACT_ONLINE" else {"number": "CN-UPD-1B", "issueDate": issued}
        variables = {"c": conn, "id": note_id, "i": change, "k": "cn-upd-1"}
        first = await gw.query(UPDATE_NOTE, variables)
        assert first["updateCreditNote"]["replayed"] is False
        read = (await gw.query(READ_NOTE, {"c": conn, "id": note_id}))["connection"]["creditNote"]
        assert (read["number"], read["issueDate"], read["customer"]["id"]) == ("CN-UPD-1B", issued, r.customer)
        assert Decimal(read["total"]) == Decimal("120.00") == Decimal(read["balance"])
        await _replays(gw, provider, UPDATE_NOTE, variables, "updateCreditNote")
        if provider == "EXACT_ONLINE":
            gw.reset_counts()
            body = await gw.execute(UPDATE_NOTE, {"c": conn, "id": note_id, "i": {"issueDate": "2026-11-22"}})
            assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"] and gw.upstream_calls(provider) == 0
        if provider not in LINES:
            await _lines_refused(gw, provider, UPDATE_NOTE, {"c": conn, "id": note_id,
                                                             "i": {"lineItems": lines(r, "4000", ("2", "100.00"))}})
            return

        body = await gw.query(UPDATE_NOTE, {"c": conn, "id": note_id,
                                            "i": {"lineItems": lines(r, "4000", ("2", "100.00"))}})
        assert Decimal(body["updateCreditNote"]["creditNote"]["total"]) == Decimal("240.00")
        read = (await gw.query(READ_NOTE, {"c": conn, "id": note_id}))["connection"]["creditNote"]
        assert Decimal(read["total"]) == Decimal("240.00") and read["number"] == "CN-UPD-1B"
        # Lines on the wrong kind of account are refused with their path, before any write.
        before = gw.sandboxes.emulators[provider].summary()
        body = await gw.execute(UPDATE_NOTE, {"c": conn, "id": note_id, "i": {"lineItems": lines(r, "6200", ("1", "5.00"))}})
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["inputPath"] == ["input", "lineItems", 0, "accountId"]
        assert gw.sandboxes.emulators[provider].summary() == before


@pytest.mark.parametrize("provider", _where(Resource.PAYMENTS))
async def test_update_payment_header_keeps_what_it_paid(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-PUPD-1")
        payment_id = await pay(gw, r, conn, invoice["id"], "300.00")
        variables = {"c": conn, "id": payment_id, "i": {"paymentDate": "2026-11-16", "reference": "BACS 4471"},
                     "k": "pay-upd-1"}
        first = await gw.query(UPDATE_PAYMENT, variables)
        assert first["updatePayment"]["replayed"] is False
        read = (await gw.query(READ_PAYMENT, {"c": conn, "id": payment_id}))["connection"]["payment"]
        assert (read["reference"], read["paymentDate"]) == ("BACS 4471", "2026-11-16")
        assert Decimal(read["totalAmount"]) == Decimal("300.00")
        assert [(a["invoice"]["id"], Decimal(a["amount"])) for a in read["allocations"]] == \
            [(invoice["id"], Decimal("300.00"))]
        owed = await read_invoice(gw, conn, invoice["id"])
        assert owed is not None and Decimal(owed["balance"]) == Decimal(invoice["total"]) - Decimal("300.00")
        await _replays(gw, provider, UPDATE_PAYMENT, variables, "updatePayment")
        # Nothing to change is bad input, not a call.
        gw.reset_counts()
        body = await gw.execute(UPDATE_PAYMENT, {"c": conn, "id": payment_id, "i": {}})
        assert codes(body) == ["BAD_USER_INPUT"] and gw.upstream_calls(provider) == 0


@pytest.mark.parametrize("provider", _where(Resource.BILL_PAYMENTS))
async def test_update_bill_payment_header_keeps_what_it_paid(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        bill = (await gw.query(CREATE_BILL, {"c": conn, "i": bill_input(r, "B-PUPD-1")}))["createBill"]["bill"]
        data = {"supplierId": r.supplier, "accountId": r.accounts["1200"], "paymentDate": "2026-11-10",
                "currency": "GBP", "totalAmount": "50.00", "allocations": [{"billId": bill["id"], "amount": "50.00"}]}
        paid_id = (await gw.query(PAY_BILL, {"c": conn, "i": data}))["createBillPayment"]["billPayment"]["id"]
        variables = {"c": conn, "id": paid_id, "i": {"paymentDate": "2026-11-11", "reference": "CHQ 1002"},
                     "k": "bp-upd-1"}
        assert (await gw.query(UPDATE_BILL_PAYMENT, variables))["updateBillPayment"]["replayed"] is False
        read = (await gw.query(READ_BILL_PAYMENT, {"c": conn, "id": paid_id}))["connection"]["billPayment"]
        assert (read["reference"], read["paymentDate"]) == ("CHQ 1002", "2026-11-11")
        assert Decimal(read["totalAmount"]) == Decimal("50.00")
        [allocation] = read["allocations"]
        assert allocation["bill"]["id"] == bill["id"]
        assert Decimal(allocation["bill"]["balance"]) == Decimal(bill["total"]) - Decimal("50.00")
        await _replays(gw, provider, UPDATE_BILL_PAYMENT, variables, "updateBillPayment")


@pytest.mark.parametrize("provider", _where(Resource.EXPENSES))
async def test_update_expense_reads_back(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        data = {"supplierId": r.supplier, "accountId": r.accounts["1200"], "transactionDate": "2026-11-12",
                "currency": "GBP", "number": "EXP-UPD-1", "lineItems": lines(r, "6200", ("1", "64.00"))}
        expense_id = (await gw.query(CREATE_EXPENSE, {"c": conn, "i": data}))["createExpense"]["expense"]["id"]
        # On Exact Online the expense is a purchase entry due on its date: only its reference changes.
        spent = "2026-11-12" if provider == "EXACT_ONLINE" else "2026-11-13"
        change = {"number": "EXP-UPD-1B"} if provider == "EXACT_ONLINE" else \
            {"number": "EXP-UPD-1B", "transactionDate": spent}
        variables = {"c": conn, "id": expense_id, "i": change, "k": "exp-upd-1"}
        first = await gw.execute(UPDATE_EXPENSE, variables)
        assert first["data"]["updateExpense"]["replayed"] is False, first
        # A fallback is never silent: the answer says what stood in.
        assert bool(first["extensions"].get("fallbacks")) == (provider == "EXACT_ONLINE")
        read = (await gw.query(READ_EXPENSE, {"c": conn, "id": expense_id}))["connection"]["expense"]
        assert (read["number"], read["transactionDate"]) == ("EXP-UPD-1B", spent)
        assert Decimal(read["totalAmount"]) == Decimal("76.80")
        await _replays(gw, provider, UPDATE_EXPENSE, variables, "updateExpense")
        if provider not in LINES:
            await _lines_refused(gw, provider, UPDATE_EXPENSE, {"c": conn, "id": expense_id,
                                                                "i": {"lineItems": lines(r, "6200", ("2", "64.00"))}})
            return

        body = await gw.query(UPDATE_EXPENSE, {"c": conn, "id": expense_id,
                                               "i": {"lineItems": lines(r, "6200", ("2", "64.00"))}})
        assert Decimal(body["updateExpense"]["expense"]["totalAmount"]) == Decimal("153.60")
        read = (await gw.query(READ_EXPENSE, {"c": conn, "id": expense_id}))["connection"]["expense"]
        assert Decimal(read["totalAmount"]) == Decimal("153.60") and read["number"] == "EXP-UPD-1B"
        assert [Decimal(x["totalAmount"]) for x in read["lineItems"]] == [Decimal("128.00")]


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if not supports(p, Resource.PAYMENTS, Operation.UPDATE)])
async def test_payment_update_unsupported_answers_before_any_call(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r: Refs = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-PUPD-2")
        payment_id = await pay(gw, r, conn, invoice["id"], "100.00")
        gw.reset_counts()
        body = await gw.execute(UPDATE_PAYMENT, {"c": conn, "id": payment_id, "i": {"reference": "X"}, "k": "u-1"})
        assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"]
        assert gw.upstream_calls(provider) == 0 and body["extensions"]["upstreamCalls"] == 0
