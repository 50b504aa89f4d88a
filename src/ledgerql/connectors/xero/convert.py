"""Xero records → unified models.

Simple scalar fields come from providers/xero.yaml through `extract()`; what data cannot say lives
here: line items (net of tax when Xero's amounts are tax-inclusive), tracking, statuses derived from
balances, payments (a plain Payment, a BatchPayment over several documents, an Overpayment with its
allocations) and signed manual journal lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledgerql.connectors.mapping import CONVERTERS, ProviderMapping, dig, extract
from ledgerql.model import entities as m
from ledgerql.model.enums import AccountType, DocumentStatus, PostingType, RecordStatus, Resource, Source
from ledgerql.model.rules import derived_status

ZERO = Decimal("0.00")
ONE = Decimal(1)

# Xero account Type → unified type (Class decides the rest).
_CLASS_TYPES = {"ASSET": AccountType.ASSET, "LIABILITY": AccountType.LIABILITY, "EQUITY": AccountType.EQUITY,
                "REVENUE": AccountType.REVENUE, "EXPENSE": AccountType.EXPENSE}


def dec(value: Any) -> Decimal | None:
    return CONVERTERS["decimal"](value)


def ms_date(value: Any) -> Any:
    return CONVERTERS["ms_date"](value)


def ms_datetime(value: Any) -> Any:
    return CONVERTERS["ms_datetime"](value)


def blank_none(value: Any) -> Any:
    return None if value == "" else value


class Resolver:
    """Looks up what a line may name only by code or name (AccountCode, tracking Name/Option)."""

    def __init__(self, account_ids_by_code: dict[str, str] | None = None,
                 options_by_name: dict[tuple[str, str], str] | None = None) -> None:
        self.account_ids_by_code = account_ids_by_code or {}
        self.options_by_name = options_by_name or {}

    def account(self, line: dict[str, Any]) -> str | None:
        if line.get("AccountID"):
            return str(line["AccountID"])
        code = line.get("AccountCode")
        return self.account_ids_by_code.get(str(code)) if code not in (None, "") else None

    def tracking(self, entries: Iterable[dict[str, Any]] | None) -> list[str]:
        result = []
        for entry in entries or []:
            option = entry.get("TrackingOptionID") or self.options_by_name.get(
                (str(entry.get("Name", "")).lower(), str(entry.get("Option", "")).lower()))
            if option:
                result.append(str(option))
        return result


def needs_lookup(records: Iterable[dict[str, Any]], lines_key: str = "LineItems") -> tuple[bool, bool]:
    """Whether any line names its account only by code, or a tracking option only by name."""
    accounts = tracking = False
    for record in records:
        for line in record.get(lines_key) or []:
            if not line.get("AccountID") and line.get("AccountCode"):
                accounts = True
            if any(not t.get("TrackingOptionID") for t in line.get("Tracking") or []):
                tracking = True
    return accounts, tracking


class Converter:
    def __init__(self, mapping: ProviderMapping) -> None:
        self.mapping = mapping
        self.rate_places = Decimal(1).scaleb(-int(mapping.quirks.get("exchange_rate_places", 4)))

    def fields(self, resource: Resource, record: dict[str, Any]) -> dict[str, Any]:
        values = extract(record, self.mapping.resource(resource).field_specs())
        return {k: blank_none(v) for k, v in values.items()}

    # -- reference data --------------------------------------------------------------------------
    def ledger_account(self, record: dict[str, Any], base_currency: str | None) -> m.LedgerAccount:
        """`base_currency` None: not known yet, so an account in it (no CurrencyCode) defers its currency."""
        values = self.fields(Resource.LEDGER_ACCOUNTS, record)
        kind = AccountType.BANK if record.get("Type") == "BANK" else \
            _CLASS_TYPES.get(str(record.get("Class")), AccountType.OTHER)
        values["currency"] = values.get("currency") or base_currency
        deferred = frozenset() if values["currency"] else frozenset({"currency"})
        return m.LedgerAccount(type=kind, raw=record, deferred=deferred, **values)

    def bank_account(self, record: dict[str, Any]) -> m.BankAccount:
        return m.BankAccount(raw=record, **self.fields(Resource.BANK_ACCOUNTS, record))

    def contact(self, resource: Resource, record: dict[str, Any]) -> m.Contact:
        values = self.fields(resource, record)
        cls = m.Customer if resource == Resource.CUSTOMERS else m.Supplier
        return cls(raw=record, **values)

    def tax_rate(self, record: dict[str, Any]) -> m.TaxRate:
        values = self.fields(Resource.TAX_RATES, record)
        values["code"] = values.get("code") or record.get("TaxType")
        if values.get("rate") is None:
            values["rate"] = dec(record.get("DisplayTaxRate")) or Decimal(0)
        return m.TaxRate(raw=record, **values)

    def tracking(self, categories: list[dict[str, Any]]) -> list[m.TrackingCategory]:
        result: list[m.TrackingCategory] = []
        for category in categories:
            root = self.fields(Resource.TRACKING_CATEGORIES, category)
            result.append(m.TrackingCategory(raw=category, **root))
            for option in category.get("Options") or []:
                result.append(m.TrackingCategory(
                    id=option["TrackingOptionID"], name=option["Name"], parent_id=root["id"],
                    status=_option_status(option), raw=option))
        return result

    def dimension_options(self, resource: Resource, categories: list[dict[str, Any]],
                          category_name: str) -> list[m.Record]:
        cls: type[m.Department] | type[m.Location] = m.Department if resource == Resource.DEPARTMENTS \
            else m.Location
        result: list[m.Record] = []
        for category in categories:
            if str(category.get("Name", "")).lower() != category_name.lower():
                continue
            for option in category.get("Options") or []:
                result.append(cls(id=option["TrackingOptionID"], name=option["Name"],
                                  parent_id=category["TrackingCategoryID"], status=_option_status(option),
                                  raw=option))
        return result

    def company(self, record: dict[str, Any]) -> m.CompanyInfo:
        values = self.fields(Resource.COMPANY_INFO, record)
        end_month = record.get("FinancialYearEndMonth")
        end_day = record.get("FinancialYearEndDay")
        start = None
        if isinstance(end_month, int) and 1 <= end_month <= 12:
            # A year ending on the last day of month M starts on the 1st of M + 1.
            start = end_month % 12 + 1 if (end_day or 31) >= 28 else end_month
        values["legal_name"] = values.get("legal_name") or values.get("name")
        return m.CompanyInfo(fiscal_year_start_month=start, raw=record, **values)

    # -- documents -------------------------------------------------------------------------------
    def exchange_rate(self, record: dict[str, Any]) -> Decimal | None:
        """Xero: document currency per one unit of base currency; unified: base per one document unit."""
        rate = dec(record.get("CurrencyRate"))
        if rate is None or rate == 0 or rate == ONE:
            return None
        return (ONE / rate).quantize(self.rate_places, rounding=ROUND_HALF_UP)

    def lines(self, record: dict[str, Any], resolver: Resolver) -> list[m.LineItem]:
        inclusive = record.get("LineAmountTypes") == "Inclusive"
        result = []
        for line in record.get("LineItems") or []:
            amount = dec(line.get("LineAmount")) or ZERO
            tax = dec(line.get("TaxAmount"))
            net = amount - (tax or ZERO) if inclusive else amount
            tax_type = line.get("TaxType")
            result.append(m.LineItem(
                id=line.get("LineItemID"), description=blank_none(line.get("Description")),
                quantity=dec(line.get("Quantity")), unit_price=dec(line.get("UnitAmount")),
                total_amount=net, tax_amount=tax, account_id=resolver.account(line),
                tax_rate_id=str(tax_type) if tax_type else None,
                tracking_category_ids=resolver.tracking(line.get("Tracking"))))
        return result

    def invoice(self, resource: Resource, record: dict[str, Any], resolver: Resolver) -> m.Invoice | m.Bill:
        values = self.fields(resource, record)
        values["status"] = document_status(record, values["total"], values["balance"])
        party = dig(record, "Contact.ContactID")
        issued = ms_date(record.get("Date"))
        common = dict(exchange_rate=self.exchange_rate(record), line_items=self.lines(record, resolver),
                      raw=record, shown=self.mapping.resource(resource).shown_in(record), **values)
        if resource == Resource.INVOICES:
            return m.Invoice(customer_id=party, invoice_date=issued, **common)
        return m.Bill(supplier_id=party, bill_date=issued, **common)

    def credit_note(self, record: dict[str, Any], resolver: Resolver) -> m.CreditNote:
        values = self.fields(Resource.CREDIT_NOTES, record)
        status = _XERO_STATUS.get(str(record.get("Status")), DocumentStatus.AUTHORISED)
        allocations = [m.Allocation(document_id=str(dig(a, "Invoice.InvoiceID")), amount=dec(a.get("Amount")) or ZERO)
                       for a in record.get("Allocations") or [] if dig(a, "Invoice.InvoiceID")
                       and not a.get("IsDeleted")]
        return m.CreditNote(status=status, exchange_rate=self.exchange_rate(record),
                            line_items=self.lines(record, resolver), allocations=allocations, raw=record,
                            shown=self.mapping.resource(Resource.CREDIT_NOTES).shown_in(record), **values)

    def purchase_order(self, record: dict[str, Any], resolver: Resolver) -> m.PurchaseOrder:
        values = self.fields(Resource.PURCHASE_ORDERS, record)
        return m.PurchaseOrder(line_items=self.lines(record, resolver), raw=record,
                               shown=self.mapping.resource(Resource.PURCHASE_ORDERS).shown_in(record), **values)

    def expense(self, record: dict[str, Any], resolver: Resolver) -> m.Expense:
        values = self.fields(Resource.EXPENSES, record)
        return m.Expense(line_items=self.lines(record, resolver), source=Source.NATIVE, raw=record, **values)

    def journal_entry(self, record: dict[str, Any], resolver: Resolver, journal_id: str,
                      base_currency: str) -> m.JournalEntry:
        values = self.fields(Resource.JOURNAL_ENTRIES, record)
        lines = []
        for index, line in enumerate(record.get("JournalLines") or []):
            signed = dec(line.get("LineAmount")) or ZERO
            lines.append(m.JournalLine(
                id=line.get("JournalLineID") or str(index + 1), account_id=resolver.account(line) or "",
                type=PostingType.DEBIT if signed >= 0 else PostingType.CREDIT, amount=abs(signed),
                description=blank_none(line.get("Description")),
                tracking_category_ids=resolver.tracking(line.get("Tracking"))))
        return m.JournalEntry(number=None, journal_id=journal_id, currency=base_currency, line_items=lines,
                              raw=record, **values)

    # -- payments --------------------------------------------------------------------------------
    def payments(self, resource: Resource, payments: list[dict[str, Any]],
                 batches: dict[str, dict[str, Any]], overpayments: list[dict[str, Any]],
                 emit_batch: Callable[[str, list[dict[str, Any]]], bool] | None = None) -> list[m.Record]:
        """Unified payments from Xero Payments (children of a BatchPayment grouped into one record,
        allocations from the BatchPayment when it is known, else from the children at hand) and
        Overpayments (total = overpaid amount, allocations = what was applied)."""
        cls: type[m.Payment] | type[m.BillPayment] = m.Payment if resource == Resource.PAYMENTS \
            else m.BillPayment
        party_field = "customer_id" if resource == Resource.PAYMENTS else "supplier_id"
        result: list[m.Record] = []
        grouped: dict[str, list[dict[str, Any]]] = {}
        order: list[tuple[str, Any]] = []
        for payment in payments:
            batch_id = payment.get("BatchPaymentID")
            if batch_id:
                if batch_id not in grouped:
                    order.append(("batch", batch_id))
                grouped.setdefault(batch_id, []).append(payment)
            else:
                order.append(("payment", payment))
        for kind, item in order:
            if kind == "payment":
                values = self.fields(resource, item)
                values[party_field] = dig(item, "Invoice.Contact.ContactID")
                values["allocations"] = [m.Allocation(document_id=str(dig(item, "Invoice.InvoiceID")),
                                                      amount=values["total_amount"])]
                result.append(cls(raw=item, **values))
                continue
            children = grouped[item]
            if emit_batch is not None and not emit_batch(item, children):
                continue
            result.append(self.batch(cls, party_field, item, children, batches.get(item)))
        for over in overpayments:
            allocations = [m.Allocation(document_id=str(dig(a, "Invoice.InvoiceID")),
                                        amount=dec(a.get("Amount")) or ZERO)
                           for a in over.get("Allocations") or [] if dig(a, "Invoice.InvoiceID")
                           and not a.get("IsDeleted")]
            result.append(cls(
                id=over["OverpaymentID"], reference=blank_none(over.get("Reference")),
                account_id=dig(over, "BankAccount.AccountID"), payment_date=ms_date(over.get("Date")),
                total_amount=dec(over.get("Total")) or ZERO, currency=over.get("CurrencyCode") or "",
                allocations=allocations, updated_at=ms_datetime(over.get("UpdatedDateUTC")), raw=over,
                **{party_field: dig(over, "Contact.ContactID")}))
        return result

    def batch(self, cls: type[m.Payment] | type[m.BillPayment], party_field: str, batch_id: str,
              children: list[dict[str, Any]], batch: dict[str, Any] | None) -> m.Record:
        lead = children[0]
        summary = batch or lead.get("BatchPayment") or {}
        parts = batch.get("Payments") or [] if batch is not None else children
        allocations = [m.Allocation(document_id=str(dig(p, "Invoice.InvoiceID")), amount=dec(p.get("Amount")) or ZERO)
                       for p in parts if dig(p, "Invoice.InvoiceID")]
        total = dec(summary.get("TotalAmount"))
        if total is None:
            total = sum((a.amount for a in allocations), ZERO)
        raw = dict(batch) if batch is not None else {"BatchPaymentID": batch_id, **summary}
        raw.setdefault("Payments", children)
        return cls(
            id=batch_id, reference=blank_none(summary.get("Reference") or lead.get("Reference")),
            account_id=dig(summary, "Account.AccountID") or dig(lead, "Account.AccountID"),
            payment_date=ms_date(summary.get("Date") or lead.get("Date")), total_amount=total,
            currency=dig(lead, "Invoice.CurrencyCode") or "", allocations=allocations,
            updated_at=ms_datetime(summary.get("UpdatedDateUTC") or lead.get("UpdatedDateUTC")), raw=raw,
            **{party_field: dig(lead, "Invoice.Contact.ContactID")})


_XERO_STATUS = {"DRAFT": DocumentStatus.DRAFT, "SUBMITTED": DocumentStatus.DRAFT,
                "AUTHORISED": DocumentStatus.AUTHORISED, "PAID": DocumentStatus.PAID,
                "VOIDED": DocumentStatus.VOIDED, "DELETED": DocumentStatus.VOIDED}


def document_status(record: dict[str, Any], total: Decimal, balance: Decimal) -> DocumentStatus:
    """Drafts and voids as Xero says; otherwise paid / partly paid / authorised from the balance."""
    status = _XERO_STATUS.get(str(record.get("Status")), DocumentStatus.AUTHORISED)
    if status in (DocumentStatus.DRAFT, DocumentStatus.VOIDED):
        return status
    return derived_status(DocumentStatus.AUTHORISED, total, balance)


def _option_status(option: dict[str, Any]) -> RecordStatus:
    if option.get("IsArchived") or option.get("IsDeleted") or option.get("Status") not in (None, "ACTIVE"):
        return RecordStatus.ARCHIVED
    return RecordStatus.ACTIVE
