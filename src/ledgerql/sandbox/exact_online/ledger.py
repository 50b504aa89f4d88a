"""One division's records in Exact Online's own shapes, built from the books and changed by writes.

The books are loaded through the same posting operations the write endpoints use, so the open
items (cashflow/Receivables, cashflow/Payments) of the loaded books are computed, not copied, and
`load` checks that they come out equal to the books' balances.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.model.entities import Bill, Contact, Invoice
from ledgerql.model.enums import AccountType, PostingType, PurchaseOrderStatus
from ledgerql.sandbox.books import DEPARTMENT_DIMENSION, LOCATION_DIMENSION, Books, money
from ledgerql.sandbox.exact_online.odata import ODataError, day_start
from ledgerql.sandbox.exact_online.schema import SETS, make

NAMESPACE = uuid.UUID("6c1e4a52-93d4-4f0b-a1de-6f0d3c2b7e11")
SANDBOX_USER = "0f5a5a6e-5d3b-4d0e-9c3f-4b1d2a9e7c01"
SANDBOX_USER_NAME = "Sandbox API User"
ZERO = Decimal("0.00")

# Journal codes (business key of the general journal comes from the books: "GJ").
SALES_JOURNAL = "70"
PURCHASE_JOURNAL = "60"
BANK_JOURNAL_CODES = ["20", "21", "22", "23", "24"]

# Entry number ranges per journal (Exact numbers entries per journal; "25" is the book year).
SALES_NUMBERS = 25_700_000
PURCHASE_NUMBERS = 25_600_000
BANK_NUMBERS = 25_200_000
GENERAL_NUMBERS = 25_900_000

# Exact GL account types per unified sub type (Exact's Type list, see providers.md §3.2).
GL_TYPES: dict[str, tuple[int, str]] = {
    "ACCOUNTS_RECEIVABLE": (20, "Accounts receivable"),
    "BANK": (12, "Bank"),
    "CURRENT_ASSET": (26, "Prepaid expenses"),
    "FIXED_ASSET": (30, "Fixed assets"),
    "ACCOUNTS_PAYABLE": (22, "Accounts payable"),
    "TAX": (24, "VAT"),
    "CURRENT_LIABILITY": (27, "Accrued expenses"),
    "EQUITY": (50, "Capital stock"),
    "RETAINED_EARNINGS": (52, "Retained earnings"),
    "SALES": (110, "Revenue"),
    "OTHER_INCOME": (140, "Exceptional income"),
    "COST_OF_SALES": (111, "Cost of goods"),
    "OVERHEAD": (121, "Sales, general administrative expenses"),
    "PAYROLL": (125, "Employee costs"),
}
FALLBACK_GL_TYPE = {AccountType.ASSET: (32, "Other assets"), AccountType.LIABILITY: (90, "General"),
                    AccountType.EQUITY: (50, "Capital stock"), AccountType.REVENUE: (110, "Revenue"),
                    AccountType.EXPENSE: (120, "Other costs"), AccountType.BANK: (12, "Bank"),
                    AccountType.OTHER: (90, "General")}
PO_STATUS = {PurchaseOrderStatus.OPEN: (10, 10, 10), PurchaseOrderStatus.DRAFT: (10, 10, 10),
             PurchaseOrderStatus.BILLED: (30, 30, 30), PurchaseOrderStatus.CLOSED: (30, 30, 30)}
COST_CENTER_CODES = {"trk-department-sales": "100", "trk-department-operations": "200",
                     "trk-department-administration": "300"}
COST_UNIT_CODES = {"trk-location-london": "LDN", "trk-location-manchester": "MAN"}


def account_code(key: str) -> str:
    """crm/Accounts codes are 18 characters, right-aligned with leading spaces."""
    return key.rjust(18)


@dataclass
class Line:
    """A document line as the write path and the loader hand it to `post_entry`."""

    gl: dict[str, Any]
    amount: Decimal  # net, in the transaction currency, signed as stored
    vat: dict[str, Any] | None
    vat_amount: Decimal
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    cost_center: dict[str, Any] | None = None
    cost_unit: dict[str, Any] | None = None


class Ledger:
    """The records of one division, keyed per entity set by primary key (insertion ordered)."""

    def __init__(self, division: int, books: Books) -> None:
        self.division = division
        self.books = books
        self.base_currency = books.company.base_currency
        self.sets: dict[str, dict[str, dict[str, Any]]] = {
            path: {} for path, spec in SETS.items() if spec.parent is None}
        self.by_business: dict[str, str] = {}  # books id → Exact GUID
        self._serial = 0
        # open item per entry id (receivable or payable)
        self.open_item: dict[str, dict[str, Any]] = {}
        self.bank_journal_of_account: dict[str, str] = {}
        self._last_number: dict[str, int] = {}
        self.entry_numbers: dict[tuple[str, int], str] = {}  # (set path, EntryNumber) → EntryID

    # -- ids and lookups ---------------------------------------------------------------------------
    def guid(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.division}/{kind}/{key}"))

    def new_guid(self, kind: str) -> str:
        self._serial += 1
        return self.guid(kind, f"new-{self._serial}")

    def table(self, path: str) -> dict[str, dict[str, Any]]:
        return self.sets[path]

    def find(self, path: str, field: str, value: Any) -> dict[str, Any] | None:
        for record in self.sets[path].values():
            if record[field] == value:
                return record
        return None

    def gl_by_code(self, code: str) -> dict[str, Any] | None:
        return self.find("financial/GLAccounts", "Code", code)

    def gl_of_type(self, gl_type: int) -> dict[str, Any]:
        record = self.find("financial/GLAccounts", "Type", gl_type)
        assert record is not None, f"no GL account of type {gl_type}"
        return record

    def journal(self, code: str) -> dict[str, Any] | None:
        return self.find("financial/Journals", "Code", code)

    def audit(self, created: datetime, modified: datetime) -> dict[str, Any]:
        return {"Created": created, "Creator": SANDBOX_USER, "CreatorFullName": SANDBOX_USER_NAME,
                "Modified": modified, "Modifier": SANDBOX_USER, "ModifierFullName": SANDBOX_USER_NAME,
                "Division": self.division}

    def rate_of(self, currency: str, rate: Decimal | None) -> Decimal:
        if currency == self.base_currency:
            return Decimal(1)
        return rate if rate is not None else Decimal(1)

    def next_number(self, path: str, field: str, base: int) -> int:
        """The next free number of a set (numbers only grow, as Exact's free-number ranges do)."""
        last = self._last_number.get(path)
        if last is None:
            last = max([base, *(r[field] for r in self.sets[path].values())])
        self._last_number[path] = last + 1
        return last + 1

    # -- loading the books ---------------------------------------------------------------------------
    def load(self) -> None:
        books = self.books
        created = books.company.updated_at or datetime.now()
        self._load_reference(books, created)
        contacts: list[tuple[Contact, bool]] = [(c, True) for c in books.customers]
        contacts += [(s, False) for s in books.suppliers]
        for contact, is_sales in contacts:
            self.by_business[contact.id] = self.add_account(
                key=contact.id, name=contact.display_name, email=contact.email, is_sales=is_sales,
                is_supplier=not is_sales, currency=contact.currency or self.base_currency,
                created=contact.updated_at or created, modified=contact.updated_at or created,
                guid=self.guid("account", contact.id))

        for inv in books.invoices:
            self.by_business[inv.id] = self._load_entry("sales", inv.id, inv.number or inv.id, inv.customer_id,
                                                        inv.invoice_date, inv.due_date, inv.currency,
                                                        inv.exchange_rate, inv.line_items, 20, inv.updated_at)
        for cn in books.credit_notes:
            self.by_business[cn.id] = self._load_entry("sales", cn.id, cn.number or cn.id, cn.customer_id,
                                                       cn.issue_date, cn.issue_date, cn.currency,
                                                       cn.exchange_rate, cn.line_items, 21, cn.updated_at)
        for bill in books.bills:
            self.by_business[bill.id] = self._load_entry("purchase", bill.id, bill.number or bill.id,
                                                         bill.supplier_id, bill.bill_date, bill.due_date,
                                                         bill.currency, bill.exchange_rate, bill.line_items, 30,
                                                         bill.updated_at)
        for exp in books.expenses:
            self.by_business[exp.id] = self._load_entry("purchase", exp.id, exp.number or exp.id,
                                                        exp.supplier_id, exp.transaction_date,
                                                        exp.transaction_date, exp.currency, None, exp.line_items,
                                                        30, exp.updated_at)
        # Credit notes are matched with their invoices.
        for cn in books.credit_notes:
            for allocation in cn.allocations:
                self.match_credit_note(self.by_business[cn.id], self.by_business[allocation.document_id],
                                       allocation.amount, when=None)
        # Payments, bill payments and the settlements of expenses are bank entries.
        for payment in books.payments:
            self._load_bank_entry(payment.id, payment.reference or payment.id, payment.account_id,
                                  payment.customer_id, payment.payment_date, payment.currency,
                                  [(a.document_id, a.amount) for a in payment.allocations],
                                  payment.total_amount, receipt=True, modified=payment.updated_at)
        for bill_payment in books.bill_payments:
            self._load_bank_entry(bill_payment.id, bill_payment.reference or bill_payment.id,
                                  bill_payment.account_id, bill_payment.supplier_id, bill_payment.payment_date,
                                  bill_payment.currency, [(a.document_id, a.amount) for a in bill_payment.allocations],
                                  bill_payment.total_amount, receipt=False, modified=bill_payment.updated_at)
        for exp in books.expenses:
            self._load_bank_entry(f"settle-{exp.id}", exp.number or exp.id, exp.account_id, exp.supplier_id,
                                  exp.transaction_date, exp.currency, [(exp.id, exp.total_amount)],
                                  exp.total_amount, receipt=False, modified=exp.updated_at)
        for po in books.purchase_orders:
            lines = [self._book_line(line, sign=1) for line in po.line_items]
            self.by_business[po.id] = self.add_purchase_order(
                guid=self.guid("po", po.id), number=po.number or po.id,
                supplier=self.table("crm/Accounts")[self.by_business[po.supplier_id or ""]],
                order_date=po.order_date, receipt_date=po.delivery_date, currency=po.currency, rate=None,
                lines=lines, status=po.status, modified=po.updated_at or created)
        for je in books.journal_entries:
            journal_code = next((j.code for j in books.journals if j.id == je.journal_id), None) or "GJ"
            je_lines = []
            for jl in je.line_items:
                sign = 1 if jl.type == PostingType.DEBIT else -1
                cost_center = self._tracking(jl.tracking_category_ids, DEPARTMENT_DIMENSION)
                je_lines.append((self.table("financial/GLAccounts")[self.by_business[jl.account_id]],
                                 jl.amount * sign, jl.description, cost_center,
                                 self._tracking(jl.tracking_category_ids, LOCATION_DIMENSION)))
            self.by_business[je.id] = self.add_journal_entry(
                guid=self.guid("je", je.id), number=je.number or je.id, journal_code=journal_code,
                posting_date=je.posting_date, currency=je.currency, lines=je_lines,
                modified=je.updated_at or created)
        self._check_balances()

    def _load_reference(self, books: Books, created: datetime) -> None:
        for acc in books.ledger_accounts:
            gl_type, type_description = GL_TYPES.get(acc.sub_type or "", FALLBACK_GL_TYPE[acc.type])
            balance_sheet = acc.type in (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY,
                                         AccountType.BANK)
            debit_side = acc.type in (AccountType.ASSET, AccountType.BANK, AccountType.EXPENSE)
            guid = self.guid("gl", acc.id)
            self.by_business[acc.id] = guid
            self.sets["financial/GLAccounts"][guid] = make(
                "financial/GLAccounts", ID=guid, Code=acc.nominal_code, Description=acc.name,
                SearchCode=acc.nominal_code, Type=gl_type, TypeDescription=type_description,
                BalanceSide="D" if debit_side else "C", BalanceType="B" if balance_sheet else "W",
                IsBlocked=acc.status.value != "ACTIVE",
                **self.audit(acc.updated_at or created, acc.updated_at or created))
        for tax in books.tax_rates:
            guid = self.guid("vat", tax.id)
            self.by_business[tax.id] = guid
            self.sets["vat/VATCodes"][guid] = make(
                "vat/VATCodes", ID=guid, Code=tax.code, Description=tax.name, Percentage=tax.rate / Decimal(100),
                Type="E", VATTransactionType="B", IsBlocked=tax.status.value != "ACTIVE",
                **self.audit(tax.updated_at or created, tax.updated_at or created))
        for option in books.tracking_categories:
            if option.parent_id == DEPARTMENT_DIMENSION:
                path, code = "hrm/Costcenters", COST_CENTER_CODES.get(option.id, option.id[-8:].upper())
                extra: dict[str, Any] = {"Active": option.status.value == "ACTIVE"}
            elif option.parent_id == LOCATION_DIMENSION:
                path, code = "hrm/Costunits", COST_UNIT_CODES.get(option.id, option.id[-8:].upper())
                extra = {}
            else:
                continue
            guid = self.guid("tracking", option.id)
            self.by_business[option.id] = guid
            self.sets[path][guid] = make(path, ID=guid, Code=code, Description=option.name, **extra,
                                         **self.audit(option.updated_at or created, option.updated_at or created))
        journals = self.sets["financial/Journals"]
        for journal in books.journals:
            guid = self.guid("journal", journal.id)
            self.by_business[journal.id] = guid
            journals[guid] = make("financial/Journals", ID=guid, Code=journal.code or "GJ",
                                  Description=journal.name, Type=90, TypeDescription="General journal",
                                  IsBlocked=False,
                                  **self.audit(journal.updated_at or created, journal.updated_at or created))
        for code, description, kind, type_description in [
                (SALES_JOURNAL, "Sales journal", 20, "Sales"),
                (PURCHASE_JOURNAL, "Purchase journal", 22, "Purchase")]:
            guid = self.guid("journal", code)
            journals[guid] = make("financial/Journals", ID=guid, Code=code, Description=description, Type=kind,
                                  TypeDescription=type_description, Currency=self.base_currency,
                                  IsBlocked=False, **self.audit(created, created))
        for index, bank in enumerate(books.bank_accounts):
            gl = self.sets["financial/GLAccounts"][self.by_business[bank.ledger_account_id or ""]]
            code = BANK_JOURNAL_CODES[index] if index < len(BANK_JOURNAL_CODES) else f"B{index + 1}"
            guid = self.guid("journal", bank.id)
            self.by_business[bank.id] = guid
            self.bank_journal_of_account[bank.ledger_account_id or ""] = code
            journals[guid] = make("financial/Journals", ID=guid, Code=code, Description=bank.name, Type=12,
                                  TypeDescription="Bank", Currency=bank.currency or self.base_currency,
                                  GLAccount=gl["ID"], GLAccountCode=gl["Code"], GLAccountDescription=gl["Description"],
                                  BankAccountIBAN=bank.account_number, BankAccountDescription=bank.name,
                                  BankName=bank.institution_name, IsBlocked=False,
                                  **self.audit(bank.updated_at or created, bank.updated_at or created))

    def _tracking(self, ids: list[str], dimension: str) -> dict[str, Any] | None:
        path = "hrm/Costcenters" if dimension == DEPARTMENT_DIMENSION else "hrm/Costunits"
        for tracking_id in ids:
            guid = self.by_business.get(tracking_id)
            if guid and guid in self.sets[path]:
                return self.sets[path][guid]
        return None

    def _book_line(self, line: Any, sign: int) -> Line:
        gl = self.table("financial/GLAccounts")[self.by_business[line.account_id]]
        vat = self.table("vat/VATCodes")[self.by_business[line.tax_rate_id]] if line.tax_rate_id else None
        return Line(gl=gl, amount=line.total_amount * sign, vat=vat, vat_amount=(line.tax_amount or ZERO) * sign,
                    description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                    cost_center=self._tracking(line.tracking_category_ids, DEPARTMENT_DIMENSION),
                    cost_unit=self._tracking(line.tracking_category_ids, LOCATION_DIMENSION))

    def _load_entry(self, kind: str, key: str, number: str, party_id: str | None, entry_date: date,
                    due_date: date | None, currency: str, rate: Decimal | None, line_items: list[Any],
                    entry_type: int, updated_at: datetime | None) -> str:
        sign = -1 if entry_type == 21 else 1
        lines = [self._book_line(line, sign) for line in line_items]
        party = self.table("crm/Accounts")[self.by_business[party_id or ""]]
        modified = updated_at or day_start(entry_date)
        return self.post_entry(kind, guid=self.guid(kind, key), your_ref=number, party=party,
                               entry_date=entry_date, due_date=due_date, currency=currency, rate=rate,
                               lines=lines, entry_type=entry_type, description=number, modified=modified)

    def _load_bank_entry(self, key: str, reference: str, account_id: str | None, party_id: str | None,
                         paid_on: date, currency: str, allocations: list[tuple[str, Decimal]], total: Decimal,
                         receipt: bool, modified: datetime | None) -> None:
        party = self.table("crm/Accounts")[self.by_business[party_id or ""]]
        path = "salesentry/SalesEntries" if receipt else "purchaseentry/PurchaseEntries"
        sign = -1 if receipt else 1
        lines: list[tuple[int | None, Decimal]] = []
        for document_id, amount in allocations:
            entry = self.table(path)[self.by_business[document_id]]
            lines.append((entry["EntryNumber"], amount * sign))
        extra = total - sum((amount for _, amount in allocations), ZERO)
        if extra:
            lines.append((None, extra * sign))
        journal_code = self.bank_journal_of_account[account_id or ""]
        guid = self.post_bank_entry(guid=self.guid("bank", key), journal_code=journal_code, currency=currency,
                                    lines=[(party, our_ref, amount, paid_on, reference) for our_ref, amount in lines],
                                    modified=modified or day_start(paid_on), touch_documents=False)
        self.by_business[key] = guid

    def _check_balances(self) -> None:
        documents: list[Invoice | Bill] = [*self.books.invoices, *self.books.bills]
        for doc in documents:
            item = self.open_item[self.by_business[doc.id]]
            if item["AmountFC"] != doc.balance:
                raise AssertionError(f"open item of {doc.id} is {item['AmountFC']}, the books say {doc.balance}")
        for cn in self.books.credit_notes:
            item = self.open_item[self.by_business[cn.id]]
            if -item["AmountFC"] != cn.balance:
                raise AssertionError(f"open item of {cn.id} is {item['AmountFC']}, the books say -{cn.balance}")

    # -- posting operations (shared by the loader and the write endpoints) --------------------------
    def add_account(self, *, key: str | None, name: str, email: str | None, is_sales: bool, is_supplier: bool,
                    currency: str, created: datetime, modified: datetime, guid: str,
                    status: str | None = None) -> str:
        accounts = self.sets["crm/Accounts"]
        if key is None:
            key = f"{len(accounts) + 1:06d}"
        ar = self.gl_of_type(20)
        ap = self.gl_of_type(22)
        accounts[guid] = make(
            "crm/Accounts", ID=guid, Code=account_code(key), Name=name, SearchCode=key[:10],
            Status=status or ("C" if is_sales else "A"), IsSales=is_sales, IsSupplier=is_supplier,
            IsPurchase=is_supplier, Email=email, Country="GB",
            SalesCurrency=currency if is_sales else None, PurchaseCurrency=currency if is_supplier else None,
            GLAR=ar["ID"] if is_sales else None, GLAP=ap["ID"] if is_supplier else None, Blocked=False,
            **self.audit(created, modified))
        return guid

    def post_entry(self, kind: str, *, guid: str, your_ref: str | None, party: dict[str, Any], entry_date: date,
                   due_date: date | None, currency: str, rate: Decimal | None, lines: list[Line],
                   entry_type: int, description: str | None, modified: datetime,
                   number: int | None = None) -> str:
        """A sales entry (kind "sales", Type 20/21) or purchase entry ("purchase", Type 30/31) with its
        open item in cashflow/Receivables or cashflow/Payments."""
        sales = kind == "sales"
        path = "salesentry/SalesEntries" if sales else "purchaseentry/PurchaseEntries"
        journal_code = SALES_JOURNAL if sales else PURCHASE_JOURNAL
        journal = self.journal(journal_code)
        assert journal is not None
        if number is None:
            number = self.next_number(path, "EntryNumber", SALES_NUMBERS if sales else PURCHASE_NUMBERS)
        rate_value = self.rate_of(currency, rate)
        created = min(modified, day_start(entry_date))
        lines_path = "salesentry/SalesEntryLines" if sales else "purchaseentry/PurchaseEntryLines"
        stored_lines = []
        for index, line in enumerate(lines):
            stored_lines.append(make(
                lines_path, ID=self.guid(f"{kind}-line", f"{guid}/{index}"),
                EntryID=guid, LineNumber=index + 1, GLAccount=line.gl["ID"], GLAccountCode=line.gl["Code"],
                GLAccountDescription=line.gl["Description"], Description=line.description, Quantity=line.quantity,
                AmountFC=line.amount, AmountDC=money(line.amount * rate_value),
                VATCode=line.vat["Code"] if line.vat else None,
                VATCodeDescription=line.vat["Description"] if line.vat else None,
                VATPercentage=line.vat["Percentage"] if line.vat else None,
                VATAmountFC=line.vat_amount, VATAmountDC=money(line.vat_amount * rate_value),
                VATBaseAmountFC=line.amount, VATBaseAmountDC=money(line.amount * rate_value),
                CostCenter=line.cost_center["Code"] if line.cost_center else None,
                CostCenterDescription=line.cost_center["Description"] if line.cost_center else None,
                CostUnit=line.cost_unit["Code"] if line.cost_unit else None,
                CostUnitDescription=line.cost_unit["Description"] if line.cost_unit else None,
                Division=self.division))
        net = sum((line.amount for line in lines), ZERO)
        vat = sum((line.vat_amount for line in lines), ZERO)
        total = net + vat
        type_description = {20: "Sales entry", 21: "Sales credit note", 30: "Purchase entry",
                            31: "Purchase credit note"}[entry_type]
        party_fields = ({"Customer": party["ID"], "CustomerName": party["Name"], "SalesEntryLines": stored_lines}
                        if sales else
                        {"Supplier": party["ID"], "SupplierName": party["Name"], "PurchaseEntryLines": stored_lines})
        record = make(
            path, EntryID=guid, EntryNumber=number, InvoiceNumber=number, Journal=journal_code,
            JournalDescription=journal["Description"], Type=entry_type, TypeDescription=type_description,
            Status=20, StatusDescription="Open", EntryDate=day_start(entry_date),
            DueDate=day_start(due_date or entry_date), Currency=currency, Rate=rate_value, AmountFC=total,
            AmountDC=money(total * rate_value), VATAmountFC=vat, VATAmountDC=money(vat * rate_value),
            YourRef=your_ref, Description=description, PaymentCondition="30", PaymentReference=str(number),
            ReportingYear=entry_date.year, ReportingPeriod=entry_date.month, Reversal=False,
            **party_fields, **self.audit(created, modified))
        self.sets[path][guid] = record
        self.entry_numbers[(path, number)] = guid
        # The open item: remaining amount (signed like the entry), total, fully-paid flag.
        items = "cashflow/Receivables" if sales else "cashflow/Payments"
        control = self.gl_of_type(20 if sales else 22)
        item_id = self.guid("open-item", guid)
        item = make(
            items, ID=item_id, Account=party["ID"], AccountCode=party["Code"], AccountName=party["Name"],
            AmountFC=total, AmountDC=money(total * rate_value), Currency=currency, RateFC=rate_value,
            Description=description, DueDate=record["DueDate"], EntryDate=record["EntryDate"], EntryID=guid,
            EntryNumber=number, GLAccount=control["ID"], GLAccountCode=control["Code"],
            GLAccountDescription=control["Description"], InvoiceDate=record["EntryDate"], InvoiceNumber=number,
            IsFullyPaid=total == 0, Journal=journal_code, JournalDescription=journal["Description"],
            LastPaymentDate=None, PaymentReference=str(number), Source=1, Status=50 if total == 0 else 20,
            TransactionAmountDC=money(total * rate_value), TransactionAmountFC=total,
            TransactionDueDate=record["DueDate"], TransactionEntryID=guid, TransactionIsReversal=False,
            TransactionReportingPeriod=entry_date.month, TransactionReportingYear=entry_date.year,
            TransactionStatus=20, TransactionType=entry_type, YourRef=your_ref, **self.audit(created, modified))
        self.sets[items][item_id] = item
        self.open_item[guid] = item
        return guid

    def _settle(self, item: dict[str, Any], amount: Decimal, when: datetime | None, paid_on: date | None) -> None:
        """Lower an open item by `amount` (in the item's own sign)."""
        item["AmountFC"] -= amount
        item["AmountDC"] = money(item["AmountFC"] * item["RateFC"])
        fully = item["AmountFC"] <= 0 if item["TransactionAmountFC"] > 0 else item["AmountFC"] >= 0
        item["IsFullyPaid"] = fully
        item["Status"] = 50 if fully else 20
        if paid_on is not None:
            last = item["LastPaymentDate"]
            item["LastPaymentDate"] = max(last, day_start(paid_on)) if last else day_start(paid_on)
        if when is not None:
            item["Modified"] = when

    def match_credit_note(self, credit_id: str, invoice_id: str, amount: Decimal, when: datetime | None) -> None:
        """Match a credit note with an invoice: the credit note's PaymentReference names the invoice's
        entry number, its receivable carries the invoice's YourRef, and both open items shrink."""
        credit = self.sets["salesentry/SalesEntries"][credit_id]
        invoice = self.sets["salesentry/SalesEntries"][invoice_id]
        credit["PaymentReference"] = str(invoice["EntryNumber"])
        credit_item = self.open_item[credit_id]
        credit_item["PaymentReference"] = str(invoice["EntryNumber"])
        credit_item["YourRef"] = invoice["YourRef"]
        self._settle(self.open_item[invoice_id], amount, when, None)
        self._settle(credit_item, -amount, when, None)
        if when is not None:
            invoice["Modified"] = when
            credit["Modified"] = when

    def post_bank_entry(self, *, guid: str, journal_code: str, currency: str,
                        lines: list[tuple[dict[str, Any], int | None, Decimal, date, str | None]],
                        modified: datetime, touch_documents: bool, number: int | None = None) -> str:
        """A bank entry. Each line: (customer/supplier account, OurRef entry number or None, AmountFC signed
        debit + / credit − on the control account, date, description). Receipts from customers are
        negative (they credit accounts receivable); payments to suppliers positive (they debit payables)."""
        journal = self.journal(journal_code)
        assert journal is not None
        if number is None:
            number = self.next_number("financialtransaction/BankEntries", "EntryNumber", BANK_NUMBERS)
        rate_value = Decimal(1) if currency == self.base_currency else self._rate_for(lines)
        first_date = min(line[3] for line in lines)
        stored = []
        for index, (party, our_ref, amount, on, description) in enumerate(lines):
            control = self.gl_of_type(20 if party["IsSales"] and not party["IsSupplier"] else 22)
            stored.append(make(
                "financialtransaction/BankEntryLines", ID=self.guid("bank-line", f"{guid}/{index}"), EntryID=guid,
                LineNumber=index + 1, Account=party["ID"], AccountCode=party["Code"], AccountName=party["Name"],
                GLAccount=control["ID"], GLAccountCode=control["Code"], GLAccountDescription=control["Description"],
                Date=day_start(on), Description=description, AmountFC=amount, AmountDC=money(amount * rate_value),
                AmountVATFC=ZERO, OurRef=our_ref, Notes=description, Division=self.division))
            if our_ref is not None:
                self._apply_line(party, our_ref, amount, on, modified if touch_documents else None)
        self.sets["financialtransaction/BankEntries"][guid] = make(
            "financialtransaction/BankEntries", EntryID=guid, EntryNumber=number, JournalCode=journal_code,
            JournalDescription=journal["Description"], Currency=currency, FinancialYear=first_date.year,
            FinancialPeriod=first_date.month, Status=20, StatusDescription="Open", BankEntryLines=stored,
            **self.audit(min(modified, day_start(first_date)), modified))
        return guid

    def _rate_for(self, lines: list[tuple[dict[str, Any], int | None, Decimal, date, str | None]]) -> Decimal:
        for party, our_ref, _, _, _ in lines:
            if our_ref is not None:
                entry = self.entry_by_number(party, our_ref)
                if entry is not None:
                    return Decimal(entry["Rate"])
        return Decimal(1)

    def entry_by_number(self, party: dict[str, Any], number: int) -> dict[str, Any] | None:
        path = "salesentry/SalesEntries" if party["IsSales"] and not party["IsSupplier"] \
            else "purchaseentry/PurchaseEntries"
        guid = self.entry_numbers.get((path, number))
        return None if guid is None else self.sets[path].get(guid)

    def _apply_line(self, party: dict[str, Any], our_ref: int, amount: Decimal, on: date,
                    when: datetime | None) -> None:
        entry = self.entry_by_number(party, our_ref)
        if entry is None:
            raise ODataError(f"OurRef: no open item with entry number {our_ref} for account {party['Code'].strip()}")
        item = self.open_item[entry["EntryID"]]
        sales = "Customer" in entry
        # Receipts (negative) lower a receivable; payments (positive) lower a payable.
        self._settle(item, -amount if sales else amount, when, on)
        if when is not None:
            entry["Modified"] = when

    def add_purchase_order(self, *, guid: str, number: str | None, supplier: dict[str, Any], order_date: date,
                           receipt_date: date | None, currency: str, rate: Decimal | None, lines: list[Line],
                           status: PurchaseOrderStatus, modified: datetime) -> str:
        orders = self.sets["purchaseorder/PurchaseOrders"]
        order_number = max([0, *(o["OrderNumber"] for o in orders.values())]) + 1
        rate_value = self.rate_of(currency, rate)
        stored = []
        for index, line in enumerate(lines):
            stored.append(make(
                "purchaseorder/PurchaseOrderLines", ID=self.guid("po-line", f"{guid}/{index}"), PurchaseOrderID=guid,
                LineNumber=index + 1, Description=line.description, Quantity=line.quantity,
                UnitPrice=line.unit_price, NetPrice=line.unit_price, AmountFC=line.amount,
                AmountDC=money(line.amount * rate_value), VATCode=line.vat["Code"] if line.vat else None,
                VATDescription=line.vat["Description"] if line.vat else None,
                VATPercentage=line.vat["Percentage"] if line.vat else None, VATAmount=line.vat_amount,
                CostCenter=line.cost_center["Code"] if line.cost_center else None,
                CostCenterDescription=line.cost_center["Description"] if line.cost_center else None,
                CostUnit=line.cost_unit["Code"] if line.cost_unit else None,
                CostUnitDescription=line.cost_unit["Description"] if line.cost_unit else None,
                GLAccount=line.gl["ID"], GLAccountCode=line.gl["Code"],
                ReceiptDate=day_start(receipt_date) if receipt_date else None, Division=self.division))
        net = sum((line.amount for line in lines), ZERO)
        vat = sum((line.vat_amount for line in lines), ZERO)
        order_status, invoice_status, receipt_status = PO_STATUS[status]
        orders[guid] = make(
            "purchaseorder/PurchaseOrders", PurchaseOrderID=guid, OrderNumber=order_number, YourRef=number,
            Description=number, Supplier=supplier["ID"], SupplierCode=supplier["Code"], SupplierName=supplier["Name"],
            OrderDate=day_start(order_date), ReceiptDate=day_start(receipt_date) if receipt_date else None,
            OrderStatus=order_status, InvoiceStatus=invoice_status, ReceiptStatus=receipt_status, Currency=currency,
            ExchangeRate=rate_value, AmountFC=net + vat, AmountDC=money((net + vat) * rate_value), VATAmount=vat,
            Source=11, PurchaseOrderLineCount=len(stored), PurchaseOrderLines=stored,
            **self.audit(min(modified, day_start(order_date)), modified))
        return guid

    def add_journal_entry(self, *, guid: str, number: str | None, journal_code: str, posting_date: date,
                          currency: str, modified: datetime,
                          lines: list[tuple[dict[str, Any], Decimal, str | None, dict[str, Any] | None,
                                            dict[str, Any] | None]],
                          entry_number: int | None = None) -> str:
        """A general journal entry; line amounts are signed: debit positive, credit negative."""
        entries = self.sets["generaljournalentry/GeneralJournalEntries"]
        journal = self.journal(journal_code)
        assert journal is not None
        if entry_number is None:
            entry_number = self.next_number("generaljournalentry/GeneralJournalEntries", "EntryNumber",
                                            GENERAL_NUMBERS)
        stored = []
        for index, (gl, amount, description, cost_center, cost_unit) in enumerate(lines):
            stored.append(make(
                "generaljournalentry/GeneralJournalEntryLines", ID=self.guid("je-line", f"{guid}/{index}"),
                EntryID=guid, LineNumber=index + 1, GLAccount=gl["ID"], GLAccountCode=gl["Code"],
                GLAccountDescription=gl["Description"], Date=day_start(posting_date), Description=description,
                AmountFC=amount, AmountDC=amount, AmountVATFC=ZERO,
                CostCenter=cost_center["Code"] if cost_center else None,
                CostCenterDescription=cost_center["Description"] if cost_center else None,
                CostUnit=cost_unit["Code"] if cost_unit else None,
                CostUnitDescription=cost_unit["Description"] if cost_unit else None,
                Notes=number, Division=self.division))
        entries[guid] = make(
            "generaljournalentry/GeneralJournalEntries", EntryID=guid, EntryNumber=entry_number,
            JournalCode=journal_code, JournalDescription=journal["Description"], FinancialYear=posting_date.year,
            FinancialPeriod=posting_date.month, Currency=currency, ExchangeRate=Decimal(1), Reversal=False,
            Status=20, StatusDescription="Open", Type=90, TypeDescription="Other",
            GeneralJournalEntryLines=stored, **self.audit(min(modified, day_start(posting_date)), modified))
        return guid

    # -- classification used by summary() and documented for connectors ----------------------------
    def is_expense_entry(self, entry: dict[str, Any]) -> bool:
        """A purchase entry that stands in for an expense: due date = entry date (the books' expenses are
        also settled at once, by a bank entry of the paying account)."""
        return bool(entry["DueDate"] == entry["EntryDate"])

    def summary(self) -> dict[str, dict[str, Any]]:
        def add(bucket: dict[str, Decimal], currency: str, amount: Decimal) -> None:
            bucket[currency] = bucket.get(currency, ZERO) + amount

        totals: dict[str, dict[str, Decimal]] = defaultdict(dict)
        counts: dict[str, int] = defaultdict(int)
        for entry in self.sets["salesentry/SalesEntries"].values():
            name = "credit_notes" if entry["Type"] == 21 else "invoices"
            counts[name] += 1
            add(totals[name], entry["Currency"], abs(entry["AmountFC"]))
        expense_numbers = set()
        for entry in self.sets["purchaseentry/PurchaseEntries"].values():
            name = "expenses" if self.is_expense_entry(entry) else "bills"
            if name == "expenses":
                expense_numbers.add(entry["EntryNumber"])
            counts[name] += 1
            add(totals[name], entry["Currency"], abs(entry["AmountFC"]))
        for bank_entry in self.sets["financialtransaction/BankEntries"].values():
            lines = bank_entry["BankEntryLines"]
            if any(line["OurRef"] in expense_numbers and line["GLAccountCode"] == self.gl_of_type(22)["Code"]
                   for line in lines):
                continue  # the settlement of an expense is part of the expense
            receipt = lines[0]["GLAccount"] == self.gl_of_type(20)["ID"]
            name = "payments" if receipt else "bill_payments"
            counts[name] += 1
            add(totals[name], bank_entry["Currency"], abs(sum((line["AmountFC"] for line in lines), ZERO)))
        for order in self.sets["purchaseorder/PurchaseOrders"].values():
            counts["purchase_orders"] += 1
            add(totals["purchase_orders"], order["Currency"], order["AmountFC"])
        for je in self.sets["generaljournalentry/GeneralJournalEntries"].values():
            counts["journal_entries"] += 1
            debits = sum((line["AmountFC"] for line in je["GeneralJournalEntryLines"] if line["AmountFC"] > 0), ZERO)
            add(totals["journal_entries"], je["Currency"], debits)
        result: dict[str, dict[str, Any]] = {}
        for name in ("invoices", "bills", "payments", "bill_payments", "credit_notes", "expenses",
                     "purchase_orders", "journal_entries"):
            result[name] = {"count": counts[name],
                            "totals": {cur: str(amount) for cur, amount in sorted(totals[name].items())}}
        accounts = self.sets["crm/Accounts"].values()
        result["customers"] = {"count": sum(1 for a in accounts if a["IsSales"])}
        result["suppliers"] = {"count": sum(1 for a in accounts if a["IsSupplier"])}
        result["ledger_accounts"] = {"count": len(self.sets["financial/GLAccounts"])}
        result["tax_rates"] = {"count": len(self.sets["vat/VATCodes"])}
        result["bank_accounts"] = {"count": sum(1 for j in self.sets["financial/Journals"].values() if j["Type"] == 12)}
        return result
