"""One NetSuite account's records, converted from the shared books.

Records are held as the JSON the REST record API serves (sublists expanded as `{"items": [...]}`),
keyed by record type and internal id. Internal ids are assigned deterministically, in book order:
subsidiary 1, currencies 1.. (GBP, EUR), accounts 1.., tax codes 1.., departments 1..,
locations 1.., entities (customers then vendors) from 101, transactions from 1001 (one id space
for every transaction type, as NetSuite's `transaction` table has).

Every business key is kept: `externalId` is the books' id ("INV-0001", "acc-4000", "CUS-001",
"tax-S", "trk-department-sales", "bank-1200" is the ledger account "acc-1200"), `tranId` the
document number, `acctNumber`/`acctName` the account code and name, `entityId` the display name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from ledgerql.model.entities import JournalLine, LineItem
from ledgerql.model.enums import AccountType, DocumentStatus, PostingType, PurchaseOrderStatus
from ledgerql.sandbox.books import EUR_RATE, Books
from ledgerql.sandbox.netsuite.wire import iso_instant

ENTITY_TYPES = ("customer", "vendor")
TRANSACTION_TYPES = ("invoice", "vendorBill", "creditMemo", "customerPayment", "vendorPayment",
                     "expenseReport", "purchaseOrder", "journalEntry")
REFERENCE_TYPES = ("subsidiary", "currency", "account", "salesTaxItem", "department", "location")
RECORD_TYPES = REFERENCE_TYPES + ENTITY_TYPES + TRANSACTION_TYPES

#: record type → SuiteQL `transaction.type`
TRAN_TYPE_CODES = {"invoice": "CustInvc", "vendorBill": "VendBill", "creditMemo": "CustCred",
                   "customerPayment": "CustPymt", "vendorPayment": "VendPymt", "expenseReport": "ExpRept",
                   "purchaseOrder": "PurchOrd", "journalEntry": "Journal"}
TRAN_LABELS = {"invoice": "Invoice", "vendorBill": "Bill", "creditMemo": "Credit Memo",
               "customerPayment": "Payment", "vendorPayment": "Bill Payment", "expenseReport": "Expense Report",
               "purchaseOrder": "Purchase Order", "journalEntry": "Journal"}
#: sublists of each record type (expanded with `expandSubResources=true`)
SUBLISTS: dict[str, tuple[str, ...]] = {
    "invoice": ("item",), "creditMemo": ("item", "apply"), "vendorBill": ("expense",),
    "purchaseOrder": ("expense",), "expenseReport": ("expense",), "customerPayment": ("apply",),
    "vendorPayment": ("apply",), "journalEntry": ("line",),
}
#: id family (sequence) of each record type
FAMILY = {**{t: t for t in REFERENCE_TYPES}, "customer": "entity", "vendor": "entity",
          **{t: "transaction" for t in TRANSACTION_TYPES}}
FIRST_ID = {"entity": 101, "transaction": 1001}
#: tranId prefix of records created through the API, matching the books' numbering
NUMBER_PREFIX = {"invoice": "INV", "vendorBill": "BILL", "creditMemo": "CN", "customerPayment": "PAY",
                 "vendorPayment": "BPY", "expenseReport": "EXP", "purchaseOrder": "PO", "journalEntry": "JE"}

STATUS = {
    ("invoice", "open"): ("A", "Open"), ("invoice", "paid"): ("B", "Paid In Full"),
    ("vendorBill", "open"): ("A", "Open"), ("vendorBill", "paid"): ("B", "Paid In Full"),
    ("creditMemo", "open"): ("A", "Open"), ("creditMemo", "paid"): ("B", "Fully Applied"),
    ("customerPayment", "open"): ("C", "Deposited"), ("customerPayment", "paid"): ("C", "Deposited"),
    ("expenseReport", "paid"): ("I", "Paid In Full"),
    ("purchaseOrder", "open"): ("B", "Pending Receipt"), ("purchaseOrder", "closed"): ("H", "Closed"),
    ("journalEntry", "paid"): ("B", "Approved for Posting"),
}

ACCT_TYPES = {"Bank": "Bank", "AcctRec": "Accounts Receivable", "OthCurrAsset": "Other Current Asset",
              "FixedAsset": "Fixed Asset", "AcctPay": "Accounts Payable",
              "OthCurrLiab": "Other Current Liability", "Equity": "Equity", "Income": "Income",
              "OthIncome": "Other Income", "COGS": "Cost of Goods Sold", "Expense": "Expense"}
CURRENCY_NAMES = {"GBP": "British pound", "EUR": "Euro", "USD": "US Dollar"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ZERO = Decimal("0.00")


def acct_type(kind: AccountType, sub_type: str | None) -> str:
    if kind == AccountType.BANK:
        return "Bank"
    if kind == AccountType.ASSET:
        return {"ACCOUNTS_RECEIVABLE": "AcctRec", "FIXED_ASSET": "FixedAsset"}.get(sub_type or "", "OthCurrAsset")
    if kind == AccountType.LIABILITY:
        return "AcctPay" if sub_type == "ACCOUNTS_PAYABLE" else "OthCurrLiab"
    if kind == AccountType.EQUITY:
        return "Equity"
    if kind == AccountType.REVENUE:
        return "OthIncome" if sub_type == "OTHER_INCOME" else "Income"
    if kind == AccountType.EXPENSE:
        return "COGS" if sub_type == "COST_OF_SALES" else "Expense"
    return "OthCurrAsset"


def status_ref(record_type: str, state: str) -> dict[str, str] | None:
    pair = STATUS.get((record_type, state))
    return {"id": pair[0], "refName": pair[1]} if pair else None


def midday(on: date) -> datetime:
    return datetime.combine(on, time(9, 0), tzinfo=UTC)


class Store:
    """The records of one NetSuite account (one sandbox tenant)."""

    def __init__(self, account_id: str, books: Books, now: Callable[[], float]) -> None:
        self.account_id = account_id
        self.books = books
        self.now = now
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in RECORD_TYPES}
        self.seq: dict[str, int] = {}
        self.by_key: dict[tuple[str, str], str] = {}  # (family, books id / externalId) → internal id
        self.base_currency = books.company.base_currency
        self._load()

    # -- ids and references -----------------------------------------------------------------------
    def next_id(self, record_type: str) -> str:
        family = FAMILY[record_type]
        value = self.seq.get(family, FIRST_ID.get(family, 1) - 1) + 1
        self.seq[family] = value
        return str(value)

    def add(self, record_type: str, record: dict[str, Any]) -> dict[str, Any]:
        self.records[record_type][record["id"]] = record
        if record.get("externalId"):
            self.by_key[(FAMILY[record_type], record["externalId"])] = record["id"]
        return record

    def get(self, record_type: str, internal_id: str) -> dict[str, Any] | None:
        return self.records.get(record_type, {}).get(internal_id)

    def find(self, record_type: str, key: str) -> dict[str, Any] | None:
        """A record by internal id or by `eid:` external id."""
        if key.startswith("eid:"):
            found = self.by_key.get((FAMILY[record_type], key[4:]))
            return self.get(record_type, found) if found else None
        return self.get(record_type, key)

    def key(self, record_type: str, books_id: str | None) -> str:
        assert books_id is not None
        return self.by_key[(FAMILY[record_type], books_id)]

    def ref_name(self, record_type: str, record: dict[str, Any]) -> str:
        if record_type == "account":
            return f"{record['acctNumber']} {record['acctName']}"
        if record_type in ENTITY_TYPES:
            return str(record["entityId"])
        if record_type == "salesTaxItem":
            return str(record["itemId"])
        if record_type in TRANSACTION_TYPES:
            return f"{TRAN_LABELS[record_type]} #{record.get('tranId', record['id'])}"
        return str(record.get("name", record["id"]))

    def ref(self, record_type: str, internal_id: str | None) -> dict[str, str] | None:
        if internal_id is None:
            return None
        record = self.get(record_type, internal_id)
        if record is None:
            return {"id": internal_id}
        return {"id": internal_id, "refName": self.ref_name(record_type, record)}

    def ref_by_key(self, record_type: str, books_id: str | None) -> dict[str, str] | None:
        if books_id is None:
            return None
        return self.ref(record_type, self.key(record_type, books_id))

    def currency_ref(self, code: str) -> dict[str, str]:
        ref = self.ref_by_key("currency", code)
        assert ref is not None
        return ref

    def subsidiary_ref(self) -> dict[str, str]:
        ref = self.ref("subsidiary", "1")
        assert ref is not None
        return ref

    def special_account(self, acct: str) -> str | None:
        """Internal id of the first account of an acctType (AR, AP)."""
        for record in self.records["account"].values():
            if record["acctType"]["id"] == acct:
                return str(record["id"])
        return None

    def exchange_rate(self, currency: str, rate: Decimal | None) -> Decimal:
        if rate is not None:
            return rate
        return Decimal("1") if currency == self.base_currency else EUR_RATE

    # -- loading the books ---------------------------------------------------------------------------
    def _load(self) -> None:
        b = self.books
        company = b.company
        created = iso_instant(company.updated_at or midday(date(2025, 1, 1)))
        for code in dict.fromkeys([company.base_currency, "EUR", *(a.currency or "" for a in b.ledger_accounts)]):
            if not code:
                continue
            self.add("currency", {
                "id": self.next_id("currency"), "externalId": code, "name": code, "symbol": code,
                "displaySymbol": {"GBP": "£", "EUR": "€", "USD": "$"}.get(code, code),
                "isBaseCurrency": code == company.base_currency,
                "exchangeRate": Decimal("1") if code == company.base_currency else EUR_RATE,
                "isInactive": False, "lastModifiedDate": created})
        month = company.fiscal_year_start_month or 1
        self.add("subsidiary", {
            "id": self.next_id("subsidiary"), "externalId": company.id, "name": company.name,
            "legalName": company.legal_name, "currency": self.currency_ref(company.base_currency),
            "country": {"id": company.country, "refName": company.country},
            "fiscalCalendar": {"id": "1", "refName": f"Fiscal year starting {MONTHS[month - 1]}"},
            "fiscalMonth": {"id": str(month), "refName": MONTHS[month - 1]},
            "isInactive": False, "isElimination": False, "lastModifiedDate": created})
        banks = {bank.ledger_account_id: bank for bank in b.bank_accounts}
        for account in b.ledger_accounts:
            kind = acct_type(account.type, account.sub_type)
            record: dict[str, Any] = {
                "id": self.next_id("account"), "externalId": account.id, "acctNumber": account.nominal_code,
                "acctName": account.name, "fullName": account.name,
                "displayNameWithHierarchy": f"{account.nominal_code} {account.name}",
                "accountSearchDisplayName": f"{account.nominal_code} {account.name}",
                "acctType": {"id": kind, "refName": ACCT_TYPES[kind]},
                "currency": self.currency_ref(account.currency or company.base_currency),
                "description": account.sub_type, "isInactive": account.status.value == "ARCHIVED",
                "isSummary": False, "subsidiary": {"items": [self.subsidiary_ref()]},
                "lastModifiedDate": iso_instant(account.updated_at or midday(date(2025, 1, 1)))}
            if account.sub_type == "ACCOUNTS_RECEIVABLE":
                record["sSpecAcct"] = {"id": "AcctRec", "refName": "Accounts Receivable"}
            elif account.sub_type == "ACCOUNTS_PAYABLE":
                record["sSpecAcct"] = {"id": "AcctPay", "refName": "Accounts Payable"}
            elif account.sub_type == "RETAINED_EARNINGS":
                record["sSpecAcct"] = {"id": "RetEarnings", "refName": "Retained Earnings"}
            bank = banks.get(account.id)
            if bank is not None:
                record["sBankName"] = bank.institution_name
                record["sBankCompanyId"] = bank.account_number
                record["bankAccountName"] = bank.name
                record["bankExternalId"] = bank.id
            self.add("account", record)
        for tax in b.tax_rates:
            self.add("salesTaxItem", {
                "id": self.next_id("salesTaxItem"), "externalId": tax.id, "itemId": tax.code, "name": tax.code,
                "displayName": tax.name, "description": tax.name, "rate": tax.rate,
                "available": {"id": "BOTH", "refName": "Both"}, "isInactive": tax.status.value == "ARCHIVED",
                "lastModifiedDate": iso_instant(tax.updated_at or midday(date(2025, 1, 1)))})
        for record_type, options in (("department", b.departments), ("location", b.locations)):
            for option in options:
                self.add(record_type, {
                    "id": self.next_id(record_type), "externalId": option.id, "name": option.name,
                    "fullName": option.name, "isInactive": option.status.value == "ARCHIVED",
                    "subsidiary": {"items": [self.subsidiary_ref()]},
                    "lastModifiedDate": iso_instant(option.updated_at or midday(date(2025, 1, 1)))})
        for record_type, contacts in (("customer", b.customers), ("vendor", b.suppliers)):
            for contact in contacts:
                stamp = iso_instant(contact.updated_at or midday(date(2025, 1, 1)))
                self.add(record_type, {
                    "id": self.next_id(record_type), "externalId": contact.id, "entityId": contact.display_name,
                    "companyName": contact.company_name, "isPerson": False, "email": contact.email,
                    "currency": self.currency_ref(contact.currency or company.base_currency),
                    "subsidiary": self.subsidiary_ref(), "isInactive": contact.status.value == "ARCHIVED",
                    "dateCreated": stamp, "lastModifiedDate": stamp})
        self._load_transactions()

    def _header(self, record_type: str, books_id: str, number: str | None, on: date, currency: str,
                rate: Decimal | None, updated: datetime | None) -> dict[str, Any]:
        stamp = updated or midday(on)
        return {"id": self.next_id(record_type), "externalId": books_id, "tranId": number or books_id,
                "tranDate": on.isoformat(), "currency": self.currency_ref(currency),
                "exchangeRate": self.exchange_rate(currency, rate), "subsidiary": self.subsidiary_ref(),
                "createdDate": iso_instant(min(midday(on), stamp)), "lastModifiedDate": iso_instant(stamp)}

    def _location_of(self, lines: list[LineItem]) -> dict[str, str] | None:
        for line in lines:
            for tid in line.tracking_category_ids:
                if tid.startswith("trk-location"):
                    return self.ref_by_key("location", tid)
        return None

    def tracking(self, tracking_ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for tid in tracking_ids:
            if tid.startswith("trk-department"):
                out["department"] = self.ref_by_key("department", tid)
            elif tid.startswith("trk-location"):
                out["location"] = self.ref_by_key("location", tid)
        return out

    def _doc_line(self, index: int, line: LineItem, account_field: str, text_field: str) -> dict[str, Any]:
        tax = self.get("salesTaxItem", self.key("salesTaxItem", line.tax_rate_id)) if line.tax_rate_id else None
        out: dict[str, Any] = {
            "line": index, account_field: self.ref_by_key("account", line.account_id),
            text_field: line.description, "quantity": line.quantity, "rate": line.unit_price,
            "amount": line.total_amount}
        if tax is not None:
            out["taxCode"] = self.ref("salesTaxItem", tax["id"])
            out["taxRate1"] = tax["rate"]
        out["tax1Amt"] = line.tax_amount if line.tax_amount is not None else ZERO
        out["grossAmt"] = out["amount"] + out["tax1Amt"]
        out.update(self.tracking(line.tracking_category_ids))
        return out

    def _apply_line(self, doc_type: str, doc_books_id: str, amount: Decimal, on: date) -> dict[str, Any]:
        doc = self.get(doc_type, self.key(doc_type, doc_books_id))
        assert doc is not None
        return {"doc": self.ref(doc_type, doc["id"]), "apply": True, "amount": amount, "total": doc["total"],
                "refNum": doc["tranId"], "type": TRAN_LABELS[doc_type], "applyDate": on.isoformat(),
                "line": 0}

    def _load_transactions(self) -> None:
        b = self.books
        ar = self.special_account("AcctRec")
        ap = self.special_account("AcctPay")
        for inv in b.invoices:
            rec = self._header("invoice", inv.id, inv.number, inv.invoice_date, inv.currency, inv.exchange_rate,
                               inv.updated_at)
            paid = inv.total - inv.balance
            rec.update({
                "dueDate": inv.due_date.isoformat() if inv.due_date else None,
                "entity": self.ref_by_key("customer", inv.customer_id), "account": self.ref("account", ar),
                "location": self._location_of(inv.line_items),
                "status": status_ref("invoice", "paid" if inv.balance <= 0 else "open"),
                "subtotal": inv.sub_total, "taxTotal": inv.total_tax, "total": inv.total,
                "amountPaid": paid, "amountRemaining": inv.balance,
                "item": {"items": [self._doc_line(i + 1, line, "account", "description")
                                   for i, line in enumerate(inv.line_items)]}})
            self.add("invoice", _clean(rec))
        for bill in b.bills:
            rec = self._header("vendorBill", bill.id, bill.number, bill.bill_date, bill.currency,
                               bill.exchange_rate, bill.updated_at)
            rec.update({
                "dueDate": bill.due_date.isoformat() if bill.due_date else None,
                "entity": self.ref_by_key("vendor", bill.supplier_id), "account": self.ref("account", ap),
                "location": self._location_of(bill.line_items), "approvalStatus": {"id": "2", "refName": "Approved"},
                "status": status_ref("vendorBill", "paid" if bill.balance <= 0 else "open"),
                "subtotal": bill.sub_total, "taxTotal": bill.total_tax, "userTotal": bill.total,
                "total": bill.total, "amountPaid": bill.total - bill.balance, "balance": bill.balance,
                "expense": {"items": [self._doc_line(i + 1, line, "account", "memo")
                                      for i, line in enumerate(bill.line_items)]}})
            self.add("vendorBill", _clean(rec))
        for cn in b.credit_notes:
            rec = self._header("creditMemo", cn.id, cn.number, cn.issue_date, cn.currency, cn.exchange_rate,
                               cn.updated_at)
            applied = sum((a.amount for a in cn.allocations), ZERO)
            rec.update({
                "entity": self.ref_by_key("customer", cn.customer_id), "account": self.ref("account", ar),
                "location": self._location_of(cn.line_items),
                "status": status_ref("creditMemo", "paid" if cn.balance <= 0 else "open"),
                "subtotal": cn.sub_total, "taxTotal": cn.total_tax, "total": cn.total,
                "applied": applied, "unapplied": cn.balance,
                "item": {"items": [self._doc_line(i + 1, line, "account", "description")
                                   for i, line in enumerate(cn.line_items)]},
                "apply": {"items": [self._apply_line("invoice", a.document_id, a.amount, cn.issue_date)
                                    for a in cn.allocations]}})
            self.add("creditMemo", _clean(rec))
        for pay in b.payments:
            rec = self._header("customerPayment", pay.id, pay.reference, pay.payment_date, pay.currency, None,
                               pay.updated_at)
            applied = sum((a.amount for a in pay.allocations), ZERO)
            rec.update({
                "customer": self.ref_by_key("customer", pay.customer_id),
                "account": self.ref_by_key("account", pay.account_id), "arAcct": self.ref("account", ar),
                "status": status_ref("customerPayment", "open"), "payment": pay.total_amount,
                "total": pay.total_amount, "applied": applied, "unapplied": pay.total_amount - applied,
                "apply": {"items": [self._apply_line("invoice", a.document_id, a.amount, pay.payment_date)
                                    for a in pay.allocations]}})
            self.add("customerPayment", _clean(rec))
        for bp in b.bill_payments:
            rec = self._header("vendorPayment", bp.id, bp.reference, bp.payment_date, bp.currency, None,
                               bp.updated_at)
            applied = sum((a.amount for a in bp.allocations), ZERO)
            rec.update({
                "entity": self.ref_by_key("vendor", bp.supplier_id),
                "account": self.ref_by_key("account", bp.account_id), "apAcct": self.ref("account", ap),
                "total": bp.total_amount, "applied": applied, "unapplied": bp.total_amount - applied,
                "apply": {"items": [self._apply_line("vendorBill", a.document_id, a.amount, bp.payment_date)
                                    for a in bp.allocations]}})
            self.add("vendorPayment", _clean(rec))
        for exp in b.expenses:
            rec = self._header("expenseReport", exp.id, exp.number, exp.transaction_date, exp.currency, None,
                               exp.updated_at)
            currency = rec.pop("currency")
            rate = rec.pop("exchangeRate")
            lines = []
            for i, line in enumerate(exp.line_items):
                item = self._doc_line(i + 1, line, "expenseaccount", "memo")
                item["expenseDate"] = exp.transaction_date.isoformat()
                item["currency"] = currency
                item["exchangerate"] = rate
                lines.append(item)
            rec.update({
                "entity": self.ref_by_key("vendor", exp.supplier_id),
                "account": self.ref_by_key("account", exp.account_id),
                "expensereportcurrency": currency, "expensereportexchangerate": rate,
                "location": self._location_of(exp.line_items), "status": status_ref("expenseReport", "paid"),
                "complete": True, "subtotal": exp.sub_total, "taxTotal": exp.total_tax, "tax1Amt": exp.total_tax,
                "total": exp.total_amount, "amount": exp.total_amount, "expense": {"items": lines}})
            self.add("expenseReport", _clean(rec))
        for po in b.purchase_orders:
            rec = self._header("purchaseOrder", po.id, po.number, po.order_date, po.currency, None, po.updated_at)
            rec.update({
                "dueDate": po.delivery_date.isoformat() if po.delivery_date else None,
                "entity": self.ref_by_key("vendor", po.supplier_id), "location": self._location_of(po.line_items),
                "status": status_ref("purchaseOrder",
                                     "closed" if po.status == PurchaseOrderStatus.CLOSED else "open"),
                "subtotal": po.sub_total, "taxTotal": po.total_tax, "total": po.total,
                "expense": {"items": [self._doc_line(i + 1, line, "account", "memo")
                                      for i, line in enumerate(po.line_items)]}})
            self.add("purchaseOrder", _clean(rec))
        for je in b.journal_entries:
            rec = self._header("journalEntry", je.id, je.number, je.posting_date, je.currency, None, je.updated_at)
            rec.update({"memo": je.description, "approved": True, "status": status_ref("journalEntry", "paid"),
                        "line": {"items": [self.journal_line(i + 1, line) for i, line in enumerate(je.line_items)]}})
            self.add("journalEntry", _clean(rec))

    def journal_line(self, index: int, line: JournalLine) -> dict[str, Any]:
        out: dict[str, Any] = {"line": index, "account": self.ref_by_key("account", line.account_id),
                               "debit" if line.type == PostingType.DEBIT else "credit": line.amount,
                               "memo": line.description}
        out.update(self.tracking(line.tracking_category_ids))
        return _clean(out)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values, as NetSuite omits fields with no value."""
    return {k: v for k, v in record.items() if v is not None}


def doc_state(status: DocumentStatus) -> str:
    return "paid" if status == DocumentStatus.PAID else "open"
