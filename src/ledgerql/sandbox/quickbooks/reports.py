"""QBO reports (ProfitAndLoss, BalanceSheet, GeneralLedger) computed from the realm's postings.

Every posting transaction is turned into double-entry postings in the home currency (debit
positive); the reports sum them in QBO's Header / Columns / Rows shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.sandbox.books import money
from ledgerql.sandbox.quickbooks.render import QBOFault, format_datetime
from ledgerql.sandbox.quickbooks.store import ZERO, RealmStore, Record, detail_lines, line_detail

REPORTS = ("ProfitAndLoss", "BalanceSheet", "GeneralLedger")
_PNL = [("Income", "Income", ("Income",), -1), ("COGS", "Cost of Sales", ("Cost of Goods Sold",), 1),
        ("Expenses", "Expenses", ("Expense",), 1), ("OtherIncome", "Other Income", ("Other Income",), -1),
        ("OtherExpenses", "Other Expenses", ("Other Expense",), 1)]
_ASSETS = ("Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset")
_LIABILITIES = ("Accounts Payable", "Credit Card", "Other Current Liability", "Long Term Liability")


@dataclass
class Posting:
    on: date
    txn_type: str
    txn_id: str
    doc_number: str
    party: tuple[str, str, str] | None  # (entity, id, name)
    memo: str
    account_id: str
    amount: Decimal  # home currency, debit positive


def _home(record: Record, amount: Decimal) -> Decimal:
    rate = record.get("ExchangeRate")
    return money(amount * Decimal(rate)) if rate is not None else amount


def _line_account(store: RealmStore, line: Record) -> str | None:
    detail = line_detail(line) or {}
    if "AccountRef" in detail:
        return str(detail["AccountRef"]["value"])
    item = store.get("Item", detail.get("ItemRef", {}).get("value"))
    if item is None:
        return None
    ref = item.get("IncomeAccountRef") or item.get("ExpenseAccountRef")
    return str(ref["value"]) if ref else None


def postings(store: RealmStore) -> list[Posting]:
    result: list[Posting] = []
    tax_account = next((i for i, a in store.records["Account"].items()
                        if a.get("AccountSubType") == "GlobalTaxPayable"), None)
    ar = store.account_by_type("Accounts Receivable")
    ap = store.account_by_type("Accounts Payable")

    def add(record: Record, kind: str, party_key: str | None, account_id: str | None, amount: Decimal,
            memo: str = "") -> None:
        if account_id is None or amount == 0:
            return
        party = None
        if party_key and isinstance(record.get(party_key), dict):
            ref = record[party_key]
            entity = "Customer" if party_key == "CustomerRef" else ref.get("type", "Vendor")
            party = (entity, str(ref["value"]), str(ref.get("name", "")))
        result.append(Posting(record["TxnDate"], kind, record["Id"], str(record.get("DocNumber", "")), party,
                              memo, account_id, amount))

    for kind, party_key, control, sign in (("Invoice", "CustomerRef", ar, -1), ("CreditMemo", "CustomerRef", ar, 1),
                                           ("Bill", "VendorRef", ap, 1), ("Purchase", "EntityRef", None, 1)):
        for record in store.records[kind].values():
            for line in detail_lines(record):
                add(record, kind, party_key, _line_account(store, line),
                    sign * _home(record, Decimal(line["Amount"])), str(line.get("Description", "")))
            add(record, kind, party_key, tax_account, sign * _home(record, Decimal(record["TxnTaxDetail"]["TotalTax"])))
            counter = control if control else str(record["AccountRef"]["value"])
            add(record, kind, party_key, counter, -sign * _home(record, Decimal(record["TotalAmt"])))
    for record in store.records["JournalEntry"].values():
        for line in record["Line"]:
            detail = line["JournalEntryLineDetail"]
            sign = 1 if detail["PostingType"] == "Debit" else -1
            add(record, "Journal Entry", None, str(detail["AccountRef"]["value"]),
                sign * _home(record, Decimal(line["Amount"])), str(line.get("Description", "")))
    for record in store.records["Payment"].values():
        deposit = record.get("DepositToAccountRef", {}).get("value")
        amount = _home(record, Decimal(record["TotalAmt"]))
        if deposit:
            add(record, "Payment", "CustomerRef", str(deposit), amount)
            add(record, "Payment", "CustomerRef", ar, -amount)
    for record in store.records["BillPayment"].values():
        bank = (record.get("CheckPayment") or {}).get("BankAccountRef") or \
            (record.get("CreditCardPayment") or {}).get("CCAccountRef")
        amount = _home(record, Decimal(record["TotalAmt"]))
        if bank:
            add(record, "Bill Payment (Cheque)", "VendorRef", ap, amount)
            add(record, "Bill Payment (Cheque)", "VendorRef", str(bank["value"]), -amount)
    return result


def _text(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _date_param(params: dict[str, str], name: str, default: date) -> date:
    if name not in params:
        return default
    try:
        return date.fromisoformat(params[name])
    except ValueError as exc:
        raise QBOFault("Invalid date", f"The date {params[name]} for {name} is not valid (yyyy-MM-dd).",
                       "2010") from exc


def build_report(store: RealmStore, name: str, params: dict[str, str], now: float) -> dict[str, Any]:
    today = datetime.fromtimestamp(now, UTC).date()
    dated = "start_date" in params or "end_date" in params or "date_macro" in params
    default_start = date(today.year, today.month, 1) if name == "GeneralLedger" else date(today.year, 1, 1)
    start = _date_param(params, "start_date", default_start)
    end = _date_param(params, "end_date", today)
    rows = postings(store)
    for key, entity in (("customer", "Customer"), ("vendor", "Vendor")):
        if params.get(key):
            wanted = set(params[key].split(","))
            rows = [p for p in rows if p.party and p.party[0] == entity and p.party[1] in wanted]
    accounts = store.records["Account"]
    header: dict[str, Any] = {"Time": format_datetime(datetime.fromtimestamp(int(now), UTC)), "ReportName": name,
                              "ReportBasis": params.get("accounting_method", "Accrual"),
                              "StartPeriod": start.isoformat(), "EndPeriod": end.isoformat()}
    if not dated:
        header["DateMacro"] = "this month-to-date" if name == "GeneralLedger" else "this calendar year-to-date"
    if name != "GeneralLedger":
        header["SummarizeColumnsBy"] = params.get("summarize_column_by", "Total")
    header["Currency"] = store.home_currency
    for key in ("customer", "vendor"):
        if params.get(key):
            header[key.capitalize()] = params[key]

    def by_account(selected: list[Posting]) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for posting in selected:
            sums[posting.account_id] = sums.get(posting.account_id, ZERO) + posting.amount
        return sums

    def section(group: str, title: str, types: tuple[str, ...], sign: int, sums: dict[str, Decimal],
                extra: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], Decimal]:
        data = []
        total = ZERO
        for account_id, account in accounts.items():
            if account["AccountType"] in types and sums.get(account_id, ZERO) != 0:
                value = sign * sums[account_id]
                total += value
                data.append({"ColData": [{"value": account["Name"], "id": account_id}, {"value": _text(value)}],
                             "type": "Data"})
        for row in extra or []:
            data.append(row)
            total += Decimal(row["ColData"][1]["value"])
        result: dict[str, Any] = {"Header": {"ColData": [{"value": title}, {"value": ""}]}}
        if data:
            result["Rows"] = {"Row": data}
        result["Summary"] = {"ColData": [{"value": f"Total {title}"}, {"value": _text(total) if data else ""}]}
        result.update({"type": "Section", "group": group})
        return result, total

    def summary_row(group: str, title: str, value: Decimal, has_data: bool) -> dict[str, Any]:
        return {"Summary": {"ColData": [{"value": title}, {"value": _text(value) if has_data else ""}]},
                "type": "Section", "group": group}

    columns = {"Column": [
        {"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]},
        {"ColTitle": "TOTAL", "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "total"}]}]}

    def net_income(selected: list[Posting]) -> Decimal:
        sums = by_account(selected)
        return -sum((v for a, v in sums.items() if accounts[a]["Classification"] in ("Revenue", "Expense")), ZERO)

    if name == "ProfitAndLoss":
        period = [p for p in rows if start <= p.on <= end]
        sums = by_account(period)
        sections = {}
        for group, title, types, sign in _PNL:
            sections[group] = section(group, title, types, sign, sums)
        has = bool(period)
        gross = sections["Income"][1] - sections["COGS"][1]
        operating = gross - sections["Expenses"][1]
        other = sections["OtherIncome"][1] - sections["OtherExpenses"][1]
        # QBO leaves out cost of sales and the "other" sections when they hold nothing.
        report_rows = [sections["Income"][0]]
        if "Rows" in sections["COGS"][0]:
            report_rows.append(sections["COGS"][0])
        report_rows += [summary_row("GrossProfit", "Gross Profit", gross, has), sections["Expenses"][0],
                        summary_row("NetOperatingIncome", "Net Operating Income", operating, has)]
        if "Rows" in sections["OtherIncome"][0] or "Rows" in sections["OtherExpenses"][0]:
            report_rows += [sections["OtherIncome"][0], sections["OtherExpenses"][0],
                            summary_row("NetOtherIncome", "Net Other Income", other, has)]
        report_rows.append(summary_row("NetIncome", "Net Income", operating + other, has))
        header["Option"] = [{"Name": "AccountingStandard", "Value": "IFRS"},
                            {"Name": "NoReportData", "Value": "false" if has else "true"}]
        return {"Header": header, "Columns": columns, "Rows": {"Row": report_rows}}

    if name == "BalanceSheet":
        upto = [p for p in rows if p.on <= end]
        sums = by_account(upto)
        has = bool(upto)
        assets, _ = section("TotalAssets", "Assets", _ASSETS, 1, sums)
        liabilities, total_liabilities = section("Liabilities", "Liabilities", _LIABILITIES, -1, sums)
        income_row = {"ColData": [{"value": "Net Income"}, {"value": _text(net_income(upto))}], "type": "Data"}
        equity, total_equity = section("Equity", "Equity", ("Equity",), -1, sums, [income_row] if has else [])
        both = {"Header": {"ColData": [{"value": "Liabilities and Equity"}, {"value": ""}]},
                "Rows": {"Row": [liabilities, equity]},
                "Summary": {"ColData": [{"value": "Total Liabilities and Equity"},
                                        {"value": _text(total_liabilities + total_equity) if has else ""}]},
                "type": "Section", "group": "TotalLiabilitiesAndEquity"}
        header["Option"] = [{"Name": "AccountingStandard", "Value": "IFRS"},
                            {"Name": "NoReportData", "Value": "false" if has else "true"}]
        return {"Header": header, "Columns": columns, "Rows": {"Row": [assets, both]}}

    # GeneralLedger
    gl_columns = {"Column": [{"ColTitle": title, "ColType": kind} for title, kind in (
        ("Date", "tx_date"), ("Transaction Type", "txn_type"), ("Num", "doc_num"), ("Name", "name"),
        ("Memo/Description", "memo"), ("Split", "split_acc"), ("Amount", "subt_nat_amount"),
        ("Balance", "rbal_nat_amount"))]}
    by_txn: dict[tuple[str, str], set[str]] = {}
    for posting in rows:
        by_txn.setdefault((posting.txn_type, posting.txn_id), set()).add(posting.account_id)
    sections_out = []
    for account_id, account in accounts.items():
        mine = [p for p in rows if p.account_id == account_id]
        opening = sum((p.amount for p in mine if p.on < start), ZERO)
        period = sorted((p for p in mine if start <= p.on <= end), key=lambda p: (p.on, int(p.txn_id)))
        if not period and opening == 0:
            continue
        blank = [{"value": ""} for _ in range(7)]
        data: list[dict[str, Any]] = [{"ColData": [{"value": "Beginning Balance"}, *blank[:6],
                                                   {"value": _text(opening)}], "type": "Data"}]
        running = opening
        for posting in period:
            running += posting.amount
            others = sorted(by_txn[(posting.txn_type, posting.txn_id)] - {account_id})
            split = ({"value": accounts[others[0]]["Name"], "id": others[0]} if len(others) == 1
                     else {"value": "-Split-"})
            party = ({"value": posting.party[2], "id": posting.party[1]} if posting.party else {"value": ""})
            data.append({"ColData": [{"value": posting.on.isoformat()},
                                     {"value": posting.txn_type, "id": posting.txn_id},
                                     {"value": posting.doc_number}, party, {"value": posting.memo}, split,
                                     {"value": _text(posting.amount)}, {"value": _text(running)}],
                         "type": "Data"})
        sections_out.append({
            "Header": {"ColData": [{"value": account["Name"], "id": account_id}, *blank]},
            "Rows": {"Row": data},
            "Summary": {"ColData": [{"value": f"Total for {account['Name']}"}, *blank[:5],
                                    {"value": _text(running - opening)}, {"value": ""}]},
            "type": "Section"})
    header["Option"] = [{"Name": "NoReportData", "Value": "false" if sections_out else "true"}]
    return {"Header": header, "Columns": gl_columns, "Rows": {"Row": sections_out}}
