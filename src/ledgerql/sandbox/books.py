"""One company's books, generated deterministically, in unified terms.

Every emulator is fed these same books and converts them to its provider's own shapes, so a
query answered by any of the four sandboxes describes the same company. Ids here are business
keys ("INV-0001", "acc-4000"); each emulator assigns its provider's own ids on load.

Nothing here is random across runs: one `random.Random(seed)` drives every choice, and all
instants fall in the books' year, before anything a test writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from ledgerql.model.entities import (
    Allocation,
    BankAccount,
    Bill,
    BillPayment,
    CompanyInfo,
    CreditNote,
    Customer,
    Expense,
    Invoice,
    Journal,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LineItem,
    Payment,
    PurchaseOrder,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from ledgerql.model.enums import AccountType, DocumentStatus, PostingType, PurchaseOrderStatus
from ledgerql.model.rules import CENT, derived_status, line_tax, money

# Re-exported: the emulators take the rounding and status rules from the books they serve.
__all__ = ["CENT", "BookSizes", "Books", "derived_status", "generate_books", "line_tax", "money"]

ContactT = TypeVar("ContactT", Customer, Supplier)
DocT = TypeVar("DocT", Invoice, Bill)
PaymentT = TypeVar("PaymentT", Payment, BillPayment)
BASE_CURRENCY = "GBP"
FOREIGN_CURRENCY = "EUR"
EUR_RATE = Decimal("0.8500")  # GBP per EUR, fixed so that every provider agrees
YEAR_START = date(2025, 1, 1)
YEAR_DAYS = 365


@dataclass(frozen=True)
class BookSizes:
    """How large the generated books are. The defaults give about a year of a small company."""

    customers: int = 32
    suppliers: int = 32
    invoices: int = 260
    bills: int = 260
    credit_notes: int = 24
    purchase_orders: int = 30
    expenses: int = 40
    journal_entries: int = 24

    @classmethod
    def tiny(cls) -> BookSizes:
        return cls(customers=4, suppliers=4, invoices=12, bills=12, credit_notes=3,
                   purchase_orders=3, expenses=4, journal_entries=3)

    @classmethod
    def scaled(cls, factor: int) -> BookSizes:
        base = cls()
        return cls(**{name: getattr(base, name) * factor for name in base.__dataclass_fields__})


@dataclass
class Books:
    """The whole set of books. Lists are in creation order; ids are business keys."""

    company: CompanyInfo
    ledger_accounts: list[LedgerAccount]
    bank_accounts: list[BankAccount]
    tax_rates: list[TaxRate]
    tracking_categories: list[TrackingCategory]
    customers: list[Customer]
    suppliers: list[Supplier]
    invoices: list[Invoice]
    bills: list[Bill]
    credit_notes: list[CreditNote]
    payments: list[Payment]
    bill_payments: list[BillPayment]
    expenses: list[Expense]
    purchase_orders: list[PurchaseOrder]
    journals: list[Journal]
    journal_entries: list[JournalEntry]
    seed: int = 0
    sizes: BookSizes = field(default_factory=BookSizes)

    def account(self, account_id: str) -> LedgerAccount:
        return next(a for a in self.ledger_accounts if a.id == account_id)

    def tax_rate(self, tax_rate_id: str) -> TaxRate:
        return next(t for t in self.tax_rates if t.id == tax_rate_id)

    @property
    def departments(self) -> list[TrackingCategory]:
        return [t for t in self.tracking_categories if t.parent_id == DEPARTMENT_DIMENSION]

    @property
    def locations(self) -> list[TrackingCategory]:
        return [t for t in self.tracking_categories if t.parent_id == LOCATION_DIMENSION]


# --- reference data ------------------------------------------------------------------------------

# (code, name, type, sub_type, currency)
CHART_OF_ACCOUNTS: list[tuple[str, str, AccountType, str, str | None]] = [
    ("1100", "Accounts Receivable", AccountType.ASSET, "ACCOUNTS_RECEIVABLE", None),
    ("1200", "Business Current Account", AccountType.BANK, "BANK", "GBP"),
    ("1210", "Business Savings Account", AccountType.BANK, "BANK", "GBP"),
    ("1220", "Euro Account", AccountType.BANK, "BANK", "EUR"),
    ("1300", "Prepayments", AccountType.ASSET, "CURRENT_ASSET", None),
    ("1500", "Office Equipment", AccountType.ASSET, "FIXED_ASSET", None),
    ("2100", "Accounts Payable", AccountType.LIABILITY, "ACCOUNTS_PAYABLE", None),
    ("2200", "VAT Control", AccountType.LIABILITY, "TAX", None),
    ("2300", "Accruals", AccountType.LIABILITY, "CURRENT_LIABILITY", None),
    ("3000", "Share Capital", AccountType.EQUITY, "EQUITY", None),
    ("3100", "Retained Earnings", AccountType.EQUITY, "RETAINED_EARNINGS", None),
    ("4000", "Sales - Services", AccountType.REVENUE, "SALES", None),
    ("4010", "Sales - Products", AccountType.REVENUE, "SALES", None),
    ("4900", "Other Income", AccountType.REVENUE, "OTHER_INCOME", None),
    ("5000", "Cost of Sales", AccountType.EXPENSE, "COST_OF_SALES", None),
    ("6000", "Rent", AccountType.EXPENSE, "OVERHEAD", None),
    ("6100", "Utilities", AccountType.EXPENSE, "OVERHEAD", None),
    ("6200", "Travel", AccountType.EXPENSE, "OVERHEAD", None),
    ("6300", "Software Subscriptions", AccountType.EXPENSE, "OVERHEAD", None),
    ("6400", "Office Supplies", AccountType.EXPENSE, "OVERHEAD", None),
    ("6500", "Professional Fees", AccountType.EXPENSE, "OVERHEAD", None),
    ("7000", "Wages and Salaries", AccountType.EXPENSE, "PAYROLL", None),
    ("7100", "Bank Charges", AccountType.EXPENSE, "OVERHEAD", None),
]
SALES_ACCOUNTS = ["acc-4000", "acc-4010"]
PURCHASE_ACCOUNTS = ["acc-5000", "acc-6000", "acc-6100", "acc-6300", "acc-6400", "acc-6500"]
EXPENSE_ACCOUNTS = ["acc-6200", "acc-6300", "acc-6400", "acc-7100"]
BANK_BY_CURRENCY = {"GBP": ["acc-1200", "acc-1210"], "EUR": ["acc-1220"]}

TAX_RATES = [
    ("tax-Z", "Z", "Zero rated 0%", Decimal("0")),
    ("tax-R", "R", "Reduced rate 5%", Decimal("5")),
    ("tax-S", "S", "Standard rate 20%", Decimal("20")),
]

DEPARTMENT_DIMENSION = "trk-department"
LOCATION_DIMENSION = "trk-location"
TRACKING = [
    (DEPARTMENT_DIMENSION, "Department", None),
    ("trk-department-sales", "Sales", DEPARTMENT_DIMENSION),
    ("trk-department-operations", "Operations", DEPARTMENT_DIMENSION),
    ("trk-department-administration", "Administration", DEPARTMENT_DIMENSION),
    (LOCATION_DIMENSION, "Location", None),
    ("trk-location-london", "London", LOCATION_DIMENSION),
    ("trk-location-manchester", "Manchester", LOCATION_DIMENSION),
]

GENERAL_JOURNAL = "jnl-general"

_COMPANY_WORDS = [
    "Aldgate", "Birchwood", "Cobalt", "Dunmore", "Elmstead", "Fairleigh", "Granton", "Harrow",
    "Ivybridge", "Juniper", "Kestrel", "Larkspur", "Marlow", "Northgate", "Oakhurst", "Penrose",
    "Quayside", "Redfern", "Saltash", "Thornbury", "Upton", "Vale", "Westcott", "Yardley",
]
_CUSTOMER_SUFFIXES = ["Trading", "Retail", "Studios", "Consulting", "Foods", "Logistics", "Digital"]
_SUPPLIER_SUFFIXES = ["Supplies", "Wholesale", "Services", "Software", "Print", "Energy", "Freight"]
_SALES_DESCRIPTIONS = ["Consulting hours", "Implementation", "Support plan", "Training day",
                       "Hardware kit", "Licence renewal", "Design work", "Audit review"]
_PURCHASE_DESCRIPTIONS = ["Stock purchase", "Office rent", "Electricity", "Cloud hosting",
                          "Stationery", "Legal advice", "Courier", "Accounting services"]
_EXPENSE_DESCRIPTIONS = ["Train tickets", "Hotel", "Taxi", "Software seat", "Printer paper",
                         "Bank fee", "Client lunch", "Parking"]


def generate_books(seed: int = 7, sizes: BookSizes | None = None) -> Books:
    """Generate the books. The same seed and sizes always give the same books."""
    return _Generator(seed, sizes or BookSizes()).run()


class _Generator:
    def __init__(self, seed: int, sizes: BookSizes) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.sizes = sizes
        self.tax_rates = {tid: rate for tid, _, _, rate in TAX_RATES}

    # -- helpers -------------------------------------------------------------------------------
    def day(self, offset: int) -> date:
        return YEAR_START + timedelta(days=max(0, min(YEAR_DAYS - 1, offset)))

    def stamp(self, on: date, minutes: int | None = None) -> datetime:
        """A deterministic instant on a day (UTC, whole seconds)."""
        if minutes is None:
            minutes = self.rng.randrange(8 * 60, 18 * 60)
        return datetime.combine(on, time(0, 0), tzinfo=UTC) + timedelta(minutes=minutes)

    def amount(self, low: int, high: int) -> Decimal:
        """A price in whole pounds plus an even number of pence (so 1.5 × price stays exact)."""
        return money(Decimal(self.rng.randrange(low, high)) + Decimal(self.rng.randrange(0, 50) * 2) / 100)

    def lines(self, accounts: list[str], descriptions: list[str], count: int,
              allow_fraction: bool = True) -> list[LineItem]:
        """Document lines. The department varies per line; the location (if any) is one per document,
        as QuickBooks keeps it on the header (DepartmentRef, "Location" in its UI)."""
        location = self.rng.choice([None, "trk-location-london", "trk-location-manchester"])
        result = []
        for index in range(count):
            quantity = Decimal(self.rng.choice([1, 1, 1, 2, 3, 5, 10]))
            if allow_fraction and self.rng.random() < 0.1:
                quantity = Decimal("1.5")
            unit_price = money(self.amount(15, 900))
            net = money(quantity * unit_price)
            tax_rate_id = self.rng.choice(["tax-S", "tax-S", "tax-S", "tax-R", "tax-Z"])
            tracking = [self.rng.choice(["trk-department-sales", "trk-department-operations",
                                         "trk-department-administration"])]
            if location:
                tracking.append(location)
            result.append(LineItem(
                id=str(index + 1),
                description=self.rng.choice(descriptions),
                quantity=quantity,
                unit_price=unit_price,
                total_amount=net,
                tax_amount=line_tax(net, self.tax_rates[tax_rate_id]),
                account_id=self.rng.choice(accounts),
                tax_rate_id=tax_rate_id,
                tracking_category_ids=tracking,
            ))
        return result

    @staticmethod
    def totals(lines: list[LineItem]) -> tuple[Decimal, Decimal, Decimal]:
        sub_total = sum((line.total_amount for line in lines), Decimal("0.00"))
        total_tax = sum((line.tax_amount or Decimal(0) for line in lines), Decimal("0.00"))
        return sub_total, total_tax, sub_total + total_tax

    # -- the books -----------------------------------------------------------------------------
    def run(self) -> Books:
        created = self.stamp(YEAR_START, 9 * 60)
        company = CompanyInfo(id="company", name="Northwind Ledger", legal_name="Northwind Ledger Ltd",
                              base_currency=BASE_CURRENCY, country="GB", fiscal_year_start_month=1,
                              updated_at=created)
        accounts = [LedgerAccount(id=f"acc-{code}", nominal_code=code, name=name, type=kind,
                                  sub_type=sub_type, currency=currency or BASE_CURRENCY,
                                  updated_at=created)
                    for code, name, kind, sub_type, currency in CHART_OF_ACCOUNTS]
        banks = [
            BankAccount(id="bank-1200", name="Business Current Account", ledger_account_id="acc-1200",
                        currency="GBP", institution_name="Barclays", account_number="20-45-77 43218765",
                        updated_at=created),
            BankAccount(id="bank-1210", name="Business Savings Account", ledger_account_id="acc-1210",
                        currency="GBP", institution_name="Barclays", account_number="20-45-77 90871234",
                        updated_at=created),
            BankAccount(id="bank-1220", name="Euro Account", ledger_account_id="acc-1220",
                        currency="EUR", institution_name="HSBC", account_number="GB29HBUK40127612345678",
                        updated_at=created),
        ]
        tax_rates = [TaxRate(id=tid, code=code, name=name, rate=rate, updated_at=created)
                     for tid, code, name, rate in TAX_RATES]
        tracking = [TrackingCategory(id=tid, name=name, parent_id=parent, updated_at=created)
                    for tid, name, parent in TRACKING]
        customers = self.contacts(Customer, "CUS", self.sizes.customers, _CUSTOMER_SUFFIXES, created)
        suppliers = self.contacts(Supplier, "SUP", self.sizes.suppliers, _SUPPLIER_SUFFIXES, created)

        invoices = [self.invoice(i, customers) for i in range(self.sizes.invoices)]
        bills = [self.bill(i, suppliers) for i in range(self.sizes.bills)]
        credit_notes = self.credit_notes(invoices)
        payments = self.settle(invoices, Payment, "PAY", "customer_id")
        bill_payments = self.settle(bills, BillPayment, "BPY", "supplier_id")
        expenses = [self.expense(i, suppliers) for i in range(self.sizes.expenses)]
        orders = [self.purchase_order(i, suppliers) for i in range(self.sizes.purchase_orders)]
        journals = [Journal(id=GENERAL_JOURNAL, name="General Journal", code="GJ", updated_at=created)]
        entries = [self.journal_entry(i) for i in range(self.sizes.journal_entries)]
        return Books(company=company, ledger_accounts=accounts, bank_accounts=banks, tax_rates=tax_rates,
                     tracking_categories=tracking, customers=customers, suppliers=suppliers,
                     invoices=invoices, bills=bills, credit_notes=credit_notes, payments=payments,
                     bill_payments=bill_payments, expenses=expenses, purchase_orders=orders,
                     journals=journals, journal_entries=entries, seed=self.seed, sizes=self.sizes)

    def contacts(self, kind: type[ContactT], prefix: str, count: int,
                                          suffixes: list[str], created: datetime) -> list[ContactT]:
        result = []
        for index in range(count):
            word = _COMPANY_WORDS[index % len(_COMPANY_WORDS)]
            suffix = suffixes[(index // len(_COMPANY_WORDS) + index) % len(suffixes)]
            name = f"{word} {suffix}" if index < len(_COMPANY_WORDS) else f"{word} {suffix} {index}"
            # Every sixth contact trades in euros, so documents come in two currencies.
            currency = FOREIGN_CURRENCY if index % 6 == 5 else BASE_CURRENCY
            result.append(kind(
                id=f"{prefix}-{index + 1:03d}", display_name=name, company_name=f"{name} Ltd",
                email=f"accounts@{word.lower()}-{suffix.lower()}{index + 1}.example",
                currency=currency, updated_at=created + timedelta(minutes=index)))
        return result

    def invoice(self, index: int, customers: list[Customer]) -> Invoice:
        customer = customers[self.rng.randrange(len(customers))]
        issued = self.day(index * YEAR_DAYS // max(1, self.sizes.invoices) + self.rng.randrange(0, 3))
        lines = self.lines(SALES_ACCOUNTS, _SALES_DESCRIPTIONS, self.rng.randint(1, 6))
        sub_total, total_tax, total = self.totals(lines)
        # No drafts: QuickBooks and Exact Online have no draft sales entries, so the shared books
        # hold only posted documents.
        status = DocumentStatus.AUTHORISED
        return Invoice(id=f"INV-{index + 1:04d}", number=f"INV-{index + 1:04d}", customer_id=customer.id,
                       invoice_date=issued, due_date=issued + timedelta(days=30), status=status,
                       currency=customer.currency or BASE_CURRENCY,
                       exchange_rate=EUR_RATE if customer.currency == FOREIGN_CURRENCY else None,
                       line_items=lines, sub_total=sub_total, total_tax=total_tax, total=total,
                       balance=total, updated_at=self.stamp(issued))

    def bill(self, index: int, suppliers: list[Supplier]) -> Bill:
        supplier = suppliers[self.rng.randrange(len(suppliers))]
        issued = self.day(index * YEAR_DAYS // max(1, self.sizes.bills) + self.rng.randrange(0, 3))
        lines = self.lines(PURCHASE_ACCOUNTS, _PURCHASE_DESCRIPTIONS, self.rng.randint(1, 6))
        sub_total, total_tax, total = self.totals(lines)
        status = DocumentStatus.AUTHORISED
        return Bill(id=f"BILL-{index + 1:04d}", number=f"BILL-{index + 1:04d}", supplier_id=supplier.id,
                    bill_date=issued, due_date=issued + timedelta(days=30), status=status,
                    currency=supplier.currency or BASE_CURRENCY,
                    exchange_rate=EUR_RATE if supplier.currency == FOREIGN_CURRENCY else None,
                    line_items=lines, sub_total=sub_total, total_tax=total_tax, total=total,
                    balance=total, updated_at=self.stamp(issued))

    def credit_notes(self, invoices: list[Invoice]) -> list[CreditNote]:
        """Credit notes, each allocated (fully or in part) to an authorised invoice of its customer."""
        result = []
        candidates = [inv for inv in invoices if inv.status == DocumentStatus.AUTHORISED]
        picked = self.rng.sample(candidates, min(self.sizes.credit_notes, len(candidates)))
        picked.sort(key=lambda inv: inv.id)
        for index, invoice in enumerate(picked):
            issued = self.day((invoice.invoice_date - YEAR_START).days + self.rng.randrange(3, 20))
            source_line = invoice.line_items[0]
            quantity = Decimal(1)
            unit_price = money(source_line.total_amount / 2) if source_line.total_amount > 10 else \
                source_line.total_amount
            net = money(quantity * unit_price)
            rate = self.tax_rates[source_line.tax_rate_id or "tax-Z"]
            line = source_line.model_copy(update={
                "id": "1", "description": f"Credit: {source_line.description}", "quantity": quantity,
                "unit_price": unit_price, "total_amount": net, "tax_amount": line_tax(net, rate)})
            sub_total, total_tax, total = self.totals([line])
            # Most credits are used in full against their invoice; every fourth only in part.
            allocated = total if index % 4 else money(total / 2)
            allocated = min(allocated, invoice.balance)
            invoice.balance -= allocated
            invoice.status = derived_status(invoice.status, invoice.total, invoice.balance)
            invoice.updated_at = max(invoice.updated_at or self.stamp(issued), self.stamp(issued, 17 * 60))
            result.append(CreditNote(
                id=f"CN-{index + 1:04d}", number=f"CN-{index + 1:04d}", customer_id=invoice.customer_id,
                issue_date=issued, status=DocumentStatus.PAID if allocated == total else
                DocumentStatus.AUTHORISED, currency=invoice.currency,
                exchange_rate=invoice.exchange_rate, line_items=[line], sub_total=sub_total,
                total_tax=total_tax, total=total, balance=total - allocated,
                allocations=[Allocation(document_id=invoice.id, amount=allocated)],
                updated_at=self.stamp(issued, 17 * 60)))
        return result

    def settle(
        self, documents: list[DocT], kind: type[PaymentT], prefix: str, party_field: str
    ) -> list[PaymentT]:
        """Payments against documents: full, partial, one split over several documents, overpaid.

        Every payment is in its documents' currency and paid through a bank account of that
        currency. Balances and statuses of the documents are updated to match.
        """
        open_docs = [d for d in documents if d.status == DocumentStatus.AUTHORISED and d.balance > 0]
        payments: list[PaymentT] = []
        by_party: dict[tuple[str, str], list[DocT]] = {}
        for doc in open_docs:
            by_party.setdefault((getattr(doc, party_field), doc.currency), []).append(doc)

        def pay(docs_and_amounts: list[tuple[DocT, Decimal]], extra: Decimal = Decimal("0.00")) -> None:
            first = docs_and_amounts[0][0]
            last_date = max(self.doc_date(d) for d, _ in docs_and_amounts)
            paid_on = self.day((last_date - YEAR_START).days + self.rng.randrange(5, 40))
            allocations = []
            for doc, amount in docs_and_amounts:
                doc.balance -= amount
                doc.status = derived_status(doc.status, doc.total, doc.balance)
                doc.updated_at = max(doc.updated_at or self.stamp(paid_on), self.stamp(paid_on, 16 * 60))
                allocations.append(Allocation(document_id=doc.id, amount=amount))
            number = len(payments) + 1
            payments.append(kind(
                id=f"{prefix}-{number:04d}", reference=f"{prefix}-{number:04d}",
                **{party_field: getattr(first, party_field)},
                account_id=self.rng.choice(BANK_BY_CURRENCY[first.currency]), payment_date=paid_on,
                total_amount=sum((a.amount for a in allocations), Decimal("0.00")) + extra,
                currency=first.currency, allocations=allocations,
                updated_at=self.stamp(paid_on, 16 * 60)))

        # One payment split across several documents of one party, and one overpayment.
        for docs in by_party.values():
            if len(docs) >= 3:
                split = docs[:3]
                pay([(d, d.balance) for d in split])
                break
        overpaid = next(d for d in open_docs if d.balance > 0)
        pay([(overpaid, overpaid.balance)], extra=Decimal("25.00"))

        for doc in open_docs:
            if doc.balance == 0:
                continue
            roll = self.rng.random()
            if roll < 0.55:
                pay([(doc, doc.balance)])
            elif roll < 0.75:
                pay([(doc, money(doc.balance * Decimal(self.rng.choice([25, 40, 50, 60])) / 100))])
        payments.sort(key=lambda p: (p.payment_date, p.id))
        # Renumber in date order so that references read chronologically.
        renamed = {p.id: f"{prefix}-{i + 1:04d}" for i, p in enumerate(payments)}
        for p in payments:
            p.id = p.reference = renamed[p.id]
        return payments

    @staticmethod
    def doc_date(doc: Invoice | Bill) -> date:
        return doc.invoice_date if isinstance(doc, Invoice) else doc.bill_date

    def expense(self, index: int, suppliers: list[Supplier]) -> Expense:
        gbp_suppliers = [s for s in suppliers if s.currency == BASE_CURRENCY]
        supplier = gbp_suppliers[self.rng.randrange(len(gbp_suppliers))]
        spent = self.day(index * YEAR_DAYS // max(1, self.sizes.expenses) + self.rng.randrange(0, 5))
        lines = self.lines(EXPENSE_ACCOUNTS, _EXPENSE_DESCRIPTIONS, self.rng.randint(1, 3),
                           allow_fraction=False)
        sub_total, total_tax, total = self.totals(lines)
        return Expense(id=f"EXP-{index + 1:04d}", number=f"EXP-{index + 1:04d}", supplier_id=supplier.id,
                       account_id=self.rng.choice(BANK_BY_CURRENCY[BASE_CURRENCY]), transaction_date=spent,
                       currency=BASE_CURRENCY, line_items=lines, sub_total=sub_total, total_tax=total_tax,
                       total_amount=total, updated_at=self.stamp(spent))

    def purchase_order(self, index: int, suppliers: list[Supplier]) -> PurchaseOrder:
        supplier = suppliers[self.rng.randrange(len(suppliers))]
        ordered = self.day(index * YEAR_DAYS // max(1, self.sizes.purchase_orders) + self.rng.randrange(0, 5))
        lines = self.lines(["acc-5000", "acc-6400"], _PURCHASE_DESCRIPTIONS, self.rng.randint(1, 4))
        sub_total, total_tax, total = self.totals(lines)
        status = PurchaseOrderStatus.OPEN if index % 3 else PurchaseOrderStatus.CLOSED
        return PurchaseOrder(id=f"PO-{index + 1:04d}", number=f"PO-{index + 1:04d}", supplier_id=supplier.id,
                             order_date=ordered, delivery_date=ordered + timedelta(days=14), status=status,
                             currency=supplier.currency or BASE_CURRENCY, line_items=lines,
                             sub_total=sub_total, total_tax=total_tax, total=total,
                             updated_at=self.stamp(ordered))

    def journal_entry(self, index: int) -> JournalEntry:
        posted = self.day((index % 12) * 30 + 27 + self.rng.randrange(0, 2))
        pairs = [("acc-6000", "acc-2300", "Rent accrual"), ("acc-7000", "acc-2300", "Payroll accrual"),
                 ("acc-1300", "acc-6300", "Prepaid software"), ("acc-6500", "acc-2300", "Audit fee accrual")]
        debit_account, credit_account, description = pairs[index % len(pairs)]
        amount_a = self.amount(200, 4000)
        lines = [JournalLine(id="1", account_id=debit_account, type=PostingType.DEBIT, amount=amount_a,
                             description=description, tracking_category_ids=["trk-department-administration"]),
                 JournalLine(id="2", account_id=credit_account, type=PostingType.CREDIT, amount=amount_a,
                             description=description)]
        if index % 3 == 0:
            amount_b = self.amount(50, 500)
            lines.append(JournalLine(id="3", account_id="acc-7100", type=PostingType.DEBIT, amount=amount_b,
                                     description="Bank charge reclass"))
            lines.append(JournalLine(id="4", account_id="acc-1200", type=PostingType.CREDIT, amount=amount_b,
                                     description="Bank charge reclass"))
        return JournalEntry(id=f"JE-{index + 1:04d}", number=f"JE-{index + 1:04d}", journal_id=GENERAL_JOURNAL,
                            posting_date=posted, currency=BASE_CURRENCY, description=description,
                            line_items=lines, updated_at=self.stamp(posted))
