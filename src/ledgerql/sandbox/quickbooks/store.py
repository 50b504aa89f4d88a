"""One realm's QuickBooks records, converted from the unified books.

Records are dicts in QBO's own shape holding Python values (Decimal, date, aware datetime); the
renderer turns them into QBO's JSON. Ids are numeric strings assigned in a fixed order, so the same
books always give the same ids. Customers and vendors share one id space (QBO's name list), as do
all transactions.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from ledgerql.model.entities import LineItem
from ledgerql.model.enums import AccountType, PostingType, PurchaseOrderStatus
from ledgerql.sandbox.books import (
    BASE_CURRENCY,
    DEPARTMENT_DIMENSION,
    LOCATION_DIMENSION,
    Books,
    line_tax,
    money,
)

Record = dict[str, Any]

TRANSACTIONS = ("Invoice", "CreditMemo", "Bill", "PurchaseOrder", "Purchase", "JournalEntry", "Payment",
                "BillPayment")
LISTS = ("Account", "Customer", "Vendor", "TaxRate", "TaxCode", "Class", "Department", "Item", "Term",
         "CompanyInfo", "Preferences")
ENTITIES = LISTS + TRANSACTIONS
#: lower-case path segment → entity name
BY_PATH = {name.lower(): name for name in ENTITIES}
ID_SPACE = {"Customer": "name", "Vendor": "name", **{t: "txn" for t in TRANSACTIONS}}

CURRENCY_NAMES = {"GBP": "British Pound Sterling", "EUR": "Euro", "USD": "United States Dollar"}
ZERO = Decimal("0.00")

# unified sub type → (AccountType, AccountSubType, Classification)
ACCOUNT_TYPES: dict[str, tuple[str, str, str]] = {
    "ACCOUNTS_RECEIVABLE": ("Accounts Receivable", "AccountsReceivable", "Asset"),
    "BANK": ("Bank", "Checking", "Asset"),
    "CURRENT_ASSET": ("Other Current Asset", "PrepaidExpenses", "Asset"),
    "FIXED_ASSET": ("Fixed Asset", "MachineryAndEquipment", "Asset"),
    "ACCOUNTS_PAYABLE": ("Accounts Payable", "AccountsPayable", "Liability"),
    "TAX": ("Other Current Liability", "GlobalTaxPayable", "Liability"),
    "CURRENT_LIABILITY": ("Other Current Liability", "OtherCurrentLiabilities", "Liability"),
    "EQUITY": ("Equity", "OwnersEquity", "Equity"),
    "RETAINED_EARNINGS": ("Equity", "RetainedEarnings", "Equity"),
    "SALES": ("Income", "SalesOfProductIncome", "Revenue"),
    "OTHER_INCOME": ("Other Income", "OtherMiscellaneousIncome", "Revenue"),
    "COST_OF_SALES": ("Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    "OVERHEAD": ("Expense", "OtherMiscellaneousServiceCost", "Expense"),
    "PAYROLL": ("Expense", "PayrollExpenses", "Expense"),
}
_FALLBACK_TYPE = {AccountType.ASSET: ACCOUNT_TYPES["CURRENT_ASSET"],
                  AccountType.BANK: ACCOUNT_TYPES["BANK"],
                  AccountType.LIABILITY: ACCOUNT_TYPES["CURRENT_LIABILITY"],
                  AccountType.EQUITY: ACCOUNT_TYPES["EQUITY"],
                  AccountType.REVENUE: ACCOUNT_TYPES["SALES"],
                  AccountType.EXPENSE: ACCOUNT_TYPES["OVERHEAD"],
                  AccountType.OTHER: ACCOUNT_TYPES["CURRENT_ASSET"]}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def metadata(created: datetime, updated: datetime | None = None) -> dict[str, datetime]:
    return {"CreateTime": created, "LastUpdatedTime": updated or created}


def base_fields(record_id: str, created: datetime, updated: datetime | None = None) -> Record:
    return {"domain": "QBO", "sparse": False, "Id": record_id, "SyncToken": "0",
            "MetaData": metadata(created, updated)}


class RealmStore:
    """The records of one realm, with the id maps back to the books' business keys."""

    def __init__(self, realm: str) -> None:
        self.realm = realm
        self.records: dict[str, OrderedDict[str, Record]] = {name: OrderedDict() for name in ENTITIES}
        self.tombstones: dict[str, dict[str, Record]] = {name: {} for name in ENTITIES}
        self.seq: dict[str, int] = {}
        self.ids: dict[str, str] = {}  # business key → QBO id
        self.home_currency = BASE_CURRENCY
        self.item_for_account: dict[str, str] = {}

    # -- ids and look-ups ---------------------------------------------------------------------------
    def next_id(self, entity: str) -> str:
        space = ID_SPACE.get(entity, entity)
        self.seq[space] = self.seq.get(space, 0) + 1
        return str(self.seq[space])

    def add(self, entity: str, record: Record) -> Record:
        self.records[entity][record["Id"]] = record
        return record

    def get(self, entity: str, record_id: str | None) -> Record | None:
        if record_id is None:
            return None
        return self.records[entity].get(str(record_id))

    def display(self, entity: str, record: Record) -> str:
        if entity in ("Customer", "Vendor"):
            return str(record.get("DisplayName", ""))
        if entity == "Account":
            return str(record.get("FullyQualifiedName") or record.get("Name", ""))
        return str(record.get("Name", ""))

    def ref(self, entity: str, record_id: str) -> dict[str, str]:
        record = self.records[entity][record_id]
        return {"value": record_id, "name": self.display(entity, record)}

    def account_by_type(self, account_type: str) -> str:
        return next(i for i, a in self.records["Account"].items() if a["AccountType"] == account_type)

    def tax_rate_of_code(self, code_id: str) -> Decimal:
        code = self.records["TaxCode"][code_id]
        details = code.get("SalesTaxRateList", {}).get("TaxRateDetail", [])
        if not details:
            return Decimal(0)
        return Decimal(self.records["TaxRate"][details[0]["TaxRateRef"]["value"]]["RateValue"])

    # -- derived figures ----------------------------------------------------------------------------
    def tax_detail(self, lines: list[Record]) -> Record:
        """TxnTaxDetail of a document: tax per line (rounded per line), grouped per tax code."""
        groups: OrderedDict[str, list[Decimal]] = OrderedDict()
        for line in lines:
            detail = line_detail(line)
            if detail is None or "TaxCodeRef" not in detail:
                continue
            code_id = detail["TaxCodeRef"]["value"]
            net = Decimal(line["Amount"])
            group = groups.setdefault(code_id, [ZERO, ZERO])
            group[0] += net
            group[1] += line_tax(net, self.tax_rate_of_code(code_id))
        tax_lines = []
        for code_id, (net, tax) in groups.items():
            rate_id = self.records["TaxCode"][code_id]["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]["value"]
            tax_lines.append({"Amount": tax, "DetailType": "TaxLineDetail", "TaxLineDetail": {
                "TaxRateRef": {"value": rate_id}, "PercentBased": True,
                "TaxPercent": self.records["TaxRate"][rate_id]["RateValue"], "NetAmountTaxable": net}})
        total = sum((tax for _, tax in groups.values()), ZERO)
        result: Record = {"TotalTax": total}
        if tax_lines:
            result["TaxLine"] = tax_lines
        return result

    def refresh_party_balances(self) -> None:
        """Customer and vendor `Balance`: what they still owe / are owed, in their currency."""
        owed: dict[str, Decimal] = {}
        for invoice in self.records["Invoice"].values():
            key = invoice["CustomerRef"]["value"]
            owed[key] = owed.get(key, ZERO) + Decimal(invoice["Balance"])
        for memo in self.records["CreditMemo"].values():
            key = memo["CustomerRef"]["value"]
            owed[key] = owed.get(key, ZERO) - Decimal(memo["Balance"])
        for payment in self.records["Payment"].values():
            key = payment["CustomerRef"]["value"]
            owed[key] = owed.get(key, ZERO) - Decimal(payment.get("UnappliedAmt", ZERO))
        for customer_id, customer in self.records["Customer"].items():
            customer["Balance"] = customer["BalanceWithJobs"] = owed.get(customer_id, ZERO)
        owing: dict[str, Decimal] = {}
        for bill in self.records["Bill"].values():
            key = bill["VendorRef"]["value"]
            owing[key] = owing.get(key, ZERO) + Decimal(bill["Balance"])
        for vendor_id, vendor in self.records["Vendor"].items():
            vendor["Balance"] = owing.get(vendor_id, ZERO)


def line_detail(line: Record) -> Record | None:
    detail_type = line.get("DetailType")
    if not isinstance(detail_type, str) or detail_type == "SubTotalLineDetail":
        return None
    detail = line.get(detail_type)
    return detail if isinstance(detail, dict) else None


def detail_lines(record: Record) -> list[Record]:
    return [line for line in record.get("Line", []) if line_detail(line) is not None]


# --- books → records ------------------------------------------------------------------------------


def _created(on: date, updated: datetime | None) -> datetime:
    morning = datetime.combine(on, time(8, 0), tzinfo=UTC)
    return min(morning, updated) if updated else morning


def load_books(realm: str, books: Books) -> RealmStore:
    store = RealmStore(realm)
    store.home_currency = books.company.base_currency
    ids = store.ids
    created = books.company.updated_at or datetime(2025, 1, 1, 9, tzinfo=UTC)

    store.add("CompanyInfo", {
        **base_fields("1", created), "CompanyName": books.company.name, "LegalName": books.company.legal_name,
        "CompanyAddr": {"Id": "1", "Line1": "1 Ledger Lane", "City": "London", "Country": books.company.country,
                        "PostalCode": "EC1A 1AA"},
        "Country": books.company.country, "CustomerCommunicationAddr": {"Id": "1", "Line1": "1 Ledger Lane",
                                                                       "City": "London", "PostalCode": "EC1A 1AA"},
        "LegalAddr": {"Id": "1", "Line1": "1 Ledger Lane", "City": "London", "PostalCode": "EC1A 1AA"},
        "PrimaryPhone": {}, "CompanyStartDate": date(books.company.updated_at.year if books.company.updated_at
                                                      else 2025, 1, 1),
        "FiscalYearStartMonth": MONTHS[(books.company.fiscal_year_start_month or 1) - 1],
        "SupportedLanguages": "en", "DefaultTimeZone": "Europe/London",
        "NameValue": [{"Name": "NeoEnabled", "Value": "true"}, {"Name": "IndustryType", "Value": "Services"},
                      {"Name": "CompanyType", "Value": "Limited Company"}]})
    store.add("Preferences", {
        **base_fields("1", created),
        "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": store.home_currency}},
        "AccountingInfoPrefs": {"TrackDepartments": True, "DepartmentTerminology": "Location",
                                "ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": True,
                                "FirstMonthOfFiscalYear": MONTHS[(books.company.fiscal_year_start_month or 1) - 1]},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "SalesFormsPrefs": {"CustomTxnNumbers": True, "DefaultTerms": {"value": "1"}},
        "VendorAndPurchasesPrefs": {"POCustomField": []}})
    store.add("Term", {**base_fields(store.next_id("Term"), created), "Name": "Net 30", "Active": True,
                       "Type": "STANDARD", "DueDays": 30, "DiscountDays": 0})

    banks = {b.ledger_account_id: b for b in books.bank_accounts}
    for account in books.ledger_accounts:
        qbo_type = ACCOUNT_TYPES.get(account.sub_type or "", _FALLBACK_TYPE[account.type])
        record_id = store.next_id("Account")
        ids[account.id] = record_id
        record: Record = {
            **base_fields(record_id, account.updated_at or created), "Name": account.name, "SubAccount": False,
            "FullyQualifiedName": account.name, "Active": account.status == "ACTIVE",
            "Classification": qbo_type[2], "AccountType": qbo_type[0],
            "AccountSubType": "Savings" if qbo_type[0] == "Bank" and "Savings" in account.name else qbo_type[1],
            "AcctNum": account.nominal_code, "CurrentBalance": ZERO, "CurrentBalanceWithSubAccounts": ZERO,
            "CurrencyRef": currency_ref(account.currency or store.home_currency)}
        bank = banks.get(account.id)
        if bank is not None:
            ids[bank.id] = record_id
            record["Description"] = bank.institution_name
            record["BankNum"] = bank.account_number
        store.add("Account", record)

    for kind, contacts in (("Customer", books.customers), ("Vendor", books.suppliers)):
        for contact in contacts:
            record_id = store.next_id(kind)
            ids[contact.id] = record_id
            record = {**base_fields(record_id, contact.updated_at or created),
                      "DisplayName": contact.display_name, "CompanyName": contact.company_name,
                      "PrintOnCheckName": contact.company_name or contact.display_name,
                      "Active": contact.status == "ACTIVE",
                      "CurrencyRef": currency_ref(contact.currency or store.home_currency), "Balance": ZERO}
            if contact.email:
                record["PrimaryEmailAddr"] = {"Address": contact.email}
            if kind == "Customer":
                record.update({"FullyQualifiedName": contact.display_name, "Taxable": True, "Job": False,
                               "BillWithParent": False, "BalanceWithJobs": ZERO,
                               "PreferredDeliveryMethod": "Email"})
            else:
                record.update({"Vendor1099": False})
            store.add(kind, record)

    for rate in books.tax_rates:
        rate_id = store.next_id("TaxRate")
        ids["taxrate:" + rate.id] = rate_id
        store.add("TaxRate", {**base_fields(rate_id, rate.updated_at or created), "Name": rate.name,
                              "Description": rate.name, "Active": rate.status == "ACTIVE",
                              "RateValue": rate.rate, "AgencyRef": {"value": "1"}, "SpecialTaxType": "NONE",
                              "DisplayType": "ReadOnly"})
    for rate in books.tax_rates:
        code_id = store.next_id("TaxCode")
        ids[rate.id] = code_id
        rate_detail = {"TaxRateDetail": [{"TaxRateRef": {"value": ids["taxrate:" + rate.id], "name": rate.name},
                                          "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]}
        store.add("TaxCode", {**base_fields(code_id, rate.updated_at or created), "Name": rate.code,
                              "Description": rate.name, "Active": rate.status == "ACTIVE", "Hidden": False,
                              "Taxable": rate.rate != 0, "TaxGroup": False, "SalesTaxRateList": rate_detail,
                              "PurchaseTaxRateList": rate_detail})

    for option in books.tracking_categories:
        if option.parent_id == DEPARTMENT_DIMENSION:
            entity, sub = "Class", "SubClass"
        elif option.parent_id == LOCATION_DIMENSION:
            entity, sub = "Department", "SubDepartment"
        else:
            continue  # the dimensions themselves are the entity types, not records
        record_id = store.next_id(entity)
        ids[option.id] = record_id
        store.add(entity, {**base_fields(record_id, option.updated_at or created), "Name": option.name,
                           sub: False, "FullyQualifiedName": option.name, "Active": option.status == "ACTIVE"})

    # One service item per income / expense account, so item lines keep their quantity and price
    # and still name their ledger account (through the item).
    for account in books.ledger_accounts:
        if account.type not in (AccountType.REVENUE, AccountType.EXPENSE):
            continue
        item_id = store.next_id("Item")
        account_id = ids[account.id]
        store.item_for_account[account_id] = item_id
        item: Record = {**base_fields(item_id, account.updated_at or created), "Name": account.name,
                        "Description": account.name, "Active": True, "FullyQualifiedName": account.name,
                        "Taxable": True, "UnitPrice": Decimal(0), "Type": "Service",
                        "PurchaseCost": Decimal(0), "TrackQtyOnHand": False}
        key = "IncomeAccountRef" if account.type == AccountType.REVENUE else "ExpenseAccountRef"
        item[key] = store.ref("Account", account_id)
        store.add("Item", item)

    _load_transactions(store, books)
    store.refresh_party_balances()
    return store


def _location(lines: list[LineItem]) -> str | None:
    for line in lines:
        for tracking_id in line.tracking_category_ids:
            if tracking_id.startswith(LOCATION_DIMENSION + "-"):
                return tracking_id
    return None


def _class_ref(store: RealmStore, tracking_ids: list[str]) -> dict[str, str] | None:
    for tracking_id in tracking_ids:
        if tracking_id.startswith(DEPARTMENT_DIMENSION + "-"):
            return store.ref("Class", store.ids[tracking_id])
    return None


def _item_line(store: RealmStore, line: LineItem, index: int, detail_type: str) -> Record:
    account_id = store.ids[line.account_id or ""]
    item_id = store.item_for_account[account_id]
    detail: Record = {"ItemRef": store.ref("Item", item_id)}
    if detail_type == "SalesItemLineDetail":
        detail["ItemAccountRef"] = store.ref("Account", account_id)
    class_ref = _class_ref(store, line.tracking_category_ids)
    if class_ref:
        detail["ClassRef"] = class_ref
    if line.unit_price is not None:
        detail["UnitPrice"] = line.unit_price
    if line.quantity is not None:
        detail["Qty"] = line.quantity
    if detail_type == "ItemBasedExpenseLineDetail":
        detail["BillableStatus"] = "NotBillable"
    if line.tax_rate_id:
        detail["TaxCodeRef"] = {"value": store.ids[line.tax_rate_id]}
    result: Record = {"Id": line.id or str(index + 1), "LineNum": index + 1}
    if line.description is not None:
        result["Description"] = line.description
    result.update({"Amount": line.total_amount, "DetailType": detail_type, detail_type: detail})
    return result


def _document(store: RealmStore, entity: str, number: str | None, txn_date: date, currency: str,
              exchange_rate: Decimal | None, lines: list[LineItem], updated: datetime | None) -> Record:
    record_id = store.next_id(entity)
    record: Record = base_fields(record_id, _created(txn_date, updated), updated)
    if number is not None:
        record["DocNumber"] = number
    record["TxnDate"] = txn_date
    record["CurrencyRef"] = currency_ref(currency)
    if exchange_rate is not None:
        record["ExchangeRate"] = exchange_rate
    detail_type = "SalesItemLineDetail" if entity in ("Invoice", "CreditMemo") else "ItemBasedExpenseLineDetail"
    record["Line"] = [_item_line(store, line, i, detail_type) for i, line in enumerate(lines)]
    location = _location(lines)
    if location:
        record["DepartmentRef"] = store.ref("Department", store.ids[location])
    return record


def finish_totals(store: RealmStore, entity: str, record: Record) -> None:
    """Sub-total line, tax detail and totals from the detail lines (and the home-currency total)."""
    lines = detail_lines(record)
    sub_total = sum((Decimal(line["Amount"]) for line in lines), ZERO)
    if entity in ("Invoice", "CreditMemo"):
        record["Line"] = [*lines, {"Amount": sub_total, "DetailType": "SubTotalLineDetail",
                                   "SubTotalLineDetail": {}}]
    tax = store.tax_detail(lines)
    record["TxnTaxDetail"] = tax
    record["TotalAmt"] = sub_total + tax["TotalTax"]
    if entity in ("Invoice", "CreditMemo", "Bill", "Purchase", "PurchaseOrder"):
        record["GlobalTaxCalculation"] = "TaxExcluded"
    if "ExchangeRate" in record:
        record["HomeTotalAmt"] = money(record["TotalAmt"] * Decimal(record["ExchangeRate"]))


def _load_transactions(store: RealmStore, books: Books) -> None:
    ids = store.ids
    ar_id = store.account_by_type("Accounts Receivable")
    ap_id = store.account_by_type("Accounts Payable")
    for invoice in books.invoices:
        record = _document(store, "Invoice", invoice.number, invoice.invoice_date, invoice.currency,
                           invoice.exchange_rate, invoice.line_items, invoice.updated_at)
        ids[invoice.id] = record["Id"]
        record["CustomerRef"] = store.ref("Customer", ids[invoice.customer_id or ""])
        record["SalesTermRef"] = {"value": "1"}
        if invoice.due_date:
            record["DueDate"] = invoice.due_date
        record["LinkedTxn"] = []
        finish_totals(store, "Invoice", record)
        assert record["TotalAmt"] == invoice.total, invoice.id
        record["Balance"] = invoice.balance
        if "ExchangeRate" in record:
            record["HomeBalance"] = money(invoice.balance * record["ExchangeRate"])
        record.update({"ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet", "EmailStatus": "NotSet",
                       "AllowIPNPayment": False, "AllowOnlinePayment": False,
                       "AllowOnlineCreditCardPayment": False, "AllowOnlineACHPayment": False})
        store.add("Invoice", record)
    for note in books.credit_notes:
        record = _document(store, "CreditMemo", note.number, note.issue_date, note.currency, note.exchange_rate,
                           note.line_items, note.updated_at)
        ids[note.id] = record["Id"]
        record["CustomerRef"] = store.ref("Customer", ids[note.customer_id or ""])
        finish_totals(store, "CreditMemo", record)
        assert record["TotalAmt"] == note.total, note.id
        record["RemainingCredit"] = note.balance
        record["Balance"] = note.balance
        record["LinkedTxn"] = []
        record.update({"ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet", "EmailStatus": "NotSet"})
        store.add("CreditMemo", record)
    for bill in books.bills:
        record = _document(store, "Bill", bill.number, bill.bill_date, bill.currency, bill.exchange_rate,
                           bill.line_items, bill.updated_at)
        ids[bill.id] = record["Id"]
        record["VendorRef"] = store.ref("Vendor", ids[bill.supplier_id or ""])
        record["APAccountRef"] = store.ref("Account", ap_id)
        record["SalesTermRef"] = {"value": "1"}
        if bill.due_date:
            record["DueDate"] = bill.due_date
        record["LinkedTxn"] = []
        finish_totals(store, "Bill", record)
        assert record["TotalAmt"] == bill.total, bill.id
        record["Balance"] = bill.balance
        store.add("Bill", record)
    for order in books.purchase_orders:
        record = _document(store, "PurchaseOrder", order.number, order.order_date, order.currency, None,
                           order.line_items, order.updated_at)
        ids[order.id] = record["Id"]
        record["VendorRef"] = store.ref("Vendor", ids[order.supplier_id or ""])
        record["APAccountRef"] = store.ref("Account", ap_id)
        if order.delivery_date:
            record["DueDate"] = order.delivery_date
        record["POStatus"] = "Closed" if order.status in (PurchaseOrderStatus.CLOSED,
                                                          PurchaseOrderStatus.BILLED) else "Open"
        record["EmailStatus"] = "NotSet"
        finish_totals(store, "PurchaseOrder", record)
        assert record["TotalAmt"] == order.total, order.id
        store.add("PurchaseOrder", record)
    for expense in books.expenses:
        record = _document(store, "Purchase", expense.number, expense.transaction_date, expense.currency, None,
                           expense.line_items, expense.updated_at)
        ids[expense.id] = record["Id"]
        record["AccountRef"] = store.ref("Account", ids[expense.account_id or ""])
        record["PaymentType"] = "Cash"
        if expense.supplier_id:
            record["EntityRef"] = {**store.ref("Vendor", ids[expense.supplier_id]), "type": "Vendor"}
        record["Credit"] = False
        finish_totals(store, "Purchase", record)
        assert record["TotalAmt"] == expense.total_amount, expense.id
        store.add("Purchase", record)
    for entry in books.journal_entries:
        record_id = store.next_id("JournalEntry")
        ids[entry.id] = record_id
        record = base_fields(record_id, _created(entry.posting_date, entry.updated_at), entry.updated_at)
        record.update({"DocNumber": entry.number, "TxnDate": entry.posting_date,
                       "CurrencyRef": currency_ref(entry.currency)})
        if entry.description:
            record["PrivateNote"] = entry.description
        lines = []
        for index, jline in enumerate(entry.line_items):
            detail: Record = {"PostingType": "Debit" if jline.type == PostingType.DEBIT else "Credit",
                              "AccountRef": store.ref("Account", ids[jline.account_id])}
            class_ref = _class_ref(store, jline.tracking_category_ids)
            if class_ref:
                detail["ClassRef"] = class_ref
            line: Record = {"Id": jline.id or str(index), "LineNum": index + 1}
            if jline.description is not None:
                line["Description"] = jline.description
            line.update({"Amount": jline.amount, "DetailType": "JournalEntryLineDetail",
                         "JournalEntryLineDetail": detail})
            lines.append(line)
        record["Line"] = lines
        record["Adjustment"] = False
        record["TotalAmt"] = journal_total(record)
        store.add("JournalEntry", record)
    for payment in books.payments:
        record_id = store.next_id("Payment")
        ids[payment.id] = record_id
        record = base_fields(record_id, _created(payment.payment_date, payment.updated_at), payment.updated_at)
        record.update({"TxnDate": payment.payment_date, "CurrencyRef": currency_ref(payment.currency)})
        if payment.currency != store.home_currency:
            paid_invoice = store.records["Invoice"][ids[payment.allocations[0].document_id]]
            record["ExchangeRate"] = paid_invoice.get("ExchangeRate", Decimal(1))
        record["CustomerRef"] = store.ref("Customer", ids[payment.customer_id or ""])
        record["ARAccountRef"] = store.ref("Account", ar_id)
        if payment.account_id:
            record["DepositToAccountRef"] = store.ref("Account", ids[payment.account_id])
        if payment.reference:
            record["PaymentRefNum"] = payment.reference
        record["TotalAmt"] = payment.total_amount
        applied = sum((a.amount for a in payment.allocations), ZERO)
        record["UnappliedAmt"] = payment.total_amount - applied
        record["ProcessPayment"] = False
        record["Line"] = []
        for allocation in payment.allocations:
            invoice_id = ids[allocation.document_id]
            record["Line"].append({"Amount": allocation.amount,
                                   "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]})
            store.records["Invoice"][invoice_id]["LinkedTxn"].append({"TxnId": record_id, "TxnType": "Payment"})
        store.add("Payment", record)
    # Credit notes applied to invoices: QBO records each as a zero-amount Payment whose lines link
    # the invoice and the credit memo.
    for note in books.credit_notes:
        memo_id = ids[note.id]
        memo = store.records["CreditMemo"][memo_id]
        for allocation in note.allocations:
            if allocation.amount <= 0:
                continue
            record_id = store.next_id("Payment")
            record = base_fields(record_id, note.updated_at or _created(note.issue_date, None), note.updated_at)
            invoice_id = ids[allocation.document_id]
            record.update({"TxnDate": note.issue_date, "CurrencyRef": currency_ref(note.currency)})
            if "ExchangeRate" in memo:
                record["ExchangeRate"] = memo["ExchangeRate"]
            record.update({"CustomerRef": memo["CustomerRef"], "ARAccountRef": store.ref("Account", ar_id),
                           "TotalAmt": ZERO, "UnappliedAmt": ZERO, "ProcessPayment": False,
                           "Line": [{"Amount": allocation.amount,
                                     "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]},
                                    {"Amount": allocation.amount,
                                     "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]}]})
            store.records["Invoice"][invoice_id]["LinkedTxn"].append({"TxnId": record_id, "TxnType": "Payment"})
            memo["LinkedTxn"].append({"TxnId": record_id, "TxnType": "Payment"})
            store.add("Payment", record)
    bank_types = {"Bank"}
    for bill_payment in books.bill_payments:
        record_id = store.next_id("BillPayment")
        ids[bill_payment.id] = record_id
        record = base_fields(record_id, _created(bill_payment.payment_date, bill_payment.updated_at),
                             bill_payment.updated_at)
        record.update({"VendorRef": store.ref("Vendor", ids[bill_payment.supplier_id or ""]),
                       "PayType": "Check", "APAccountRef": store.ref("Account", ap_id)})
        if bill_payment.reference:
            record["DocNumber"] = bill_payment.reference
        record.update({"TxnDate": bill_payment.payment_date, "CurrencyRef": currency_ref(bill_payment.currency)})
        if bill_payment.currency != store.home_currency:
            paid_bill = store.records["Bill"][ids[bill_payment.allocations[0].document_id]]
            record["ExchangeRate"] = paid_bill.get("ExchangeRate", Decimal(1))
        if bill_payment.account_id:
            bank_id = ids[bill_payment.account_id]
            assert store.records["Account"][bank_id]["AccountType"] in bank_types
            record["CheckPayment"] = {"BankAccountRef": store.ref("Account", bank_id), "PrintStatus": "NotSet"}
        record["TotalAmt"] = bill_payment.total_amount
        record["Line"] = []
        for allocation in bill_payment.allocations:
            bill_id = ids[allocation.document_id]
            record["Line"].append({"Amount": allocation.amount,
                                   "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]})
            store.records["Bill"][bill_id]["LinkedTxn"].append({"TxnId": record_id, "TxnType": "BillPaymentCheck"})
        store.add("BillPayment", record)


def journal_total(record: Record) -> Decimal:
    return sum((Decimal(line["Amount"]) for line in record.get("Line", [])
                if line.get("JournalEntryLineDetail", {}).get("PostingType") == "Debit"), ZERO)


def is_credit_application(payment: Record) -> bool:
    """A zero-amount Payment that applies a credit memo to invoices (no money moved)."""
    return Decimal(payment.get("TotalAmt", 0)) == 0 and any(
        link.get("TxnType") == "CreditMemo" for line in payment.get("Line", []) for link in line.get("LinkedTxn", []))
