"""Xero: a payment larger than its allocations is an Overpayment, written in two steps and read back whole."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from tests.api.test_writes import CREATE_BILL, bill_input, refs
from tests.api.test_writes_changes import codes, new_invoice, read_invoice
from tests.harness import GatewayHarness, connection_id

CONN = connection_id("XERO")
PAY = """mutation($c: ID!, $i: PaymentInput!, $k: String) { createPayment(connectionId: $c, input: $i,
  idempotencyKey: $k) { replayed payment { id totalAmount reference paymentDate account { nominalCode }
  customer { id } allocations { amount invoice { id } } } } }"""
READ_PAYMENT = """query($c: ID!, $id: ID!) { connection(id: $c) { payment(id: $id) { id totalAmount paymentDate
  reference currency account { nominalCode } customer { id } allocations { amount invoice { id } } } } }"""
PAY_BILLS = """mutation($c: ID!, $i: BillPaymentInput!) { createBillPayment(connectionId: $c, input: $i) {
  billPayment { id totalAmount allocations { amount bill { id } } } } }"""


def overpayments(gw: GatewayHarness) -> list[dict[str, Any]]:
    emulator = gw.sandboxes.emulators["XERO"]
    store = next(iter(emulator.stores.values()))  # type: ignore[attr-defined]
    return list(store.data["Overpayments"].values())


def payment(r: Any, total: str, *allocations: tuple[str, str], reference: str = "OVER-1") -> dict[str, Any]:
    return {"customerId": r.customer, "accountId": r.accounts["1200"], "paymentDate": "2026-11-15",
            "currency": "GBP", "totalAmount": total, "reference": reference,
            "allocations": [{"invoiceId": i, "amount": a} for i, a in allocations]}


async def test_payment_beyond_its_allocations_is_an_overpayment_read_back_whole() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        invoice = await new_invoice(gw, r, CONN, "INV-OVER-1")  # 1200.00
        other = await new_invoice(gw, r, CONN, "INV-OVER-2", ("1", "100.00"))  # 120.00
        before = len(overpayments(gw))
        created = (await gw.query(PAY, {"c": CONN, "i": payment(r, "1400.00", (invoice["id"], "1200.00"),
                                                                (other["id"], "50.00"))}))["createPayment"]["payment"]
        assert Decimal(created["totalAmount"]) == Decimal("1400.00")
        assert sorted((a["invoice"]["id"], Decimal(a["amount"])) for a in created["allocations"]) == sorted(
            [(invoice["id"], Decimal("1200.00")), (other["id"], Decimal("50.00"))])

        read = (await gw.query(READ_PAYMENT, {"c": CONN, "id": created["id"]}))["connection"]["payment"]
        assert (read["id"], Decimal(read["totalAmount"]), read["paymentDate"], read["reference"], read["currency"],
                read["account"]["nominalCode"], read["customer"]["id"]) == (
            created["id"], Decimal("1400.00"), "2026-11-15", "OVER-1", "GBP", "1200", r.customer)
        assert sorted((a["invoice"]["id"], Decimal(a["amount"])) for a in read["allocations"]) == sorted(
            (a["invoice"]["id"], Decimal(a["amount"])) for a in created["allocations"])

        paid = await read_invoice(gw, CONN, invoice["id"])
        assert paid is not None and paid["status"] == "PAID" and Decimal(paid["balance"]) == 0
        part = await read_invoice(gw, CONN, other["id"])
        assert part is not None and part["status"] == "PARTIALLY_PAID" and Decimal(part["balance"]) == Decimal("70.00")
        listed = await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { invoice(id: $id) { "
                                "payments { id totalAmount } } } }", {"c": CONN, "id": other["id"]})
        assert [(p["id"], Decimal(p["totalAmount"])) for p in listed["connection"]["invoice"]["payments"]] == [
            (created["id"], Decimal("1400.00"))]

        # Upstream: one overpayment for the whole amount, 150.00 of credit left on it.
        made = overpayments(gw)
        assert len(made) == before + 1
        mine = next(o for o in made if o["OverpaymentID"] == created["id"])
        assert (mine["Type"], mine["Total"], mine["RemainingCredit"], mine["Status"]) == (
            "RECEIVE-OVERPAYMENT", Decimal("1400.00"), Decimal("150.00"), "AUTHORISED")


async def test_unallocated_payment_and_overpaid_bill_payment() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        unapplied = (await gw.query(PAY, {"c": CONN, "i": payment(r, "75.00", reference="ON-ACCOUNT")}))
        made = unapplied["createPayment"]["payment"]
        assert Decimal(made["totalAmount"]) == Decimal("75.00") and made["allocations"] == []
        read = (await gw.query(READ_PAYMENT, {"c": CONN, "id": made["id"]}))["connection"]["payment"]
        assert Decimal(read["totalAmount"]) == Decimal("75.00") and read["allocations"] == []

        bill = (await gw.query(CREATE_BILL, {"c": CONN, "i": bill_input(r, "SUP-OVER")}))["createBill"]["bill"]
        body = await gw.query(PAY_BILLS, {"c": CONN, "i": {
            "supplierId": r.supplier, "accountId": r.accounts["1200"], "paymentDate": "2026-11-10",
            "currency": "GBP", "totalAmount": "200.00", "allocations": [{"billId": bill["id"], "amount": bill["total"]}]}})
        paid = body["createBillPayment"]["billPayment"]
        assert Decimal(paid["totalAmount"]) == Decimal("200.00")
        assert [(a["bill"]["id"], a["amount"]) for a in paid["allocations"]] == [(bill["id"], bill["total"])]
        read = await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { bill(id: $id) { status balance "
                              "payments { id totalAmount } } } }", {"c": CONN, "id": bill["id"]})
        got = read["connection"]["bill"]
        assert got["status"] == "PAID" and Decimal(got["balance"]) == 0
        assert [(p["id"], Decimal(p["totalAmount"])) for p in got["payments"]] == [(paid["id"], Decimal("200.00"))]
        spend = next(o for o in overpayments(gw) if o["OverpaymentID"] == paid["id"])
        assert spend["Type"] == "SPEND-OVERPAYMENT" and spend["RemainingCredit"] == Decimal("200.00") - \
            Decimal(bill["total"])


async def test_overpayment_validation_still_holds() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        invoice = await new_invoice(gw, r, CONN, "INV-OVER-V")
        before = len(overpayments(gw))
        gw.reset_counts()
        body = await gw.execute(PAY, {"c": CONN, "i": payment(r, "1300.00", (invoice["id"], "1250.00"))})
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["inputPath"] == ["input", "allocations", 0, "amount"]
        body = await gw.execute(PAY, {"c": CONN, "i": payment(r, "100.00", (invoice["id"], "150.00"))})
        assert codes(body) == ["BAD_USER_INPUT"]  # allocations beyond the payment itself
        assert len(overpayments(gw)) == before
        writes = [k for k in gw.sandboxes.emulators["XERO"].counter.snapshot()["byKind"] if not k.startswith("GET")]
        assert writes == []


async def test_overpayment_lost_midway_is_resumed_under_the_same_key() -> None:
    """The bank transaction is written, then the allocation's answer is lost: the error says what exists
    upstream; the retry with the same key allocates once and creates no second overpayment."""
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        invoice = await new_invoice(gw, r, CONN, "INV-OVER-L")
        http = gw.demo.gateway.connector(CONN).http
        real = http.request
        lost = {"left": 1}

        async def flaky(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            response = await real(method, path, *args, **kwargs)
            if path.endswith("/Allocations") and lost["left"]:
                lost["left"] -= 1
                raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, "Xero timed out", provider="XERO")
            return response

        http.request = flaky  # type: ignore[method-assign]
        before = len(overpayments(gw))
        data = payment(r, "1250.00", (invoice["id"], "1200.00"), reference="LOST-1")
        body = await gw.execute(PAY, {"c": CONN, "i": data, "k": "over-lost-1"})
        assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
        written = body["errors"][0]["extensions"]["written"]
        assert written["allocated"] is False
        assert [o["OverpaymentID"] for o in overpayments(gw)][before:] == [written["overpaymentId"]]

        again = await gw.query(PAY, {"c": CONN, "i": data, "k": "over-lost-1"})
        assert again["createPayment"]["payment"]["id"] == written["overpaymentId"]
        third = await gw.query(PAY, {"c": CONN, "i": data, "k": "over-lost-1"})
        assert third["createPayment"]["replayed"] is True
        assert third["createPayment"]["payment"]["id"] == written["overpaymentId"]
        made = overpayments(gw)[before:]
        assert len(made) == 1 and len(made[0]["Allocations"]) == 1
        assert made[0]["RemainingCredit"] == Decimal("50.00")
        read = await read_invoice(gw, CONN, invoice["id"])
        assert read is not None and read["status"] == "PAID" and Decimal(read["balance"]) == 0


async def test_overpayments_retried_under_faults_never_duplicate() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        invoices = [await new_invoice(gw, r, CONN, f"INV-OF-{n}", ("1", "10.00")) for n in range(15)]  # 12.00
        before = len(overpayments(gw))
        emulator = gw.sandboxes.emulators["XERO"]
        client = gw.demo.gateway.connector(CONN).http
        client.timeout = 0.1
        client.retry_policy.base_delay = 0.001
        emulator.faults.set(Faults(error5xx=0.2, timeout=0.2, timeoutMs=200, seed=5))
        for n, invoice in enumerate(invoices):
            data = payment(r, "20.00", (invoice["id"], "12.00"), reference=f"OF-{n}")
            answered = 0
            for _ in range(25):
                body = await gw.execute(PAY, {"c": CONN, "i": data, "k": f"over-fault-{n}"})
                if body.get("errors"):
                    assert codes(body) == ["UPSTREAM_UNAVAILABLE"], body["errors"]
                else:
                    answered += 1
                    if answered == 2:
                        break
            assert answered == 2, n
        emulator.faults.set(Faults())
        made = overpayments(gw)[before:]
        assert sorted(o["Reference"] for o in made) == sorted(f"OF-{n}" for n in range(15))
        assert all(len(o["Allocations"]) == 1 and o["RemainingCredit"] == Decimal("8.00") for o in made)
        for invoice in invoices:
            read = await read_invoice(gw, CONN, invoice["id"])
            assert read is not None and read["status"] == "PAID"
