"""Unified records → NetSuite record/v1 create bodies.

`POST /record/v1/{type}` answers 204 with the new record's URL in `Location`; the connector then reads
the record back through SuiteQL, so a create answers exactly what a later read does.

References are `{"id": "<internal id>"}`; tracking options "department:<id>" / "location:<id>" become the
line's `department` / `location`; currencies are referenced by internal id (looked up by ISO code).
Amounts stay Decimals (the http client writes them exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerql.connectors.base import Connector
from ledgerql.model import entities as m
from ledgerql.model.enums import PostingType, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

#: the record/v1 type each unified resource is created as
RECORD_TYPES: dict[Resource, str] = {
    Resource.INVOICES: "invoice",
    Resource.BILLS: "vendorBill",
    Resource.CREDIT_NOTES: "creditMemo",
    Resource.PAYMENTS: "customerPayment",
    Resource.BILL_PAYMENTS: "vendorPayment",
    Resource.EXPENSES: "expenseReport",
    Resource.PURCHASE_ORDERS: "purchaseOrder",
    Resource.JOURNAL_ENTRIES: "journalEntry",
    Resource.CUSTOMERS: "customer",
    Resource.SUPPLIERS: "vendor",
}

#: the SuiteQL table of an entity resource (for finding a record by externalId)
ENTITY_TABLES: dict[Resource, str] = {Resource.CUSTOMERS: "customer", Resource.SUPPLIERS: "vendor"}

CurrencyRef = Callable[[str], dict[str, str]]


def ref(internal_id: Any) -> dict[str, str]:
    return {"id": str(internal_id)}


def tracking(ids: list[str]) -> dict[str, dict[str, str]]:
    """A line's department / location from unified tracking option ids."""
    out: dict[str, dict[str, str]] = {}
    for value in ids:
        dimension, _, internal = str(value).partition(":")
        if dimension in ("department", "location") and internal and dimension not in out:
            out[dimension] = ref(internal)
    return out


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def doc_line(line: m.LineItem, *, account_field: str, text_field: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        account_field: ref(line.account_id) if line.account_id else None,
        text_field: line.description,
        "quantity": line.quantity,
        "rate": line.unit_price,
        "amount": line.total_amount,
    }
    if line.tax_rate_id:
        body["taxCode"] = ref(line.tax_rate_id)
        if line.tax_amount is not None:
            body["tax1Amt"] = line.tax_amount
    body.update(tracking(line.tracking_category_ids))
    return _drop_none(body)


def _apply(allocations: list[m.Allocation]) -> dict[str, Any] | None:
    if not allocations:
        return None
    return {"items": [{"doc": ref(a.document_id), "apply": True, "amount": a.amount} for a in allocations]}


def build_payload(resource: Resource, record: m.Record, currency: CurrencyRef) -> dict[str, Any]:
    """The record/v1 create body of a unified record (validated, totals computed)."""
    if isinstance(record, m.Contact):
        return _drop_none({"entityId": record.display_name, "companyName": record.company_name or record.display_name,
                           "email": record.email, "currency": currency(record.currency) if record.currency else None})
    if isinstance(record, m.Invoice):
        return _drop_none({
            "entity": ref(record.customer_id), "tranId": record.number, "tranDate": record.invoice_date.isoformat(),
            "dueDate": record.due_date.isoformat() if record.due_date else None,
            "currency": currency(record.currency), "exchangeRate": record.exchange_rate,
            "item": {"items": [doc_line(x, account_field="account", text_field="description")
                               for x in record.line_items]}})
    if isinstance(record, m.CreditNote):
        return _drop_none({
            "entity": ref(record.customer_id), "tranId": record.number, "tranDate": record.issue_date.isoformat(),
            "currency": currency(record.currency), "exchangeRate": record.exchange_rate,
            "item": {"items": [doc_line(x, account_field="account", text_field="description")
                               for x in record.line_items]},
            "apply": _apply(record.allocations)})
    if isinstance(record, m.Bill):
        return _drop_none({
            "entity": ref(record.supplier_id), "tranId": record.number, "tranDate": record.bill_date.isoformat(),
            "dueDate": record.due_date.isoformat() if record.due_date else None,
            "currency": currency(record.currency), "exchangeRate": record.exchange_rate,
            "expense": {"items": [doc_line(x, account_field="account", text_field="memo")
                                  for x in record.line_items]}})
    if isinstance(record, m.PurchaseOrder):
        return _drop_none({
            "entity": ref(record.supplier_id), "tranId": record.number, "tranDate": record.order_date.isoformat(),
            "dueDate": record.delivery_date.isoformat() if record.delivery_date else None,
            "currency": currency(record.currency),
            "expense": {"items": [doc_line(x, account_field="account", text_field="memo")
                                  for x in record.line_items]}})
    if isinstance(record, m.Expense):
        return _drop_none({
            "entity": ref(record.supplier_id) if record.supplier_id else None,
            "account": ref(record.account_id) if record.account_id else None,
            "tranId": record.number, "tranDate": record.transaction_date.isoformat(),
            "expensereportcurrency": currency(record.currency),
            "expense": {"items": [doc_line(x, account_field="expenseaccount", text_field="memo")
                                  for x in record.line_items]}})
    if isinstance(record, m.Payment):
        return _drop_none({
            "customer": ref(record.customer_id), "account": ref(record.account_id) if record.account_id else None,
            "tranId": record.reference, "tranDate": record.payment_date.isoformat(),
            "currency": currency(record.currency), "payment": record.total_amount,
            "apply": _apply(record.allocations)})
    if isinstance(record, m.BillPayment):
        return _drop_none({
            "entity": ref(record.supplier_id), "account": ref(record.account_id) if record.account_id else None,
            "tranId": record.reference, "tranDate": record.payment_date.isoformat(),
            "currency": currency(record.currency), "total": record.total_amount,
            "apply": _apply(record.allocations)})
    if isinstance(record, m.JournalEntry):
        lines = []
        for line in record.line_items:
            side = "debit" if line.type == PostingType.DEBIT else "credit"
            amount: Decimal = line.amount
            lines.append(_drop_none({"account": ref(line.account_id), side: amount, "memo": line.description,
                                     **tracking(line.tracking_category_ids)}))
        return _drop_none({"tranId": record.number, "tranDate": record.posting_date.isoformat(),
                           "memo": record.description, "currency": currency(record.currency),
                           "line": {"items": lines}})
    raise TypeError(f"no NetSuite create body for {type(record).__name__}")


def sql_text(value: str) -> str:
    """A SuiteQL string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def id_from_location(location: str) -> str:
    """The internal id at the end of a create's `Location` URL."""
    return location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


# --- updates and deletes -------------------------------------------------------------------------

# What this connector's PATCH changes (unified update fields): a transaction's header (number, dates)
# and an entity's names and email. Lines are not patched: NetSuite merges sublist lines by line id
# unless told to replace them, and this connector does not yet keep line ids.
UPDATABLE: dict[Resource, frozenset[str]] = {
    Resource.INVOICES: frozenset({"number", "invoice_date", "due_date"}),
    Resource.BILLS: frozenset({"number", "bill_date", "due_date"}),
    Resource.CUSTOMERS: frozenset({"display_name", "company_name", "email"}),
    Resource.SUPPLIERS: frozenset({"display_name", "company_name", "email"}),
    Resource.PURCHASE_ORDERS: frozenset({"number", "order_date", "delivery_date"}),
    Resource.JOURNAL_ENTRIES: frozenset({"number", "posting_date", "description"}),
    Resource.CREDIT_NOTES: frozenset({"number", "issue_date"}),
    Resource.PAYMENTS: frozenset({"payment_date", "reference"}),
    Resource.BILL_PAYMENTS: frozenset({"payment_date", "reference"}),
    Resource.EXPENSES: frozenset({"number", "transaction_date"}),
}


def patch_body(record: m.Record, changed: frozenset[str]) -> dict[str, Any]:
    """Only the fields the client changed (PATCH leaves the others alone)."""
    body: dict[str, Any] = {}
    if isinstance(record, m.Contact):
        fields = {"display_name": ("entityId", record.display_name),
                  "company_name": ("companyName", record.company_name), "email": ("email", record.email)}
    elif isinstance(record, m.Invoice | m.Bill):
        issued = record.invoice_date if isinstance(record, m.Invoice) else record.bill_date
        fields = {"number": ("tranId", record.number), "invoice_date": ("tranDate", issued.isoformat()),
                  "bill_date": ("tranDate", issued.isoformat()),
                  "due_date": ("dueDate", record.due_date.isoformat() if record.due_date else None)}
    elif isinstance(record, m.PurchaseOrder):
        fields = {"number": ("tranId", record.number), "order_date": ("tranDate", record.order_date.isoformat()),
                  "delivery_date": ("dueDate", record.delivery_date.isoformat() if record.delivery_date else None)}
    elif isinstance(record, m.JournalEntry):
        fields = {"number": ("tranId", record.number), "posting_date": ("tranDate", record.posting_date.isoformat()),
                  "description": ("memo", record.description)}
    elif isinstance(record, m.CreditNote):
        fields = {"number": ("tranId", record.number), "issue_date": ("tranDate", record.issue_date.isoformat())}
    elif isinstance(record, m.Payment | m.BillPayment):
        fields = {"reference": ("tranId", record.reference),
                  "payment_date": ("tranDate", record.payment_date.isoformat())}
    elif isinstance(record, m.Expense):
        fields = {"number": ("tranId", record.number),
                  "transaction_date": ("tranDate", record.transaction_date.isoformat())}
    else:
        return body
    for name in changed:
        if name in fields:
            key, value = fields[name]
            body[key] = value
    return body


class NetSuiteWrites(Connector):
    """The update/delete half of the NetSuite connector: `PATCH` / `DELETE /record/v1/{type}/{id}`
    (204), then a SuiteQL read of the record as NetSuite now holds it."""

    def updatable_fields(self, resource: Resource) -> frozenset[str] | None:
        return UPDATABLE.get(resource, frozenset())

    async def update_record(self, resource: Resource, record: m.Record, current: m.Record, *,
                            changed: frozenset[str], idempotency_key: str | None) -> m.Record:
        record_type = RECORD_TYPES.get(resource)
        if record_type is None or resource not in UPDATABLE:
            return await super().update_record(resource, record, current, changed=changed,
                                               idempotency_key=idempotency_key)
        await self.http.request("PATCH", f"/record/v1/{record_type}/{current.id}",
                                json_body=patch_body(record, changed))
        found = (await self.fetch_by_ids(resource, [current.id])).get(current.id)
        if found is None:
            raise LedgerQLError(ErrorCode.NOT_FOUND, f"NetSuite no longer has {record_type} {current.id}",
                                connectionId=self.config.id)
        return found

    async def delete_record(self, resource: Resource, current: m.Record, *, idempotency_key: str | None) -> None:
        record_type = RECORD_TYPES.get(resource)
        if record_type is None:
            return await super().delete_record(resource, current, idempotency_key=idempotency_key)
        await self.http.request("DELETE", f"/record/v1/{record_type}/{current.id}")
