"""Exact Online records → unified models. Pure functions: every lookup they need is passed in."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.connectors.mapping import CONVERTERS, FieldSpec, ResourceMapping, extract
from ledgerql.model.entities import (
    Allocation,
    BankAccount,
    Bill,
    BillPayment,
    CompanyInfo,
    CreditNote,
    Customer,
    Department,
    Expense,
    Invoice,
    Journal,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LineItem,
    Location,
    Payment,
    PurchaseOrder,
    Record,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from ledgerql.model.enums import (
    AccountType,
    DocumentStatus,
    PostingType,
    PurchaseOrderStatus,
    RecordStatus,
    Source,
)
from ledgerql.model.rules import derived_status, line_tax, money

ZERO = Decimal("0.00")
Specs = dict[str, FieldSpec]


def signed(value: Decimal | None, sign: int) -> Decimal:
    """`value` × `sign`, without ever producing a negative zero."""
    return (value or ZERO) * sign + 0


def plain(value: Decimal) -> Decimal:
    """20.0 → 20, 5.00 → 5, 0.5 stays: percentages read the way the books write them."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def ms_date(value: Any) -> date | None:
    return CONVERTERS["ms_date"](value)


def ms_datetime(value: Any) -> datetime | None:
    return CONVERTERS["ms_datetime"](value)


def decimal(value: Any) -> Decimal | None:
    return CONVERTERS["decimal"](value)


def nav_rows(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """An expanded navigation property: `{"results": [...]}` (or a bare list)."""
    value = record.get(name)
    if isinstance(value, dict):
        rows = value.get("results")
        return rows if isinstance(rows, list) else []
    return value if isinstance(value, list) else []


def _plain_json(value: Any) -> Any:
    """Decimals (read exactly from the wire) back to JSON numbers, as Exact sent them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items() if k != "__metadata"}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def show(record: Record, row: dict[str, Any], mapping: ResourceMapping, lines_nav: str | None) -> None:
    """What the entry and each of its lines show of the records they reference (names Exact joins in
    when it answers: `SupplierName`, a line's `GLAccountDescription`)."""
    record.shown = mapping.shown_in(row)
    items = getattr(record, "line_items", None)
    lines = nav_rows(row, lines_nav) if lines_nav else []
    if items and len(items) == len(lines):  # one line item per line, in order: see `entry_line`
        for item, line in zip(items, lines, strict=True):
            item.shown = mapping.shown_in(line, lines=True)


def record_raw(record: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _plain_json(record)
    return result


# --- tracking ------------------------------------------------------------------------------------

class Dimensions:
    """The two synthesized dimension roots and the prefixes of their options' ids."""

    def __init__(self, quirks: dict[str, Any]) -> None:
        dims = quirks.get("dimensions", {})
        department = dims.get("department", {})
        location = dims.get("location", {})
        self.department_id: str = department.get("id", "dimension:department")
        self.department_name: str = department.get("name", "Department")
        self.center_prefix: str = department.get("option_prefix", "costcenter:")
        self.location_id: str = location.get("id", "dimension:location")
        self.location_name: str = location.get("name", "Location")
        self.unit_prefix: str = location.get("option_prefix", "costunit:")

    def line_ids(self, line: dict[str, Any]) -> list[str]:
        ids = []
        center = (line.get("CostCenter") or "").strip()
        unit = (line.get("CostUnit") or "").strip()
        if center:
            ids.append(self.center_prefix + center)
        if unit:
            ids.append(self.unit_prefix + unit)
        return ids

    def roots(self) -> list[TrackingCategory]:
        return [TrackingCategory(id=self.department_id, name=self.department_name),
                TrackingCategory(id=self.location_id, name=self.location_name)]


def tracking_option(record: dict[str, Any], specs: Specs, prefix: str, parent: str,
                    kind: type[TrackingCategory] | type[Department] | type[Location]) -> Any:
    values = extract(record, specs)
    active = values.get("active")
    return kind(id=prefix + (values["code"] or ""), name=values["name"] or values["code"] or "", parent_id=parent,
                status=RecordStatus.ARCHIVED if active is False else RecordStatus.ACTIVE,
                updated_at=values.get("updated_at"), raw=record_raw(record))


# --- reference data --------------------------------------------------------------------------------

def ledger_account(record: dict[str, Any], specs: Specs, gl_types: dict[str, list[str]], currency: str | None,
                   *, deferred: bool = False) -> LedgerAccount:
    """`deferred`: the currency is not known yet (the connector resolves it when it is selected)."""
    values = extract(record, specs)
    kind, sub_type = (gl_types.get(str(record.get("Type"))) or ["OTHER", ""])[:2]
    return LedgerAccount(
        id=values["id"], nominal_code=values["nominal_code"], name=values["name"] or "",
        type=AccountType(kind or "OTHER"), sub_type=sub_type or record.get("TypeDescription"),
        status=RecordStatus.ARCHIVED if values.get("blocked") else RecordStatus.ACTIVE,
        currency=currency, updated_at=values.get("updated_at"), raw=record_raw(record),
        deferred=frozenset({"currency"}) if deferred else frozenset())


def contact(record: dict[str, Any], specs: Specs, kind: type[Customer] | type[Supplier]) -> Customer | Supplier:
    values = extract(record, specs)
    currency = record.get("SalesCurrency") if kind is Customer else record.get("PurchaseCurrency")
    return kind(id=values["id"], display_name=values["display_name"] or "", company_name=values["company_name"],
                email=values["email"], currency=currency or record.get("Currency"),
                status=RecordStatus.ARCHIVED if values.get("blocked") else RecordStatus.ACTIVE,
                updated_at=values.get("updated_at"), raw=record_raw(record))


def tax_rate(record: dict[str, Any], specs: Specs) -> TaxRate:
    values = extract(record, specs)
    percentage = values.get("percentage") or Decimal(0)
    return TaxRate(id=values["id"], code=values["code"], name=values["name"] or values["code"],
                   rate=plain(percentage * 100),
                   status=RecordStatus.ARCHIVED if values.get("blocked") else RecordStatus.ACTIVE,
                   updated_at=values.get("updated_at"), raw=record_raw(record))


def journal(record: dict[str, Any], specs: Specs) -> Journal:
    values = extract(record, specs)
    return Journal(id=values["id"], name=values["name"] or values["code"], code=values["code"],
                   source=Source.NATIVE, updated_at=values.get("updated_at"), raw=record_raw(record))


def bank_account(record: dict[str, Any], specs: Specs) -> BankAccount:
    values = extract(record, specs)
    return BankAccount(id=values["id"], name=record.get("BankAccountDescription") or values["name"] or "",
                       ledger_account_id=values.get("ledger_account_id"), currency=values.get("currency"),
                       institution_name=values.get("institution_name"), account_number=values.get("account_number"),
                       updated_at=values.get("updated_at"), raw=record_raw(record))


def company(record: dict[str, Any], specs: Specs, fiscal_month: int | None) -> CompanyInfo:
    values = extract(record, specs)
    return CompanyInfo(id=values["id"], name=values["name"] or "", legal_name=values.get("legal_name"),
                       base_currency=values["base_currency"], country=values.get("country"),
                       fiscal_year_start_month=fiscal_month, updated_at=values.get("updated_at"),
                       raw=record_raw(record))


# --- documents -------------------------------------------------------------------------------------

def entry_line(line: dict[str, Any], sign: int, dims: Dimensions) -> LineItem:
    net = signed(decimal(line.get("AmountFC")), sign)
    quantity = decimal(line.get("Quantity"))
    unit_price = decimal(line.get("UnitPrice")) if "UnitPrice" in line else None
    if unit_price is None and quantity:
        unit_price = net / quantity
        if unit_price == money(unit_price):
            unit_price = money(unit_price)
    elif unit_price is not None:
        unit_price = abs(unit_price)
    tax_value = line.get("VATAmountFC", line.get("VATAmount"))
    tax = decimal(tax_value)
    if tax is None:
        percentage = decimal(line.get("VATPercentage"))
        tax = line_tax(net, percentage * 100) if percentage is not None else None
    else:
        tax = signed(tax, sign)
    vat_code = (line.get("VATCode") or "").strip() or None
    number = line.get("LineNumber")
    return LineItem(id=str(number) if number is not None else line.get("ID"), description=line.get("Description"),
                    quantity=quantity, unit_price=unit_price, total_amount=net, tax_amount=tax,
                    account_id=line.get("GLAccount"), tax_rate_id=vat_code, tracking_category_ids=dims.line_ids(line))


def _number(values: dict[str, Any], record: dict[str, Any], number_field: str) -> str | None:
    own = record.get(number_field)
    if isinstance(own, str) and own.strip():
        return own.strip()
    entry_number = values.get("entry_number")
    return None if entry_number is None else str(entry_number)


def _rate(values: dict[str, Any]) -> Decimal | None:
    rate = values.get("rate")
    return None if rate is None or rate == 1 else rate


def sales_entry(record: dict[str, Any], specs: Specs, lines_nav: str, open_amount: Decimal | None,
                dims: Dimensions, number_field: str, allocated_to: str | None = None) -> Invoice | CreditNote:
    """A sales entry: Type 20 → invoice, Type 21 → credit note (Exact's amounts negative, ours positive).
    `open_amount` is the receivable's AmountFC (same sign as the entry); None when Exact has no open item."""
    values = extract(record, specs)
    credit = record.get("Type") == 21
    sign = -1 if credit else 1
    total = signed(values.get("total"), sign)
    total_tax = signed(values.get("total_tax"), sign)
    lines = [entry_line(line, sign, dims) for line in nav_rows(record, lines_nav)]
    balance = total if open_amount is None else signed(open_amount, sign)
    common: dict[str, Any] = dict(
        id=values["id"], number=_number(values, record, number_field), currency=values["currency"],
        exchange_rate=_rate(values), line_items=lines, sub_total=total - total_tax, total_tax=total_tax,
        total=total, balance=balance, customer_id=record.get("Customer"), updated_at=values.get("updated_at"),
        raw=record_raw(record))
    if credit:
        allocated = total - balance
        allocations = [Allocation(document_id=allocated_to, amount=allocated)] \
            if allocated_to and allocated > 0 else []
        return CreditNote(issue_date=values["date"], status=DocumentStatus.PAID if balance <= 0
                          else DocumentStatus.AUTHORISED, allocations=allocations, **common)
    # Exact has no draft ledger entries: every entry is authorised, then paid as its open amount says.
    return Invoice(invoice_date=values["date"], due_date=values.get("due_date"),
                   status=derived_status(DocumentStatus.AUTHORISED, total, balance), **common)


def purchase_entry(record: dict[str, Any], specs: Specs, lines_nav: str, open_amount: Decimal | None,
                   dims: Dimensions, number_field: str) -> Bill:
    values = extract(record, specs)
    sign = -1 if record.get("Type") == 31 else 1
    total = signed(values.get("total"), sign)
    total_tax = signed(values.get("total_tax"), sign)
    balance = total if open_amount is None else signed(open_amount, sign)
    return Bill(id=values["id"], number=_number(values, record, number_field), supplier_id=record.get("Supplier"),
                bill_date=values["date"], due_date=values.get("due_date"),
                status=derived_status(DocumentStatus.AUTHORISED, total, balance),
                currency=values["currency"], exchange_rate=_rate(values),
                line_items=[entry_line(line, sign, dims) for line in nav_rows(record, lines_nav)],
                sub_total=total - total_tax, total_tax=total_tax, total=total, balance=balance,
                updated_at=values.get("updated_at"), raw=record_raw(record))


def expense(record: dict[str, Any], specs: Specs, lines_nav: str, dims: Dimensions, number_field: str,
            account_id: str | None) -> Expense:
    values = extract(record, specs)
    total = values.get("total") or ZERO
    total_tax = values.get("total_tax") or ZERO
    return Expense(id=values["id"], number=_number(values, record, number_field), supplier_id=record.get("Supplier"),
                   account_id=account_id, transaction_date=values["date"], currency=values["currency"],
                   line_items=[entry_line(line, 1, dims) for line in nav_rows(record, lines_nav)],
                   sub_total=total - total_tax, total_tax=total_tax, total_amount=total,
                   source=Source.BILL_FALLBACK, updated_at=values.get("updated_at"), raw=record_raw(record))


def is_expense_entry(record: dict[str, Any]) -> bool:
    """A purchase entry standing in for an expense: due date = entry date (what `odata.EXPENSE_DATES` asks
    Exact for; a bill is due later)."""
    return bool(record.get("DueDate") and record.get("DueDate") == record.get("EntryDate"))


def bank_entry(record: dict[str, Any], specs: Specs, receipt: bool, entry_ids: dict[int, str],
               account_id: str | None, *, deferred: bool = False) -> Payment | BillPayment:
    """A bank entry as one payment. Lines are postings on the receivables/payables control account:
    a receipt credits receivables (negative), a payment to a supplier debits payables (positive).
    `entry_ids` maps the lines' OurRef (entry numbers) to the documents' EntryID. `deferred`: the bank
    account is not known yet (it is the entry's journal's: resolved when selected)."""
    values = extract(record, specs)
    sign = -1 if receipt else 1
    lines = nav_rows(record, "BankEntryLines")
    allocations: dict[str, Decimal] = {}
    total = ZERO
    for line in lines:
        amount = signed(decimal(line.get("AmountFC")), sign)
        total += amount
        our_ref = line.get("OurRef")
        document = entry_ids.get(int(our_ref)) if our_ref not in (None, "") else None
        if document:
            allocations[document] = allocations.get(document, ZERO) + amount
    first = lines[0] if lines else {}
    common: dict[str, Any] = dict(
        id=values["id"], reference=first.get("Description"), account_id=account_id,
        payment_date=ms_date(first.get("Date")) or ms_date(record.get("Created")), total_amount=total,
        currency=values["currency"], allocations=[Allocation(document_id=d, amount=a) for d, a in allocations.items()],
        updated_at=values.get("updated_at"), raw=record_raw(record),
        deferred=frozenset({"account_id"}) if deferred else frozenset())
    if receipt:
        return Payment(customer_id=first.get("Account"), **common)
    return BillPayment(supplier_id=first.get("Account"), **common)


def purchase_order(record: dict[str, Any], specs: Specs, dims: Dimensions, closed_status: int) -> PurchaseOrder:
    values = extract(record, specs)
    total = values.get("total") or ZERO
    total_tax = values.get("total_tax") or ZERO
    your_ref = values.get("your_ref")
    number = your_ref.strip() if isinstance(your_ref, str) and your_ref.strip() else \
        (None if values.get("order_number") is None else str(values["order_number"]))
    status = PurchaseOrderStatus.CLOSED if (values.get("order_status") or 0) >= closed_status \
        else PurchaseOrderStatus.OPEN
    return PurchaseOrder(id=values["id"], number=number, supplier_id=values.get("supplier_id"),
                         order_date=values["order_date"], delivery_date=values.get("delivery_date"), status=status,
                         currency=values["currency"],
                         line_items=[entry_line(line, 1, dims) for line in nav_rows(record, "PurchaseOrderLines")],
                         sub_total=total - total_tax, total_tax=total_tax, total=total,
                         updated_at=values.get("updated_at"), raw=record_raw(record))


def journal_entry(record: dict[str, Any], specs: Specs, dims: Dimensions) -> JournalEntry:
    values = extract(record, specs)
    rows = nav_rows(record, "GeneralJournalEntryLines")
    lines = []
    for row in rows:
        amount = decimal(row.get("AmountFC")) or ZERO
        number = row.get("LineNumber")
        lines.append(JournalLine(id=str(number) if number is not None else row.get("ID"),
                                 account_id=row.get("GLAccount") or "",
                                 type=PostingType.DEBIT if amount >= 0 else PostingType.CREDIT, amount=abs(amount),
                                 description=row.get("Description"), tracking_category_ids=dims.line_ids(row)))
    first = rows[0] if rows else {}
    notes = first.get("Notes")
    number = notes.strip() if isinstance(notes, str) and notes.strip() else \
        (None if values.get("entry_number") is None else str(values["entry_number"]))
    posted = ms_date(first.get("Date"))
    if posted is None:
        year, period = record.get("FinancialYear"), record.get("FinancialPeriod")
        posted = date(int(year), int(period), 1) if year and period else date(1970, 1, 1)
    return JournalEntry(id=values["id"], number=number, journal_id=values.get("journal_id"), posting_date=posted,
                        currency=values.get("currency") or "", description=first.get("Description"),
                        line_items=lines, updated_at=values.get("updated_at"), raw=record_raw(record))
