"""QuickBooks Online records → unified records.

Simple scalar fields come from the mapping (`providers/quickbooks.yaml`) through `extract()`; what
data cannot say lives here: lines (the ledger account of an item line is the item's account; the
per-line tax is `line_tax(net, rate of the line's TaxCode)`), tracking (line `ClassRef` = a
Department option, header `DepartmentRef` = a Location option, repeated on every line), payment
allocations (`Line[].LinkedTxn`), credit note allocations (zero-amount Payments linking a CreditMemo
and Invoices) and statuses derived from balances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledgerql.connectors.mapping import FieldSpec, ProviderMapping, dig, extract
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
    Supplier,
    TaxRate,
    TrackingCategory,
)
from ledgerql.model.enums import AccountType, DocumentStatus, PostingType, Resource, Source
from ledgerql.model.rules import derived_status, line_tax

Raw = dict[str, Any]
ZERO = Decimal("0.00")
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
LINE_DETAILS = ("SalesItemLineDetail", "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail")


def plain(value: Any) -> Any:
    """A record as plain JSON (Decimals as numbers), for `raw`."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent == 0 else float(value)
    return value


def is_credit_application(payment: Raw) -> bool:
    """A Payment that moves no money and links a CreditMemo: QBO's record of a credit applied."""
    return Decimal(str(payment.get("TotalAmt", 0))) == 0 and bool(linked(payment, "CreditMemo"))


def linked(record: Raw, *types: str) -> list[tuple[str, Decimal]]:
    """(TxnId, line amount) of the record's lines that link a transaction of one of `types`."""
    result = []
    for line in record.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") in types and link.get("TxnId") is not None:
                result.append((str(link["TxnId"]), Decimal(str(line.get("Amount", 0)))))
    return result


def header_links(record: Raw) -> list[tuple[str, str]]:
    """The document's own `LinkedTxn` (payments, credit applications that touch it)."""
    return [(str(link["TxnId"]), str(link.get("TxnType", ""))) for link in record.get("LinkedTxn") or []
            if link.get("TxnId") is not None]


@dataclass
class TaxCodeInfo:
    record: Raw
    sales_rate: Decimal
    purchase_rate: Decimal


@dataclass
class Tables:
    """Reference data that interprets document lines: tax codes with their rates, item accounts."""

    tax_codes: dict[str, TaxCodeInfo] = field(default_factory=dict)
    tax_loaded_at: float | None = None
    items: dict[str, Raw] = field(default_factory=dict)
    items_loaded_at: float | None = None
    items_complete: bool = False

    def set_tax(self, codes: list[Raw], rates: list[Raw], now: float, complete: bool = True) -> None:
        by_id = {str(r["Id"]): Decimal(str(r.get("RateValue", 0))) for r in rates}
        for code in codes:
            sales = _rate_sum(code.get("SalesTaxRateList"), by_id)
            purchase = _rate_sum(code.get("PurchaseTaxRateList"), by_id)
            if sales is None and purchase is None:
                sales = purchase = Decimal(0)
            self.tax_codes[str(code["Id"])] = TaxCodeInfo(
                record=code, sales_rate=sales if sales is not None else purchase or Decimal(0),
                purchase_rate=purchase if purchase is not None else sales or Decimal(0))
        if complete:
            self.tax_loaded_at = now

    def set_items(self, items: list[Raw], now: float | None = None, complete: bool = False) -> None:
        for item in items:
            self.items[str(item["Id"])] = item
        if now is not None:
            self.items_loaded_at = now
            self.items_complete = complete


def _rate_sum(rate_list: Any, rates: dict[str, Decimal]) -> Decimal | None:
    details = (rate_list or {}).get("TaxRateDetail") or []
    found = [rates.get(str(dig(d, "TaxRateRef.value"))) for d in details]
    known = [r for r in found if r is not None]
    if not details:
        return None
    return sum(known, Decimal(0)) if known else Decimal(0)


def utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class Converter:
    def __init__(self, mapping: ProviderMapping, tables: Tables) -> None:
        self.mapping = mapping
        self.tables = tables
        quirks = mapping.quirks
        self.account_types: dict[str, str] = quirks.get("account_types", {})
        self.account_sub_types: dict[str, str] = quirks.get("account_sub_types", {})
        dims = quirks.get("dimensions", {})
        self.department_dim: dict[str, str] = dims.get("department", {
            "id": "dimension:department", "name": "Department", "entity": "Class", "prefix": "class:"})
        self.location_dim: dict[str, str] = dims.get("location", {
            "id": "dimension:location", "name": "Location", "entity": "Department", "prefix": "department:"})
        self.journal: dict[str, str] = quirks.get("fallback_journal", {"id": "journal:general",
                                                                      "name": "General Journal"})
        self._specs: dict[Resource, dict[str, FieldSpec]] = {
            r: mapping.resource(r).field_specs() for r in Resource}

    def fields(self, resource: Resource, raw: Raw) -> dict[str, Any]:
        values = extract(raw, self._specs[resource])
        if "updated_at" in values:
            values["updated_at"] = utc(values["updated_at"])
        return values

    # -- ids of tracking options ----------------------------------------------------------------
    def class_id(self, qbo_id: Any) -> str:
        return f"{self.department_dim['prefix']}{qbo_id}"

    def department_id(self, qbo_id: Any) -> str:
        return f"{self.location_dim['prefix']}{qbo_id}"

    def split_tracking_id(self, unified_id: str) -> tuple[str, str] | None:
        """`class:3` → ("Class", "3"); `department:2` → ("Department", "2"); roots → ("", id)."""
        for dim in (self.department_dim, self.location_dim):
            if unified_id == dim["id"]:
                return "", unified_id
            if unified_id.startswith(dim["prefix"]):
                return dim["entity"], unified_id[len(dim["prefix"]):]
        return None

    def roots(self) -> list[TrackingCategory]:
        return [TrackingCategory(id=d["id"], name=d["name"]) for d in (self.department_dim, self.location_dim)]

    # -- reference data -------------------------------------------------------------------------
    def ledger_account(self, raw: Raw) -> LedgerAccount:
        values = self.fields(Resource.LEDGER_ACCOUNTS, raw)
        qbo_type = raw.get("AccountType")
        kind = self.account_types.get("Bank") if qbo_type == "Bank" else None
        kind = kind or self.account_types.get(str(raw.get("Classification")), "OTHER")
        sub = raw.get("AccountSubType")
        values["sub_type"] = self.account_sub_types.get(str(sub), sub) if sub is not None else None
        return LedgerAccount(id=str(raw["Id"]), type=AccountType(kind), raw=plain(raw), **values)

    def bank_account(self, raw: Raw) -> BankAccount:
        return BankAccount(id=str(raw["Id"]), raw=plain(raw), **self.fields(Resource.BANK_ACCOUNTS, raw))

    def customer(self, raw: Raw) -> Customer:
        return Customer(id=str(raw["Id"]), raw=plain(raw), **self.fields(Resource.CUSTOMERS, raw))

    def supplier(self, raw: Raw) -> Supplier:
        return Supplier(id=str(raw["Id"]), raw=plain(raw), **self.fields(Resource.SUPPLIERS, raw))

    def tax_rate(self, raw: Raw) -> TaxRate:
        values = self.fields(Resource.TAX_RATES, raw)
        values["name"] = values.get("name") or values.get("code") or str(raw["Id"])
        info = self.tables.tax_codes.get(str(raw["Id"]))
        rate = info.sales_rate if info else Decimal(0)
        return TaxRate(id=str(raw["Id"]), rate=rate, raw=plain(raw), **values)

    def tracking_option(self, entity: str, raw: Raw) -> TrackingCategory:
        if entity == self.department_dim["entity"]:
            resource, unified, parent = Resource.DEPARTMENTS, self.class_id(raw["Id"]), self.department_dim["id"]
        else:
            resource, unified, parent = Resource.LOCATIONS, self.department_id(raw["Id"]), self.location_dim["id"]
        return TrackingCategory(id=unified, parent_id=parent, raw=plain(raw), **self.fields(resource, raw))

    def department(self, raw: Raw) -> Department:
        return Department(id=self.class_id(raw["Id"]), parent_id=self.department_dim["id"], raw=plain(raw),
                          **self.fields(Resource.DEPARTMENTS, raw))

    def location(self, raw: Raw) -> Location:
        return Location(id=self.department_id(raw["Id"]), parent_id=self.location_dim["id"], raw=plain(raw),
                        **self.fields(Resource.LOCATIONS, raw))

    def fallback_journal(self) -> Journal:
        return Journal(id=self.journal["id"], name=self.journal["name"], code=self.journal.get("code"),
                       source=Source.DERIVED)

    def company_info(self, raw: Raw, preferences: Raw | None) -> CompanyInfo:
        values = self.fields(Resource.COMPANY_INFO, raw)
        currency = dig(preferences or {}, "CurrencyPrefs.HomeCurrency.value") or "USD"
        month_text = raw.get("FiscalYearStartMonth") or dig(preferences or {},
                                                            "AccountingInfoPrefs.FirstMonthOfFiscalYear")
        month = MONTHS.index(str(month_text).lower()) + 1 if str(month_text).lower() in MONTHS else None
        return CompanyInfo(id=str(raw["Id"]), base_currency=str(currency), fiscal_year_start_month=month,
                           raw=plain(raw), **values)

    # -- lines ----------------------------------------------------------------------------------
    def item_ids_needing_lookup(self, raw: Raw) -> set[str]:
        """Items whose account a line needs (item lines that do not name their account)."""
        wanted = set()
        for line in raw.get("Line") or []:
            detail_type = line.get("DetailType")
            if detail_type not in ("SalesItemLineDetail", "ItemBasedExpenseLineDetail"):
                continue
            detail = line.get(detail_type) or {}
            if dig(detail, "ItemAccountRef.value") is None and dig(detail, "ItemRef.value") is not None:
                wanted.add(str(dig(detail, "ItemRef.value")))
        return wanted

    def tax_codes_of(self, raw: Raw) -> set[str]:
        return {str(dig(line.get(line.get("DetailType", "")) or {}, "TaxCodeRef.value"))
                for line in raw.get("Line") or []
                if isinstance(line.get(line.get("DetailType", "")), dict)
                and dig(line.get(line.get("DetailType", "")), "TaxCodeRef.value") is not None}

    def lines(self, raw: Raw, purchase: bool) -> list[LineItem]:
        location = dig(raw, "DepartmentRef.value")
        result = []
        for line in raw.get("Line") or []:
            detail_type = line.get("DetailType")
            if detail_type not in LINE_DETAILS:
                continue
            detail = line.get(detail_type) or {}
            net = Decimal(str(line.get("Amount", 0)))
            account = dig(detail, "AccountRef.value") or dig(detail, "ItemAccountRef.value")
            if account is None and dig(detail, "ItemRef.value") is not None:
                item = self.tables.items.get(str(dig(detail, "ItemRef.value"))) or {}
                keys = ("ExpenseAccountRef", "AssetAccountRef", "IncomeAccountRef") if purchase else \
                    ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef")
                account = next((dig(item, f"{k}.value") for k in keys if dig(item, f"{k}.value")), None)
            code = dig(detail, "TaxCodeRef.value")
            info = self.tables.tax_codes.get(str(code)) if code is not None else None
            tax = None
            if info is not None:
                tax = line_tax(net, info.purchase_rate if purchase else info.sales_rate)
            tracking = []
            if dig(detail, "ClassRef.value") is not None:
                tracking.append(self.class_id(dig(detail, "ClassRef.value")))
            if location is not None:
                tracking.append(self.department_id(location))
            qty, price = detail.get("Qty"), detail.get("UnitPrice")
            result.append(LineItem(
                id=None if line.get("Id") is None else str(line["Id"]), description=line.get("Description"),
                quantity=None if qty is None else Decimal(str(qty)),
                unit_price=None if price is None else Decimal(str(price)), total_amount=net, tax_amount=tax,
                account_id=None if account is None else str(account),
                tax_rate_id=None if code is None else str(code), tracking_category_ids=tracking))
        return result

    @staticmethod
    def _sub_total(raw: Raw, lines: list[LineItem]) -> Decimal:
        for line in raw.get("Line") or []:
            if line.get("DetailType") == "SubTotalLineDetail" and line.get("Amount") is not None:
                return Decimal(str(line["Amount"]))
        return sum((line.total_amount for line in lines), ZERO)

    def _document_values(self, resource: Resource, raw: Raw, purchase: bool) -> dict[str, Any]:
        values = self.fields(resource, raw)
        lines = self.lines(raw, purchase)
        values["line_items"] = lines
        values["sub_total"] = self._sub_total(raw, lines)
        if values.get("total_tax") is None:
            values["total_tax"] = ZERO
        return values

    # -- documents ------------------------------------------------------------------------------
    def invoice(self, raw: Raw) -> Invoice:
        values = self._document_values(Resource.INVOICES, raw, purchase=False)
        # QBO keeps a voided invoice with every amount zeroed and "Voided" as its private note.
        voided = raw.get("PrivateNote") == "Voided"
        values["status"] = DocumentStatus.VOIDED if voided else \
            derived_status(DocumentStatus.AUTHORISED, values["total"], values["balance"])
        return Invoice(id=str(raw["Id"]), raw=plain(raw), **values)

    def bill(self, raw: Raw) -> Bill:
        values = self._document_values(Resource.BILLS, raw, purchase=True)
        values["status"] = derived_status(DocumentStatus.AUTHORISED, values["total"], values["balance"])
        return Bill(id=str(raw["Id"]), raw=plain(raw), **values)

    def credit_note(self, raw: Raw, applications: list[Raw]) -> CreditNote:
        """`applications`: the credit-application Payments that link this memo (others are ignored)."""
        values = self._document_values(Resource.CREDIT_NOTES, raw, purchase=False)
        memo_id = str(raw["Id"])
        allocations: dict[str, Decimal] = {}
        for payment in applications:
            for invoice_id, amount in _split_credit(payment).get(memo_id, []):
                allocations[invoice_id] = allocations.get(invoice_id, ZERO) + amount
        # Credit is PAID once used up; a credit still (partly) available stays AUTHORISED.
        values["status"] = DocumentStatus.PAID if values["balance"] <= 0 else DocumentStatus.AUTHORISED
        return CreditNote(id=memo_id, raw=plain(raw),
                          allocations=[Allocation(document_id=i, amount=a) for i, a in allocations.items()],
                          **values)

    def purchase_order(self, raw: Raw) -> PurchaseOrder:
        values = self._document_values(Resource.PURCHASE_ORDERS, raw, purchase=True)
        return PurchaseOrder(id=str(raw["Id"]), raw=plain(raw), **values)

    def expense(self, raw: Raw) -> Expense:
        values = self._document_values(Resource.EXPENSES, raw, purchase=True)
        entity = raw.get("EntityRef") or {}
        values["supplier_id"] = str(entity["value"]) if entity.get("value") is not None and \
            entity.get("type", "Vendor") == "Vendor" else None
        return Expense(id=str(raw["Id"]), raw=plain(raw), source=Source.NATIVE, **values)

    def payment(self, raw: Raw) -> Payment:
        values = self.fields(Resource.PAYMENTS, raw)
        allocations = [Allocation(document_id=i, amount=a) for i, a in linked(raw, "Invoice")]
        return Payment(id=str(raw["Id"]), raw=plain(raw), allocations=allocations, **values)

    def bill_payment(self, raw: Raw) -> BillPayment:
        values = self.fields(Resource.BILL_PAYMENTS, raw)
        values["account_id"] = dig(raw, "CheckPayment.BankAccountRef.value") or \
            dig(raw, "CreditCardPayment.CCAccountRef.value")
        allocations = [Allocation(document_id=i, amount=a) for i, a in linked(raw, "Bill")]
        return BillPayment(id=str(raw["Id"]), raw=plain(raw), allocations=allocations, **values)

    def journal_entry(self, raw: Raw) -> JournalEntry:
        values = self.fields(Resource.JOURNAL_ENTRIES, raw)
        lines = []
        for line in raw.get("Line") or []:
            detail = line.get("JournalEntryLineDetail")
            if line.get("DetailType") != "JournalEntryLineDetail" or not isinstance(detail, dict):
                continue
            tracking = []
            if dig(detail, "ClassRef.value") is not None:
                tracking.append(self.class_id(dig(detail, "ClassRef.value")))
            if dig(detail, "DepartmentRef.value") is not None:
                tracking.append(self.department_id(dig(detail, "DepartmentRef.value")))
            lines.append(JournalLine(
                id=None if line.get("Id") is None else str(line["Id"]),
                account_id=str(dig(detail, "AccountRef.value")),
                type=PostingType.DEBIT if detail.get("PostingType") == "Debit" else PostingType.CREDIT,
                amount=abs(Decimal(str(line.get("Amount", 0)))), description=line.get("Description"),
                tracking_category_ids=tracking))
        return JournalEntry(id=str(raw["Id"]), raw=plain(raw), journal_id=self.journal["id"], line_items=lines,
                            **values)


def _split_credit(payment: Raw) -> dict[str, list[tuple[str, Decimal]]]:
    """memo id → [(invoice id, amount)] of one credit-application Payment: the memos' credit is
    spread over the linked invoices in line order (one memo and one invoice in the usual case)."""
    memos = linked(payment, "CreditMemo")
    invoices = linked(payment, "Invoice")
    memo_left = [amount for _, amount in memos]
    invoice_left = [amount for _, amount in invoices]
    result: dict[str, list[tuple[str, Decimal]]] = {}
    m = i = 0
    while m < len(memos) and i < len(invoices):
        take = min(memo_left[m], invoice_left[i])
        if take > 0:
            result.setdefault(memos[m][0], []).append((invoices[i][0], take))
        memo_left[m] -= take
        invoice_left[i] -= take
        if memo_left[m] <= 0:
            m += 1
        if invoice_left[i] <= 0:
            i += 1
    return result


def credit_memo_ids(payment: Raw) -> set[str]:
    return {memo_id for memo_id, _ in linked(payment, "CreditMemo")}

