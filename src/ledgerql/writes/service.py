"""One write, start to end: validate, build the unified record, make it idempotent, create it.

    validate (every problem at once, no upstream write)
      → build the record (line tax and totals computed by the domain rules)
      → dry run? answer the verdict
      → idempotency record (durable): a finished key answers its first result; the same key with
        another input is a CONFLICT; an unfinished key resumes with the steps it recorded
      → connector.create (the provider's own idempotency where it has one)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledgerql.connectors.base import Connector, WriteProgress
from ledgerql.loaders import Loaders
from ledgerql.model import entities as m
from ledgerql.model.enums import DocumentStatus, Operation, PurchaseOrderStatus, Resource, Source, Support
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.model.rules import line_tax
from ledgerql.store.idempotency import DONE, IdempotencyStore, WriteRecord
from ledgerql.writes.validation import Checker, ValidationFailed, tax_rate_of, validate


@dataclass
class WriteResult:
    record: m.Record | None
    replayed: bool = False
    dry_run: bool = False


def input_hash(operation: str, data: dict[str, Any]) -> str:
    canonical = json.dumps({"operation": operation, "input": data}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lines(checker: Checker, lines: list[dict[str, Any]]) -> list[m.LineItem]:
    result = []
    for index, line in enumerate(lines):
        net = line.get("total_amount")
        if net is None:
            net = line["quantity"] * line["unit_price"]
        result.append(m.LineItem(
            id=str(index + 1), description=line.get("description"), quantity=line.get("quantity"),
            unit_price=line.get("unit_price"), total_amount=net,
            tax_amount=line_tax(net, tax_rate_of(checker, line.get("tax_rate_id"))),
            account_id=line.get("account_id"), tax_rate_id=line.get("tax_rate_id"),
            tracking_category_ids=list(line.get("tracking_category_ids") or [])))
    return result


def _totals(lines: list[m.LineItem]) -> dict[str, Decimal]:
    sub_total = sum((x.total_amount for x in lines), Decimal("0.00"))
    total_tax = sum((x.tax_amount or Decimal(0) for x in lines), Decimal("0.00"))
    return {"sub_total": sub_total, "total_tax": total_tax}


def _journal_line(index: int, line: dict[str, Any]) -> m.JournalLine:
    return m.JournalLine(id=str(index + 1), account_id=line["account_id"], type=line["type"], amount=line["amount"],
                         description=line.get("description"),
                         tracking_category_ids=list(line.get("tracking_category_ids") or []))


def build_record(resource: Resource, data: dict[str, Any], checker: Checker) -> m.Record:
    """The unified record to create, with everything the domain rules derive."""
    now = datetime.now(UTC)
    common = {"id": "", "updated_at": now}
    if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
        kind = m.Customer if resource == Resource.CUSTOMERS else m.Supplier
        return kind(**common, display_name=data["display_name"].strip(), company_name=data.get("company_name"),
                    email=data.get("email"), currency=data.get("currency"))
    if resource == Resource.JOURNAL_ENTRIES:
        return m.JournalEntry(**common, number=data.get("number"), journal_id=data.get("journal_id"),
                              posting_date=data["posting_date"], currency=data["currency"],
                              description=data.get("description"),
                              line_items=[_journal_line(i, x) for i, x in enumerate(data["line_items"])])
    if resource in (Resource.PAYMENTS, Resource.BILL_PAYMENTS):
        allocations = [m.Allocation(document_id=a["document_id"], amount=a["amount"])
                       for a in data.get("allocations") or []]
        if resource == Resource.PAYMENTS:
            return m.Payment(**common, reference=data.get("reference"), customer_id=data["customer_id"],
                             account_id=data["account_id"], payment_date=data["payment_date"],
                             total_amount=data["total_amount"], currency=data["currency"], allocations=allocations)
        return m.BillPayment(**common, reference=data.get("reference"), supplier_id=data["supplier_id"],
                             account_id=data["account_id"], payment_date=data["payment_date"],
                             total_amount=data["total_amount"], currency=data["currency"], allocations=allocations)
    lines = _lines(checker, data.get("line_items") or [])
    totals = _totals(lines)
    total = totals["sub_total"] + totals["total_tax"]
    if resource == Resource.INVOICES:
        return m.Invoice(**common, **totals, number=data.get("number"), customer_id=data["customer_id"],
                         invoice_date=data["invoice_date"], due_date=data.get("due_date"), currency=data["currency"],
                         exchange_rate=data.get("exchange_rate"), line_items=lines, total=total, balance=total,
                         status=DocumentStatus.AUTHORISED)
    if resource == Resource.BILLS:
        return m.Bill(**common, **totals, number=data.get("number"), supplier_id=data["supplier_id"],
                      bill_date=data["bill_date"], due_date=data.get("due_date"), currency=data["currency"],
                      exchange_rate=data.get("exchange_rate"), line_items=lines, total=total, balance=total,
                      status=DocumentStatus.AUTHORISED)
    if resource == Resource.CREDIT_NOTES:
        allocations = [m.Allocation(document_id=a["document_id"], amount=a["amount"])
                       for a in data.get("allocations") or []]
        allocated = sum((a.amount for a in allocations), Decimal(0))
        if allocated > total:
            raise ValidationFailed([LedgerQLError(ErrorCode.BAD_USER_INPUT,
                                                  f"allocations total {allocated}, more than the credit note's {total}",
                                                  inputPath=["input", "allocations"])])
        return m.CreditNote(**common, **totals, number=data.get("number"), customer_id=data["customer_id"],
                            issue_date=data["issue_date"], currency=data["currency"],
                            exchange_rate=data.get("exchange_rate"), line_items=lines, total=total,
                            balance=total - allocated, allocations=allocations,
                            status=DocumentStatus.PAID if allocated == total else DocumentStatus.AUTHORISED)
    if resource == Resource.PURCHASE_ORDERS:
        return m.PurchaseOrder(**common, **totals, number=data.get("number"), supplier_id=data["supplier_id"],
                               order_date=data["order_date"], delivery_date=data.get("delivery_date"),
                               currency=data["currency"], line_items=lines, total=total,
                               status=PurchaseOrderStatus.OPEN)
    if resource == Resource.EXPENSES:
        return m.Expense(**common, **totals, number=data.get("number"), supplier_id=data.get("supplier_id"),
                         account_id=data["account_id"], transaction_date=data["transaction_date"],
                         currency=data["currency"], line_items=lines, total_amount=total, source=Source.NATIVE)
    raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"{resource.value} cannot be created")


async def base_currency(connector: Connector) -> str | None:
    """The company's home currency, when the provider tells it (None if it cannot)."""
    if connector.support(Resource.COMPANY_INFO, Operation.GET) == Support.UNSUPPORTED:
        return None
    company = await connector.company_info()
    return company.base_currency if company else None


async def perform_create(*, connector: Connector, loaders: Loaders, store: IdempotencyStore, resource: Resource,
                         data: dict[str, Any], idempotency_key: str | None, dry_run: bool) -> WriteResult:
    connector.require(resource, Operation.CREATE)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 128):
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "idempotencyKey must be 1 to 128 characters",
                            argument="idempotencyKey")
    connector.check_write(resource, Operation.CREATE, data)
    connection_id = connector.config.id
    operation = f"create:{resource.value}"
    digest = input_hash(operation, data)

    existing: WriteRecord | None = None
    if idempotency_key and not dry_run:
        existing = await store.begin(WriteRecord(connection_id, idempotency_key, operation, digest))
        if existing.input_hash != digest or existing.operation != operation:
            raise LedgerQLError(ErrorCode.CONFLICT, "This idempotency key was used with a different input",
                                idempotencyKey=idempotency_key)
        if existing.status == DONE and existing.result_id:
            found = await connector.get_many(resource, [existing.result_id])
            record = found.get(existing.result_id)
            if record is None:
                raise LedgerQLError(ErrorCode.NOT_FOUND, "The record this key created no longer exists upstream")
            return WriteResult(record=record, replayed=True)

    currency = await base_currency(connector) if resource in (
        Resource.INVOICES, Resource.BILLS, Resource.CREDIT_NOTES) else None
    resumed = existing is not None and bool(existing.progress.get("attempted"))
    checker = await validate(resource, data, loaders, connection_id, currency, resumed=resumed)
    record = build_record(resource, data, checker)
    if dry_run:
        return WriteResult(record=None, dry_run=True)

    async def save(steps: dict[str, Any]) -> None:
        if existing is not None:
            existing.progress = steps
            await store.save(existing)

    progress = WriteProgress(existing.progress if existing else None, save)
    created: m.Record | None = None
    if existing is not None and existing.progress.get("attempted"):
        # An earlier attempt may have written before its answer was lost: look before writing again.
        created = await connector.find_created(resource, idempotency_key or "")
    if created is None:
        await progress.mark("attempted", True)
        created = await connector.create(resource, record, idempotency_key=idempotency_key, progress=progress)
    if existing is not None:
        existing.status, existing.result_id = DONE, created.id
        await store.save(existing)
    return WriteResult(record=created)
