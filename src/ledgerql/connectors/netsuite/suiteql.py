"""SuiteQL statements for the NetSuite connector.

Everything is read through `POST /query/v1/suiteql`: the record API's collection GET returns only ids,
so listing through it would cost one call per record. Tables and columns are NetSuite's own
(`transaction`, `transactionline`, `previoustransactionlinelink`, `account`, `customer`, `vendor`,
`salestaxitem`, `department`, `location`, `subsidiary`, `currency`).

A page of documents comes WITH its lines (or its applications) in one statement: the header is joined
to its detail rows and documents are numbered with `DENSE_RANK() OVER (ORDER BY t.id)`, so a page is
"documents n+1 .. n+k" whatever the number of lines each has, and `MAX(rn) OVER ()` reports how many
documents match the filter. Only literals the connector formats itself (integers, ISO dates, type
codes) ever reach a statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from ledgerql.connectors.base import ListFilter
from ledgerql.model.enums import Resource

ISO_STAMP = "'YYYY-MM-DD\"T\"HH24:MI:SS'"
ISO_DATE = "'YYYY-MM-DD'"

LINES = "lines"
LINKS = "links"


@dataclass(frozen=True)
class DocumentSpec:
    """How one unified document resource is found in `transaction`."""

    type_code: str  # transaction.type
    detail: str  # LINES: transactionline; LINKS: previoustransactionlinelink (applications)
    applies_to: str | None = None  # the type its applications point at (payments, credit memos)
    party: str | None = None  # "customer" / "supplier": which ListFilter id filters `t.entity`
    line_sign: int = 1  # NetSuite posting sign of the detail lines (invoice item lines are credits)
    extra_links: bool = False  # also read applications in a second statement (credit memos)
    mainline_filter: bool = True  # journals: every line is a detail line


DOCUMENTS: dict[Resource, DocumentSpec] = {
    Resource.INVOICES: DocumentSpec("CustInvc", LINES, party="customer", line_sign=-1),
    Resource.BILLS: DocumentSpec("VendBill", LINES, party="supplier"),
    Resource.CREDIT_NOTES: DocumentSpec("CustCred", LINES, applies_to="CustInvc", party="customer",
                                        extra_links=True),
    Resource.PAYMENTS: DocumentSpec("CustPymt", LINKS, applies_to="CustInvc", party="customer"),
    Resource.BILL_PAYMENTS: DocumentSpec("VendPymt", LINKS, applies_to="VendBill", party="supplier"),
    Resource.EXPENSES: DocumentSpec("ExpRept", LINES, party="supplier"),
    Resource.PURCHASE_ORDERS: DocumentSpec("PurchOrd", LINES, party="supplier"),
    Resource.JOURNAL_ENTRIES: DocumentSpec("Journal", LINES, mainline_filter=False),
}

HEADER_COLUMNS = (
    "t.id, t.tranid, t.type, t.entity, t.account, t.location, t.status, t.memo, t.exchangerate, "
    "t.foreigntotal, t.taxtotal, t.foreignamountunpaid, t.foreignpaymentamountused, "
    "t.foreignpaymentamountunused, t.externalid, c.symbol AS currencycode, "
    f"TO_CHAR(t.trandate, {ISO_DATE}) AS tdate, TO_CHAR(t.duedate, {ISO_DATE}) AS ddate, "
    f"TO_CHAR(t.lastmodifieddate, {ISO_STAMP}) AS modified"
)
LINE_COLUMNS = (
    "tl.id AS l_id, tl.memo AS l_memo, tl.quantity AS l_quantity, tl.rate AS l_rate, "
    "tl.foreignamount AS l_amount, tl.debitforeignamount AS l_debit, tl.creditforeignamount AS l_credit, "
    "tl.tax1amt AS l_taxamt, tl.taxcode AS l_taxcode, tl.taxrate AS l_taxrate, "
    "tl.department AS l_department, tl.location AS l_location, "
    "NVL(tl.expenseaccount, tl.account) AS l_account"
)
LINK_COLUMNS = "pl.previousdoc AS a_doc, pl.foreignamount AS a_amount"


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference table read page by page (`r` is its alias)."""

    table: str
    columns: str
    currency: bool = True  # joins `currency` for the ISO code
    where: str | None = None


_MODIFIED = f"TO_CHAR(r.lastmodifieddate, {ISO_STAMP}) AS modified"
_ENTITY = f"r.id, r.entityid, r.companyname, r.email, r.isinactive, c.symbol AS currencycode, {_MODIFIED}"
_SUBSIDIARY = (f"r.id, r.name, r.legalname, r.country, r.fiscalmonth, r.isinactive, c.symbol AS currencycode, "
               f"{_MODIFIED}")
_OPTION = f"r.id, r.name, r.isinactive, {_MODIFIED}"

REFERENCES: dict[Resource, ReferenceSpec] = {
    Resource.LEDGER_ACCOUNTS: ReferenceSpec(
        "account", f"r.id, r.acctnumber, r.acctname, r.accttype, r.isinactive, c.symbol AS currencycode, {_MODIFIED}"),
    Resource.BANK_ACCOUNTS: ReferenceSpec(
        "account", f"r.id, r.acctnumber, r.acctname, r.accttype, r.sbankname, r.sbankcompanyid, "
                   f"c.symbol AS currencycode, {_MODIFIED}", where="r.accttype = 'Bank'"),
    Resource.CUSTOMERS: ReferenceSpec("customer", _ENTITY),
    Resource.SUPPLIERS: ReferenceSpec("vendor", _ENTITY),
    Resource.TAX_RATES: ReferenceSpec(
        "salestaxitem", f"r.id, r.itemid, r.name, r.description, r.rate, r.isinactive, {_MODIFIED}", currency=False),
    Resource.DEPARTMENTS: ReferenceSpec("department", _OPTION, currency=False),
    Resource.LOCATIONS: ReferenceSpec("location", _OPTION, currency=False),
    Resource.SUBSIDIARIES: ReferenceSpec("subsidiary", _SUBSIDIARY),
    Resource.COMPANY_INFO: ReferenceSpec("subsidiary", _SUBSIDIARY),
}

#: the tables behind the two tracking dimensions (unified ids are "<dimension>:<internal id>")
DIMENSION_TABLES = ("department", "location")


# --- literals ------------------------------------------------------------------------------------


def int_ids(ids: Iterable[str]) -> list[int]:
    """Internal ids as integers; anything else cannot be a NetSuite internal id and is dropped."""
    out = []
    for value in ids:
        text = str(value).strip()
        if text.isdigit() and len(text) <= 18:
            out.append(int(text))
    return list(dict.fromkeys(out))


def in_list(ids: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(i)) for i in ids) + ")"


def timestamp_literal(moment: datetime, zone: tzinfo = UTC) -> str:
    """An instant as the account's local wall time, floored to the second (records carry whole seconds,
    so `> floor(since)` selects exactly the records changed after `since`)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone).replace(tzinfo=None, microsecond=0)
    return f"TO_TIMESTAMP('{local:%Y-%m-%d %H:%M:%S}', 'YYYY-MM-DD HH24:MI:SS')"


def date_literal(day: date) -> str:
    return f"TO_DATE('{day:%Y-%m-%d}', {ISO_DATE})"


# --- filters -------------------------------------------------------------------------------------


def document_conditions(spec: DocumentSpec, filter: ListFilter, zone: tzinfo) -> list[str]:
    """WHERE conditions on `transaction t` for a unified filter (everything NetSuite can apply)."""
    where = [f"t.type = '{spec.type_code}'"]
    if filter.updated_since:
        where.append(f"t.lastmodifieddate > {timestamp_literal(filter.updated_since, zone)}")
    if filter.date_from:
        where.append(f"t.trandate >= {date_literal(filter.date_from)}")
    if filter.date_to:
        where.append(f"t.trandate <= {date_literal(filter.date_to)}")
    party = filter.customer_id if spec.party == "customer" else filter.supplier_id if spec.party == "supplier" \
        else None
    if party is not None:
        ids = int_ids([party])
        where.append(f"t.entity = {ids[0]}" if ids else "1 = 0")
    if filter.status and spec.type_code in ("CustInvc", "VendBill"):
        where.append(STATUS_CONDITIONS.get(str(filter.status), "1 = 0"))
    return where


# Statuses follow from the open balance (see convert.derived_status).
STATUS_CONDITIONS = {
    "PAID": "t.foreignamountunpaid <= 0",
    "PARTIALLY_PAID": "(t.foreignamountunpaid > 0 AND t.foreignamountunpaid < t.foreigntotal)",
    "AUTHORISED": "t.foreignamountunpaid >= t.foreigntotal",
}


def reference_conditions(spec: ReferenceSpec, filter: ListFilter, zone: tzinfo) -> list[str]:
    where = [spec.where] if spec.where else []
    if filter.updated_since:
        where.append(f"r.lastmodifieddate > {timestamp_literal(filter.updated_since, zone)}")
    return where


def _where(conditions: list[str]) -> str:
    return (" WHERE " + " AND ".join(conditions)) if conditions else ""


# --- statements ----------------------------------------------------------------------------------


def _document_from(spec: DocumentSpec) -> tuple[str, str, str]:
    """(columns, FROM/JOIN clause, detail order column) of a document statement."""
    joins = "FROM transaction t LEFT JOIN currency c ON c.id = t.currency"
    if spec.detail == LINES:
        mainline = " AND tl.mainline = 'F'" if spec.mainline_filter else ""
        joins += f" LEFT JOIN transactionline tl ON tl.transaction = t.id{mainline}"
        return f"{HEADER_COLUMNS}, {LINE_COLUMNS}", joins, "l_id"
    joins += (" LEFT JOIN previoustransactionlinelink pl ON pl.nextdoc = t.id"
              f" AND pl.previoustype = '{spec.applies_to}'")
    return f"{HEADER_COLUMNS}, {LINK_COLUMNS}", joins, "a_doc"


def document_page(spec: DocumentSpec, conditions: list[str], offset: int, size: int) -> str:
    """Documents offset+1 .. offset+size (by internal id) with their detail rows, one row per detail."""
    columns, joins, order = _document_from(spec)
    inner = f"SELECT {columns}, DENSE_RANK() OVER (ORDER BY t.id) AS rn {joins}{_where(conditions)}"
    return (f"SELECT * FROM (SELECT x.*, MAX(x.rn) OVER () AS ndocs FROM ({inner}) x) y "
            f"WHERE y.rn > {int(offset)} AND y.rn <= {int(offset) + int(size)} ORDER BY y.rn, y.{order}")


def document_rows(spec: DocumentSpec, conditions: list[str]) -> str:
    """Every matching document with its detail rows (for batches by id and reverse references)."""
    columns, joins, order = _document_from(spec)
    order_column = "tl.id" if order == "l_id" else "pl.previousdoc"
    return f"SELECT {columns} {joins}{_where(conditions)} ORDER BY t.id, {order_column}"


def document_count(conditions: list[str]) -> str:
    return f"SELECT t.id FROM transaction t{_where(conditions)}"


def applications(spec: DocumentSpec, document_ids: list[int]) -> str:
    """Applications (payments, credits) made by these documents, as previoustransactionlinelink rows."""
    return (f"SELECT pl.nextdoc AS a_next, {LINK_COLUMNS} FROM previoustransactionlinelink pl "
            f"WHERE pl.nextdoc IN {in_list(document_ids)} AND pl.previoustype = '{spec.applies_to}' "
            "ORDER BY pl.nextdoc, pl.previousdoc")


def applied_to(spec: DocumentSpec, target_ids: list[int]) -> str:
    """`t.id IN (...)`: the documents of this spec applied to any of the target documents."""
    return (f"t.id IN (SELECT pa.nextdoc FROM previoustransactionlinelink pa WHERE pa.previousdoc IN "
            f"{in_list(target_ids)} AND pa.previoustype = '{spec.applies_to}')")


def reference_select(spec: ReferenceSpec, conditions: list[str]) -> str:
    joins = f"FROM {spec.table} r"
    if spec.currency:
        joins += " LEFT JOIN currency c ON c.id = r.currency"
    return f"SELECT {spec.columns} {joins}{_where(conditions)} ORDER BY r.id"


def reference_count(spec: ReferenceSpec, conditions: list[str]) -> str:
    return f"SELECT r.id FROM {spec.table} r{_where(conditions)}"


def dimension_options(conditions_by_table: dict[str, list[str]]) -> str:
    """Department and location options in one statement (`dim` names the table)."""
    parts = [f"SELECT '{table}' AS dim, {_OPTION} FROM {table} r{_where(conds)}"
             for table, conds in conditions_by_table.items()]
    return " UNION ALL ".join(parts) + " ORDER BY dim, id"
