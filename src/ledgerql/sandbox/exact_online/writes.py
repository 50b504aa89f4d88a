"""Create, update and delete requests: validated completely before anything is written.

Every problem raises `ODataError` (→ Exact's error envelope, 400) and leaves the ledger untouched.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ledgerql.model.enums import PurchaseOrderStatus
from ledgerql.sandbox.books import money
from ledgerql.sandbox.exact_online.ledger import PURCHASE_JOURNAL, SALES_JOURNAL, ZERO, Ledger, Line
from ledgerql.sandbox.exact_online.odata import ODataError, day_start, decimal_of, parse_datetime, parse_guid
from ledgerql.sandbox.exact_online.schema import SETS

Body = dict[str, Any]


def check_properties(path: str, body: Body) -> None:
    spec = SETS[path]
    for name in body:
        if name == "__metadata":
            continue
        if name not in spec.fields:
            raise ODataError(f"The property '{name}' does not exist on type '{spec.qualified_type}'. Make sure to "
                             f"only use property names that are defined by the type.")


def _mandatory(body: Body, name: str) -> Any:
    value = body.get(name)
    if value is None or value == "" or value == []:
        raise ODataError(f"Mandatory: {name}")
    return value


def _guid(body: Body, name: str) -> str:
    value = _mandatory(body, name)
    if not isinstance(value, str):
        raise ODataError(f"{name}: invalid GUID value")
    return parse_guid(value)


def _date(body: Body, name: str, default: date | None = None) -> date:
    value = body.get(name)
    if value is None:
        if default is None:
            raise ODataError(f"Mandatory: {name}")
        return default
    if not isinstance(value, str):
        raise ODataError(f"{name}: invalid date value")
    return parse_datetime(value).date()


def _string(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ODataError(f"{name}: invalid string value")
    return str(value)


def _int(body: Body, name: str, default: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ODataError(f"{name}: invalid integer value")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise ODataError(f"{name}: invalid integer value")


def _lines(body: Body, name: str, path: str) -> list[Body]:
    lines = _mandatory(body, name)
    if isinstance(lines, dict) and isinstance(lines.get("results"), list):
        lines = lines["results"]
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise ODataError(f"{name}: a collection of lines is expected")
    for line in lines:
        check_properties(path, line)
    return lines


def _account(ledger: Ledger, guid: str, field: str, sales: bool) -> dict[str, Any]:
    account = ledger.table("crm/Accounts").get(guid)
    if account is None:
        raise ODataError(f"{field}: Invalid reference: {guid}")
    if sales and not account["IsSales"]:
        raise ODataError(f"{field}: account {account['Code'].strip()} is not a customer")
    if not sales and not account["IsSupplier"]:
        raise ODataError(f"{field}: account {account['Code'].strip()} is not a supplier")
    return account


def _gl(ledger: Ledger, line: Body) -> dict[str, Any]:
    if line.get("GLAccount") is None and line.get("GLAccountCode") is not None:
        gl = ledger.gl_by_code(str(line["GLAccountCode"]).strip())
        if gl is None:
            raise ODataError(f"GLAccountCode: Invalid reference: {line['GLAccountCode']}")
        return gl
    guid = _guid(line, "GLAccount")
    gl = ledger.table("financial/GLAccounts").get(guid)
    if gl is None:
        raise ODataError(f"GLAccount: Invalid reference: {guid}")
    return gl


def _by_code(ledger: Ledger, path: str, value: Any, field: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    record = ledger.find(path, "Code", str(value))
    if record is None:
        raise ODataError(f"{field}: Invalid reference: {value}")
    return record


def _doc_lines(ledger: Ledger, raw: list[Body], sign: int, amount_field: str = "AmountFC",
               vat_field: str = "VATAmountFC", priced: bool = False) -> list[Line]:
    result = []
    for line in raw:
        gl = _gl(ledger, line) if not priced or line.get("GLAccount") or line.get("GLAccountCode") else None
        vat = _by_code(ledger, "vat/VATCodes", line.get("VATCode"), "VATCode")
        quantity = decimal_of(line["Quantity"], "Quantity") if line.get("Quantity") is not None else None
        unit_price = None
        if priced:
            price_value = line.get("UnitPrice", line.get("NetPrice"))
            if price_value is None and line.get(amount_field) is None:
                raise ODataError("Mandatory: UnitPrice")
            unit_price = decimal_of(price_value, "UnitPrice") if price_value is not None else None
            quantity = quantity if quantity is not None else Decimal(1)
        if line.get(amount_field) is not None:
            amount = decimal_of(line[amount_field], amount_field)
        elif priced and unit_price is not None and quantity is not None:
            amount = money(quantity * unit_price)
        else:
            raise ODataError(f"Mandatory: {amount_field}")
        if sign < 0:
            amount = -abs(amount)
        if line.get(vat_field) is not None:
            vat_amount = decimal_of(line[vat_field], vat_field)
            vat_amount = -abs(vat_amount) if sign < 0 else vat_amount
        elif vat is not None:
            vat_amount = money(amount * vat["Percentage"])
        else:
            vat_amount = ZERO
        result.append(Line(
            gl=gl or {"ID": None, "Code": None, "Description": None}, amount=amount, vat=vat, vat_amount=vat_amount,
            description=_string(line, "Description"), quantity=quantity, unit_price=unit_price,
            cost_center=_by_code(ledger, "hrm/Costcenters", line.get("CostCenter"), "CostCenter"),
            cost_unit=_by_code(ledger, "hrm/Costunits", line.get("CostUnit"), "CostUnit")))
    return result


# --- creates -------------------------------------------------------------------------------------


def create_account(ledger: Ledger, body: Body, now: datetime) -> str:
    check_properties("crm/Accounts", body)
    name = _mandatory(body, "Name")
    if not isinstance(name, str):
        raise ODataError("Name: invalid string value")
    code = _string(body, "Code")
    if code is not None:
        code = code.strip()
        if not code or len(code) > 18:
            raise ODataError("Code: a code of 1 to 18 characters is expected")
        if any(a["Code"].strip() == code for a in ledger.table("crm/Accounts").values()):
            raise ODataError(f"Code: an account with code {code} already exists")
    status = _string(body, "Status")
    if status is not None and status not in ("A", "S", "P", "C"):
        raise ODataError(f"Status: invalid value '{status}'")
    is_sales = body.get("IsSales")
    is_supplier = body.get("IsSupplier", body.get("IsPurchase"))
    if is_sales is None:
        is_sales = status == "C"
    if is_supplier is None:
        is_supplier = False
    if not isinstance(is_sales, bool) or not isinstance(is_supplier, bool):
        raise ODataError("IsSales / IsSupplier: a boolean is expected")
    currency = (_string(body, "SalesCurrency") if is_sales else None) or _string(body, "PurchaseCurrency") \
        or ledger.base_currency
    email = _string(body, "Email")
    guid = ledger.new_guid("account")
    ledger.add_account(key=code, name=name, email=email, is_sales=is_sales, is_supplier=is_supplier,
                       currency=currency, created=now, modified=now, guid=guid, status=status)
    ledger.table("crm/Accounts")[guid]["Remarks"] = _string(body, "Remarks")
    return guid


def create_entry(ledger: Ledger, kind: str, body: Body, now: datetime) -> str:
    sales = kind == "sales"
    path = "salesentry/SalesEntries" if sales else "purchaseentry/PurchaseEntries"
    lines_path = "salesentry/SalesEntryLines" if sales else "purchaseentry/PurchaseEntryLines"
    lines_name = "SalesEntryLines" if sales else "PurchaseEntryLines"
    party_field = "Customer" if sales else "Supplier"
    check_properties(path, body)
    party = _account(ledger, _guid(body, party_field), party_field, sales)
    journal_code = _string(body, "Journal") or (SALES_JOURNAL if sales else PURCHASE_JOURNAL)
    journal = ledger.journal(journal_code)
    if journal is None or journal["Type"] != (20 if sales else 22):
        raise ODataError(f"Journal: Invalid reference: {journal_code}")
    entry_type = _int(body, "Type", 20 if sales else 30)
    allowed = (20, 21) if sales else (30, 31)
    if entry_type not in allowed:
        raise ODataError(f"Type: invalid value {entry_type}; allowed: {allowed[0]}, {allowed[1]}")
    entry_date = _date(body, "EntryDate", now.date())
    due_date = _date(body, "DueDate", entry_date + timedelta(days=30))
    currency = _string(body, "Currency") or party["SalesCurrency" if sales else "PurchaseCurrency"] \
        or ledger.base_currency
    rate = decimal_of(body["Rate"], "Rate") if body.get("Rate") is not None else None
    if currency != ledger.base_currency and rate is None:
        raise ODataError(f"Rate: mandatory for currency {currency}")
    raw_lines = _lines(body, lines_name, lines_path)
    sign = -1 if entry_type in (21, 31) else 1
    lines = _doc_lines(ledger, raw_lines, sign)
    matched: dict[str, Any] | None = None
    payment_reference = _string(body, "PaymentReference")
    if entry_type == 21 and payment_reference:
        number = int(payment_reference) if payment_reference.strip().isdigit() else None
        matched = ledger.entry_by_number(party, number) if number is not None else None
        if matched is None or matched["Type"] != 20 or matched["Customer"] != party["ID"]:
            raise ODataError(f"PaymentReference: no invoice {payment_reference} of this customer to match")
        if ledger.open_item[matched["EntryID"]]["AmountFC"] <= 0:
            raise ODataError(f"PaymentReference: invoice {payment_reference} has no open amount")
        if matched["Currency"] != currency:
            raise ODataError("PaymentReference: the invoice is in another currency")
    guid = ledger.new_guid(kind)
    ledger.post_entry(kind, guid=guid, your_ref=_string(body, "YourRef"), party=party, entry_date=entry_date,
                      due_date=due_date, currency=currency, rate=rate, lines=lines, entry_type=entry_type,
                      description=_string(body, "Description"), modified=now)
    if matched is not None:
        credit_total = -ledger.table(path)[guid]["AmountFC"]
        open_amount = ledger.open_item[matched["EntryID"]]["AmountFC"]
        ledger.match_credit_note(guid, matched["EntryID"], min(credit_total, open_amount), when=now)
    return guid


def create_bank_entry(ledger: Ledger, body: Body, now: datetime) -> str:
    check_properties("financialtransaction/BankEntries", body)
    journal_code = _string(body, "JournalCode")
    if not journal_code:
        raise ODataError("Mandatory: JournalCode")
    journal = ledger.journal(journal_code)
    if journal is None or journal["Type"] != 12:
        raise ODataError(f"JournalCode: Invalid reference: {journal_code} is not a bank journal")
    currency = _string(body, "Currency") or journal["Currency"]
    if currency != journal["Currency"]:
        raise ODataError(f"Currency: bank journal {journal_code} is kept in {journal['Currency']}")
    raw_lines = _lines(body, "BankEntryLines", "financialtransaction/BankEntryLines")
    lines: list[tuple[dict[str, Any], int | None, Decimal, date, str | None]] = []
    pending: dict[str, Decimal] = {}
    for line in raw_lines:
        account_id = _guid(line, "Account")
        party = ledger.table("crm/Accounts").get(account_id)
        if party is None:
            raise ODataError(f"Account: Invalid reference: {account_id}")
        amount = decimal_of(_mandatory(line, "AmountFC"), "AmountFC")
        our_ref = _int(line, "OurRef")
        if our_ref is not None:
            entry = ledger.entry_by_number(party, our_ref)
            owner = None if entry is None else entry.get("Customer") or entry.get("Supplier")
            if entry is None or owner != party["ID"]:
                raise ODataError(f"OurRef: no invoice with number {our_ref} for account {party['Code'].strip()}")
            if entry["Currency"] != currency:
                raise ODataError(f"OurRef: invoice {our_ref} is in {entry['Currency']}, the bank entry in {currency}")
            pending[entry["EntryID"]] = pending.get(entry["EntryID"], ZERO) + amount
        if line.get("GLAccount") is not None:
            gl = ledger.table("financial/GLAccounts").get(parse_guid(str(line["GLAccount"])))
            expected = 20 if party["IsSales"] and not party["IsSupplier"] else 22
            if gl is None or gl["Type"] != expected:
                raise ODataError("GLAccount: a line for a customer or supplier must use its receivables or "
                                 "payables account")
        lines.append((party, our_ref, amount, _date(line, "Date", now.date()), _string(line, "Description")))
    guid = ledger.new_guid("bank")
    ledger.post_bank_entry(guid=guid, journal_code=journal_code, currency=currency, lines=lines, modified=now,
                           touch_documents=True)
    return guid


def create_journal_entry(ledger: Ledger, body: Body, now: datetime) -> str:
    check_properties("generaljournalentry/GeneralJournalEntries", body)
    journal_code = _string(body, "JournalCode")
    if not journal_code:
        raise ODataError("Mandatory: JournalCode")
    journal = ledger.journal(journal_code)
    if journal is None or journal["Type"] != 90:
        raise ODataError(f"JournalCode: Invalid reference: {journal_code} is not a general journal")
    raw_lines = _lines(body, "GeneralJournalEntryLines", "generaljournalentry/GeneralJournalEntryLines")
    year, period = _int(body, "FinancialYear"), _int(body, "FinancialPeriod")
    default_date = date(year, period, 1) if year and period and 1 <= period <= 12 else now.date()
    lines = []
    total = ZERO
    posting: date | None = None
    number: str | None = None
    for line in raw_lines:
        gl = _gl(ledger, line)
        amount = decimal_of(_mandatory(line, "AmountFC"), "AmountFC")
        total += amount
        on = _date(line, "Date", default_date)
        posting = posting or on
        number = number or _string(line, "Notes")
        lines.append((gl, amount, _string(line, "Description"),
                      _by_code(ledger, "hrm/Costcenters", line.get("CostCenter"), "CostCenter"),
                      _by_code(ledger, "hrm/Costunits", line.get("CostUnit"), "CostUnit")))
    if len(lines) < 2:
        raise ODataError("A general journal entry needs at least two lines")
    if total != 0:
        raise ODataError(f"The entry is not in balance: the lines add up to {total}")
    currency = _string(body, "Currency") or ledger.base_currency
    if currency != ledger.base_currency:
        raise ODataError(f"Currency: general journal entries are kept in {ledger.base_currency}")
    guid = ledger.new_guid("je")
    ledger.add_journal_entry(guid=guid, number=number, journal_code=journal_code, posting_date=posting or now.date(),
                             currency=currency, lines=lines, modified=now)
    return guid


def create_purchase_order(ledger: Ledger, body: Body, now: datetime) -> str:
    check_properties("purchaseorder/PurchaseOrders", body)
    supplier = _account(ledger, _guid(body, "Supplier"), "Supplier", sales=False)
    order_date = _date(body, "OrderDate", now.date())
    receipt = body.get("ReceiptDate")
    receipt_date = _date(body, "ReceiptDate") if receipt is not None else None
    currency = _string(body, "Currency") or supplier["PurchaseCurrency"] or ledger.base_currency
    rate = decimal_of(body["ExchangeRate"], "ExchangeRate") if body.get("ExchangeRate") is not None else None
    raw_lines = _lines(body, "PurchaseOrderLines", "purchaseorder/PurchaseOrderLines")
    lines = _doc_lines(ledger, raw_lines, 1, vat_field="VATAmount", priced=True)
    guid = ledger.new_guid("po")
    ledger.add_purchase_order(guid=guid, number=_string(body, "YourRef"), supplier=supplier, order_date=order_date,
                              receipt_date=receipt_date, currency=currency, rate=rate, lines=lines,
                              status=PurchaseOrderStatus.OPEN, modified=now)
    order = ledger.table("purchaseorder/PurchaseOrders")[guid]
    if body.get("Description") is not None:
        order["Description"] = _string(body, "Description")
    return guid


# --- updates and deletes -------------------------------------------------------------------------

UPDATABLE = {
    "crm/Accounts": {"Name", "Email", "Status", "Blocked", "SearchCode", "Country", "SalesCurrency",
                     "PurchaseCurrency", "Remarks"},
    "salesentry/SalesEntries": {"YourRef", "Description", "DueDate", "PaymentCondition"},
    "purchaseentry/PurchaseEntries": {"YourRef", "Description", "DueDate", "PaymentCondition"},
}


def update(ledger: Ledger, path: str, record: dict[str, Any], body: Body, now: datetime) -> None:
    check_properties(path, body)
    spec = SETS[path]
    allowed = UPDATABLE.get(path, set())
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name == "__metadata" or (name in record and record[name] == value):
            continue
        if name in spec.nav:
            raise ODataError(f"{name}: lines can not be changed with PUT; use {spec.nav[name]}")
        if name == spec.key:
            continue
        if name not in allowed:
            raise ODataError(f"{name}: this property can not be changed")
        if name == "DueDate":
            changes[name] = day_start(_date(body, name))
        elif name == "Blocked":
            if not isinstance(value, bool):
                raise ODataError("Blocked: a boolean is expected")
            changes[name] = value
        elif name == "Name" and not value:
            raise ODataError("Mandatory: Name")
        else:
            changes[name] = _string(body, name)
    record.update(changes)
    record["Modified"] = now
    if path == "crm/Accounts" and "Name" in changes:
        _rename_account(ledger, record["ID"], changes["Name"])
    item = ledger.open_item.get(record.get("EntryID") or "")
    if item is not None:
        for name in ("YourRef", "Description", "DueDate"):
            matched = record["Type"] == 21 and record["PaymentReference"] != str(record["EntryNumber"])
            if name in changes and not (name == "YourRef" and matched):
                item[name] = changes[name]
        if "DueDate" in changes:
            item["TransactionDueDate"] = changes["DueDate"]
        item["Modified"] = now


# Read-only name fields Exact joins in at read time from the account a record references.
_JOINED_NAMES = (("Customer", "CustomerName"), ("Supplier", "SupplierName"), ("Account", "AccountName"))


def _rename_account(ledger: Ledger, account_id: str, name: str) -> None:
    """Exact's `SupplierName`, `CustomerName` and `AccountName` are the account's current name, not a
    copy taken when the entry was written (its `Modified` stays): keep the stored copies in step."""
    def refresh(row: dict[str, Any]) -> None:
        for id_field, name_field in _JOINED_NAMES:
            if row.get(id_field) == account_id and name_field in row:
                row[name_field] = name

    for path, rows in ledger.sets.items():
        nav = SETS[path].nav
        for row in rows.values():
            refresh(row)
            for lines in nav:
                for line in row.get(lines) or []:
                    refresh(line)
    for item in ledger.open_item.values():
        refresh(item)


def delete(ledger: Ledger, path: str, record: dict[str, Any]) -> None:
    spec = SETS[path]
    key = record[spec.key]
    if path == "crm/Accounts":
        used = []
        for other, field in [("salesentry/SalesEntries", "Customer"), ("purchaseentry/PurchaseEntries", "Supplier"),
                             ("purchaseorder/PurchaseOrders", "Supplier")]:
            if any(r[field] == key for r in ledger.table(other).values()):
                used.append(SETS[other].type_name)
        if used:
            raise ODataError(f"Can't delete: Account {record['Code'].strip()} - Used in: {', '.join(used)}")
    elif path in ("salesentry/SalesEntries", "purchaseentry/PurchaseEntries"):
        item = ledger.open_item[key]
        referenced = any(r["PaymentReference"] == str(record["EntryNumber"]) and r["EntryID"] != key
                         for r in ledger.table(path).values())
        if item["AmountFC"] != item["TransactionAmountFC"] or referenced:
            raise ODataError(f"Can't delete: entry {record['EntryNumber']} - Used in: matched payments or credit notes")
        items = "cashflow/Receivables" if path.startswith("sales") else "cashflow/Payments"
        del ledger.table(items)[item["ID"]]
        del ledger.open_item[key]
        ledger.entry_numbers.pop((path, record["EntryNumber"]), None)
    del ledger.table(path)[key]
