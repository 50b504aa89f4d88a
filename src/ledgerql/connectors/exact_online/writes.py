"""Exact Online create payloads: unified records (this connection's ids) → Exact's POST bodies.

Exact has no idempotency header: the gateway's key is written into the record (`Description` of
entries and orders, `Notes` of bank and general journal lines) as `KEY_PREFIX + key`, where
`find_created` looks for it with one `$filter` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerql.connectors.base import Connector
from ledgerql.connectors.exact_online.convert import Dimensions
from ledgerql.model import entities as m
from ledgerql.model.enums import Operation, PostingType, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

KEY_PREFIX = "ledgerql-key:"


def marker(key: str | None) -> str | None:
    return None if key is None else KEY_PREFIX + key


def edm(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def tracking_codes(dims: Dimensions, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ident in ids:
        if ident.startswith(dims.center_prefix):
            out.setdefault("CostCenter", ident.removeprefix(dims.center_prefix))
        elif ident.startswith(dims.unit_prefix):
            out.setdefault("CostUnit", ident.removeprefix(dims.unit_prefix))
    return out


def entry_lines(lines: list[m.LineItem], dims: Dimensions) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        body: dict[str, Any] = {"GLAccount": line.account_id, "Description": line.description,
                                "AmountFC": line.total_amount, "VATAmountFC": line.tax_amount or Decimal("0.00")}
        if line.quantity is not None:
            body["Quantity"] = line.quantity
        if line.tax_rate_id:
            body["VATCode"] = line.tax_rate_id
        body.update(tracking_codes(dims, line.tracking_category_ids))
        out.append(body)
    return out


def entry(*, party_field: str, party: str | None, entry_date: date, due_date: date | None, currency: str,
          rate: Decimal | None, number: str | None, lines: list[m.LineItem], lines_name: str, dims: Dimensions,
          key: str | None, entry_type: int | None = None, payment_reference: str | None = None
          ) -> dict[str, Any]:
    body: dict[str, Any] = {party_field: party, "EntryDate": edm(entry_date), "Currency": currency,
                            lines_name: entry_lines(lines, dims)}
    if due_date is not None:
        body["DueDate"] = edm(due_date)
    if rate is not None:
        body["Rate"] = rate
    if number:
        body["YourRef"] = number
    description = marker(key) or number
    if description:
        body["Description"] = description
    if entry_type is not None:
        body["Type"] = entry_type
    if payment_reference is not None:
        body["PaymentReference"] = payment_reference
    return body


def bank_entry(*, journal_code: str, currency: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"JournalCode": journal_code, "Currency": currency, "BankEntryLines": lines}


def bank_line(*, party: str | None, our_ref: int | None, amount: Decimal, on: date, description: str | None,
              key: str | None) -> dict[str, Any]:
    line: dict[str, Any] = {"Account": party, "AmountFC": amount, "Date": edm(on), "Description": description}
    if our_ref is not None:
        line["OurRef"] = our_ref
    if key is not None:
        line["Notes"] = marker(key)
    return line


def journal_entry(record: m.JournalEntry, journal_code: str, dims: Dimensions, key: str | None) -> dict[str, Any]:
    lines = []
    for index, line in enumerate(record.line_items):
        amount = line.amount if line.type == PostingType.DEBIT else -line.amount
        body: dict[str, Any] = {"GLAccount": line.account_id, "AmountFC": amount, "Date": edm(record.posting_date),
                                "Description": line.description or record.description}
        notes = record.number if index == 0 else marker(key)
        if notes:
            body["Notes"] = notes
        body.update(tracking_codes(dims, line.tracking_category_ids))
        lines.append(body)
    return {"JournalCode": journal_code, "Currency": record.currency, "FinancialYear": record.posting_date.year,
            "FinancialPeriod": record.posting_date.month, "GeneralJournalEntryLines": lines}


def purchase_order(record: m.PurchaseOrder, dims: Dimensions, key: str | None) -> dict[str, Any]:
    lines = []
    for line in record.line_items:
        body: dict[str, Any] = {"Description": line.description, "Quantity": line.quantity or Decimal(1),
                                "AmountFC": line.total_amount, "VATAmount": line.tax_amount or Decimal("0.00")}
        if line.unit_price is not None:
            body["UnitPrice"] = line.unit_price
        if line.account_id:
            body["GLAccount"] = line.account_id
        if line.tax_rate_id:
            body["VATCode"] = line.tax_rate_id
        body.update(tracking_codes(dims, line.tracking_category_ids))
        lines.append(body)
    body = {"Supplier": record.supplier_id, "OrderDate": edm(record.order_date), "Currency": record.currency,
            "PurchaseOrderLines": lines}
    if record.delivery_date:
        body["ReceiptDate"] = edm(record.delivery_date)
    if record.number:
        body["YourRef"] = record.number
    description = marker(key) or record.number
    if description:
        body["Description"] = description
    return body


def account(record: m.Customer | m.Supplier, customer: bool, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": record.display_name, "IsSales": customer, "IsSupplier": not customer,
                            "Status": "C" if customer else "A"}
    if key is not None:  # an account's free-text field; `find_created` looks for it
        body["Remarks"] = marker(key)
    if record.email:
        body["Email"] = record.email
    if record.currency:
        body["SalesCurrency" if customer else "PurchaseCurrency"] = record.currency
    return body


# --- updates and deletes -------------------------------------------------------------------------

# What Exact's PUT can change (unified update fields): an entry's header references and due date (its
# lines and dates are fixed once posted; they change by a reversal), an account's name and email.
# A credit note is a sales entry and an expense a purchase entry due at once: only their reference
# changes (an expense's due date is what makes it one). Bank entries (payments) take no PUT at all.
UPDATABLE: dict[Resource, frozenset[str]] = {
    Resource.INVOICES: frozenset({"number", "due_date"}),
    Resource.BILLS: frozenset({"number", "due_date"}),
    Resource.CREDIT_NOTES: frozenset({"number"}),
    Resource.EXPENSES: frozenset({"number"}),
    Resource.CUSTOMERS: frozenset({"display_name", "email"}),
    Resource.SUPPLIERS: frozenset({"display_name", "email"}),
}
_PATHS = {Resource.INVOICES: "salesentry/SalesEntries", Resource.BILLS: "purchaseentry/PurchaseEntries",
          Resource.CREDIT_NOTES: "salesentry/SalesEntries", Resource.EXPENSES: "purchaseentry/PurchaseEntries",
          Resource.CUSTOMERS: "crm/Accounts", Resource.SUPPLIERS: "crm/Accounts"}


def update_body(record: m.Record, changed: frozenset[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if isinstance(record, m.Contact):
        if "display_name" in changed:
            body["Name"] = record.display_name
        if "email" in changed:
            body["Email"] = record.email
    elif isinstance(record, m.Invoice | m.Bill):
        if "number" in changed:
            body["YourRef"] = record.number
        if "due_date" in changed and record.due_date is not None:
            body["DueDate"] = edm(record.due_date)
    elif isinstance(record, m.CreditNote | m.Expense) and "number" in changed:
        body["YourRef"] = record.number
    return body


class ExactWrites(Connector):
    """The update/delete half of the Exact Online connector: `PUT` / `DELETE` on `{Entity}(guid'..')`
    (204 No Content), then a read of the record as Exact now holds it."""

    _by_id_cache: dict[tuple[Resource, str], tuple[float, m.Record]]

    async def _read_back(self, resource: Resource, ident: str) -> m.Record:
        raise NotImplementedError

    async def fetch_balances(self, resource: Resource, ids: Sequence[str]) -> dict[str, Decimal]:
        raise NotImplementedError

    def updatable_fields(self, resource: Resource) -> frozenset[str] | None:
        return UPDATABLE.get(resource, frozenset())

    def bill_due_date(self, bill_date: date, due_date: date | None) -> date:
        """The due date a bill is written with: the one given, else the bill date plus the mapping's
        `bill_default_due_days`. Never left to Exact's own default (the supplier's payment condition,
        which may be "immediate"), so that what is written is what was checked."""
        if due_date is not None:
            return due_date
        return bill_date + timedelta(days=int(self.mapping.quirks.get("bill_default_due_days", 30)))

    def check_write(self, resource: Resource, operation: Operation, data: dict[str, Any],
                    current: m.Record | None = None) -> None:
        """A purchase entry due on its entry date IS an expense on Exact (the read side lists it as one, not
        as a bill), so a bill due on its bill date would silently turn into an expense: refused."""
        if resource != Resource.BILLS or not isinstance(data.get("bill_date"), date):
            return
        given = data.get("due_date")
        if self.bill_due_date(data["bill_date"], given) != data["bill_date"]:
            return
        why = "is" if given is not None else "would default to"
        raise LedgerQLError(
            ErrorCode.BAD_USER_INPUT,
            f"On Exact Online a purchase entry due on its entry date is an expense, not a bill: this bill's due "
            f"date {why} its bill date {data['bill_date'].isoformat()}. Use createExpense for an already-paid "
            "purchase, or give a due date after the bill date.", inputPath=["input", "dueDate"],
            provider="EXACT_ONLINE")

    def _forget(self, resource: Resource, ident: str) -> None:
        self._by_id_cache.pop((resource, ident), None)

    async def update_record(self, resource: Resource, record: m.Record, current: m.Record, *,
                            changed: frozenset[str], idempotency_key: str | None) -> m.Record:
        path = _PATHS.get(resource)
        if path is None:
            return await super().update_record(resource, record, current, changed=changed,
                                               idempotency_key=idempotency_key)
        await self.http.request("PUT", f"/{path}(guid'{current.id}')", json_body=update_body(record, changed),
                                headers={"Accept": "application/json"})
        self._forget(resource, current.id)
        return await self._read_back(resource, current.id)

    async def delete_record(self, resource: Resource, current: m.Record, *, idempotency_key: str | None) -> None:
        path = _PATHS.get(resource)
        if path is None:
            return await super().delete_record(resource, current, idempotency_key=idempotency_key)
        await self.http.request("DELETE", f"/{path}(guid'{current.id}')", headers={"Accept": "application/json"})
        self._forget(resource, current.id)

    async def check_credit_allocations(self, record: m.CreditNote) -> None:
        """Exact matches a credit note with ONE invoice (the invoice's entry number as the credit note's
        payment reference), in full: the smaller of the two is used up. So an allocation is written only
        when it is exactly that amount; any other amount is refused before anything is written, rather
        than silently allocating a different one."""
        if not record.allocations:
            return
        if len(record.allocations) > 1:
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "Exact Online matches a credit note with one invoice; "
                                "give one allocation", inputPath=["input", "allocations", 1], provider="EXACT_ONLINE")
        allocation = record.allocations[0]
        owed = (await self.fetch_balances(Resource.INVOICES, [allocation.document_id])).get(allocation.document_id)
        if owed is None:
            return  # the create's own checks name the unknown invoice
        applied = min(record.total, owed)
        if allocation.amount != applied:
            raise LedgerQLError(
                ErrorCode.BAD_USER_INPUT,
                f"Exact Online applies a credit note to an invoice in full, up to what the invoice owes: this "
                f"allocation can only be {applied} (credit {record.total}, invoice owes {owed}), not "
                f"{allocation.amount}", inputPath=["input", "allocations", 0, "amount"], provider="EXACT_ONLINE")
