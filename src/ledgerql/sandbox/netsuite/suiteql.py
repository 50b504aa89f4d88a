"""SuiteQL over an in-memory SQLite copy of one account's records.

Tables (lowercase, as SuiteQL names them) and their columns:

- `transaction`: id, tranid, trandate, duedate, type (CustInvc, VendBill, CustCred, CustPymt, VendPymt,
  ExpRept, PurchOrd, Journal), recordtype, entity, currency, exchangerate, foreigntotal, taxtotal,
  foreignamountpaid, foreignamountunpaid, foreignamountremaining (= unpaid, kept for convenience),
  foreignpaymentamountused, foreignpaymentamountunused (payments and credit memos), status (letter code),
  memo, posting ('T'/'F'), voided, account (header account: AR, AP or the bank), subsidiary, location,
  externalid, createddate, lastmodifieddate.
- `transactionline`: transaction, id (0 = main line; item/expense/journal lines 1..n, = the record's
  `line`), linesequencenumber, uniquekey, mainline ('T'/'F'), taxline ('F'), account, expenseaccount, memo,
  quantity, rate, foreignamount, debitforeignamount, creditforeignamount, tax1amt, taxcode, taxrate,
  department, location, class, entity, subsidiary. `foreignamount` and `quantity` carry NetSuite's posting
  sign (debit positive, credit negative: an invoice's item lines are negative, its main line positive);
  the other amounts are unsigned.
- `previoustransactionlinelink` (and `nexttransactionlinelink`, the same rows): previousdoc, previousline,
  previoustype, nextdoc, nextline, nexttype, linktype ('Payment'), foreignamount, linkdate. One row per
  payment/bill payment/credit memo application: previousdoc is the invoice or bill, nextdoc the payment.
- `account`, `customer`, `vendor`, `entity` (customers and vendors), `salestaxitem`, `department`,
  `location`, `subsidiary`, `currency`.

Amounts are stored as exact decimal TEXT with a DECIMAL collation (so `foreigntotal > 100` and ORDER BY
compare numerically) and `SUM` is exact. Dates are stored ISO; output renders date columns as NetSuite
does by default (`M/D/YYYY`), while `TO_CHAR(col, 'YYYY-MM-DD"T"HH24:MI:SS')` gives full precision.
Only SELECT statements are run (an authorizer refuses everything else).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerql.sandbox.netsuite.store import ENTITY_TYPES, TRAN_TYPE_CODES, TRANSACTION_TYPES, Store
from ledgerql.sandbox.netsuite.wire import decimal_text, parse_instant, us_date

D = "TEXT COLLATE DECIMAL"
SCHEMA: dict[str, list[tuple[str, str]]] = {
    "transaction": [("id", "INTEGER PRIMARY KEY"), ("tranid", "TEXT"), ("trandate", "TEXT"), ("duedate", "TEXT"),
                    ("type", "TEXT"), ("recordtype", "TEXT"), ("entity", "INTEGER"), ("currency", "INTEGER"),
                    ("exchangerate", D), ("foreigntotal", D), ("taxtotal", D), ("foreignamountpaid", D),
                    ("foreignamountunpaid", D), ("foreignamountremaining", D), ("foreignpaymentamountused", D),
                    ("foreignpaymentamountunused", D), ("status", "TEXT"), ("memo", "TEXT"), ("posting", "TEXT"),
                    ("voided", "TEXT"), ("account", "INTEGER"), ("subsidiary", "INTEGER"), ("location", "INTEGER"),
                    ("externalid", "TEXT"), ("createddate", "TEXT"), ("lastmodifieddate", "TEXT")],
    "transactionline": [("transaction", "INTEGER"), ("id", "INTEGER"), ("linesequencenumber", "INTEGER"),
                        ("uniquekey", "INTEGER PRIMARY KEY"), ("mainline", "TEXT"), ("taxline", "TEXT"),
                        ("account", "INTEGER"), ("expenseaccount", "INTEGER"), ("memo", "TEXT"),
                        ("quantity", D), ("rate", D), ("foreignamount", D), ("debitforeignamount", D),
                        ("creditforeignamount", D), ("tax1amt", D), ("taxcode", "INTEGER"), ("taxrate", D),
                        ("department", "INTEGER"), ("location", "INTEGER"), ("class", "INTEGER"),
                        ("entity", "INTEGER"), ("subsidiary", "INTEGER")],
    "previoustransactionlinelink": [("previousdoc", "INTEGER"), ("previousline", "INTEGER"),
                                    ("previoustype", "TEXT"), ("nextdoc", "INTEGER"), ("nextline", "INTEGER"),
                                    ("nexttype", "TEXT"), ("linktype", "TEXT"), ("foreignamount", D),
                                    ("linkdate", "TEXT")],
    "account": [("id", "INTEGER PRIMARY KEY"), ("acctnumber", "TEXT"), ("acctname", "TEXT"), ("fullname", "TEXT"),
                ("accountsearchdisplayname", "TEXT"), ("displaynamewithhierarchy", "TEXT"), ("accttype", "TEXT"),
                ("sspecacct", "TEXT"), ("currency", "INTEGER"), ("description", "TEXT"), ("isinactive", "TEXT"),
                ("issummary", "TEXT"), ("sbankname", "TEXT"), ("sbankcompanyid", "TEXT"), ("externalid", "TEXT"),
                ("lastmodifieddate", "TEXT")],
    "customer": [("id", "INTEGER PRIMARY KEY"), ("entityid", "TEXT"), ("companyname", "TEXT"), ("email", "TEXT"),
                 ("currency", "INTEGER"), ("isperson", "TEXT"), ("isinactive", "TEXT"), ("subsidiary", "INTEGER"),
                 ("externalid", "TEXT"), ("datecreated", "TEXT"), ("lastmodifieddate", "TEXT")],
    "salestaxitem": [("id", "INTEGER PRIMARY KEY"), ("itemid", "TEXT"), ("name", "TEXT"), ("description", "TEXT"),
                     ("rate", D), ("isinactive", "TEXT"), ("externalid", "TEXT"), ("lastmodifieddate", "TEXT")],
    "department": [("id", "INTEGER PRIMARY KEY"), ("name", "TEXT"), ("fullname", "TEXT"), ("parent", "INTEGER"),
                   ("isinactive", "TEXT"), ("externalid", "TEXT"), ("lastmodifieddate", "TEXT")],
    "subsidiary": [("id", "INTEGER PRIMARY KEY"), ("name", "TEXT"), ("legalname", "TEXT"), ("currency", "INTEGER"),
                   ("country", "TEXT"), ("fiscalmonth", "INTEGER"), ("isinactive", "TEXT"), ("externalid", "TEXT"),
                   ("lastmodifieddate", "TEXT")],
    "currency": [("id", "INTEGER PRIMARY KEY"), ("name", "TEXT"), ("symbol", "TEXT"), ("isbasecurrency", "TEXT"),
                 ("exchangerate", D), ("isinactive", "TEXT"), ("externalid", "TEXT"), ("lastmodifieddate", "TEXT")],
}
SCHEMA["vendor"] = SCHEMA["customer"]
SCHEMA["location"] = SCHEMA["department"]
TABLES = set(SCHEMA) | {"nexttransactionlinelink", "entity", "dual"}
DATE_COLUMNS = {"trandate", "duedate", "createddate", "lastmodifieddate", "datecreated", "linkdate"}
MAX_ROWS = 100_000
_RECORD_TABLE = {"salesTaxItem": "salestaxitem"}
_FORBIDDEN = re.compile(r"\b(insert|update|delete|drop|create|alter|attach|detach|pragma|replace|vacuum|"
                        r"reindex|analyze|begin|commit|rollback|savepoint|release)\b", re.IGNORECASE)


class SuiteQLError(Exception):
    pass


def _dec(value: Any) -> str | None:
    if value is None:
        return None
    return decimal_text(value if isinstance(value, Decimal) else Decimal(str(value)))


def _as_decimal(text: Any) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def _collate(a: str, b: str) -> int:
    da, db = _as_decimal(a), _as_decimal(b)
    if da is not None and db is not None:
        return (da > db) - (da < db)
    return (a > b) - (a < b)


class _DecimalSum:
    def __init__(self) -> None:
        self.total: Decimal | None = None
        self.float_total: float | None = None

    def step(self, value: Any) -> None:
        if value is None:
            return
        parsed = _as_decimal(value)
        if parsed is None:
            return
        self.total = (self.total or Decimal(0)) + parsed

    def finalize(self) -> str | None:
        return None if self.total is None else decimal_text(self.total)


_FORMAT_TOKENS = [("YYYY", "%Y"), ("HH24", "%H"), ("HH12", "%I"), ("HH", "%I"), ("MM", "%m"), ("DD", "%d"),
                  ("MI", "%M"), ("SS", "%S"), ("MON", "%b"), ("AM", "%p"), ("PM", "%p"), ("YY", "%y")]


def _oracle_format(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.find('"', i + 1)
            end = len(fmt) if end < 0 else end
            out.append(fmt[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        for token, code in _FORMAT_TOKENS:
            if fmt[i:i + len(token)].upper() == token:
                out.append(code)
                i += len(token)
                break
        else:
            out.append(fmt[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def _parse_stored(value: str) -> datetime:
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _to_date(value: Any, fmt: Any = None) -> str | None:
    """TO_DATE / TO_TIMESTAMP: a literal in the given Oracle format → the stored ISO form."""
    if value is None:
        return None
    text = str(value)
    if fmt is None:
        for pattern in ("%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"invalid date literal {text!r}")
    else:
        parsed = datetime.strptime(text, _oracle_format(str(fmt)))
    if parsed.hour or parsed.minute or parsed.second:
        return parsed.strftime("%Y-%m-%d %H:%M:%S")
    return parsed.strftime("%Y-%m-%d")


def _to_char(value: Any, fmt: Any = None) -> str | None:
    if value is None:
        return None
    text = str(value)
    if fmt is None:
        return text
    try:
        stamp = _parse_stored(text)
    except ValueError:
        return text
    return stamp.strftime(_oracle_format(str(fmt)))


class SuiteQLDb:
    """The SQLite mirror of one account; rows are rebuilt from the records on every write."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.create_collation("DECIMAL", _collate)
        self.conn.create_aggregate("sum", 1, _DecimalSum)  # type: ignore[arg-type]
        self.conn.create_function("to_date", 2, _to_date)
        self.conn.create_function("to_date", 1, _to_date)
        self.conn.create_function("to_timestamp", 2, _to_date)
        self.conn.create_function("to_char", 2, _to_char)
        self.conn.create_function("to_char", 1, _to_char)
        self.conn.create_function("nvl", 2, lambda a, b: b if a is None else a)
        for table, columns in SCHEMA.items():
            cols = ", ".join(f'"{name}" {kind}' for name, kind in columns)
            self.conn.execute(f'CREATE TABLE "{table}" ({cols})')
        self.conn.execute('CREATE INDEX tl_tran ON "transactionline" ("transaction")')
        self.conn.execute('CREATE INDEX ptll_prev ON "previoustransactionlinelink" (previousdoc)')
        self.conn.execute('CREATE INDEX ptll_next ON "previoustransactionlinelink" (nextdoc)')
        self.conn.execute("CREATE TABLE dual (dummy TEXT)")
        self.conn.execute("INSERT INTO dual VALUES ('X')")
        self.conn.execute('CREATE VIEW "nexttransactionlinelink" AS SELECT * FROM "previoustransactionlinelink"')
        self.conn.execute('CREATE VIEW "entity" AS SELECT id, entityid, companyname, email, currency, isinactive, '
                          "externalid, lastmodifieddate, 'CustJob' AS type FROM customer UNION ALL "
                          "SELECT id, entityid, companyname, email, currency, isinactive, externalid, "
                          "lastmodifieddate, 'Vendor' AS type FROM vendor")
        for record_type, records in store.records.items():
            for record in records.values():
                self.sync(record_type, record["id"])

    # -- keeping the mirror in step with the records --------------------------------------------------
    def sync(self, record_type: str, internal_id: str) -> None:
        record = self.store.get(record_type, internal_id)
        if record_type in TRANSACTION_TYPES:
            self.conn.execute('DELETE FROM "transaction" WHERE id = ?', (int(internal_id),))
            self.conn.execute('DELETE FROM "transactionline" WHERE "transaction" = ?', (int(internal_id),))
            self.conn.execute('DELETE FROM "previoustransactionlinelink" WHERE nextdoc = ?', (int(internal_id),))
            if record is not None:
                self._insert_transaction(record_type, record)
            return
        table = _RECORD_TABLE.get(record_type, record_type.lower())
        self.conn.execute(f'DELETE FROM "{table}" WHERE id = ?', (int(internal_id),))
        if record is None:
            return
        row = self._reference_row(record_type, record)
        self._insert(table, row)

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(row.values()))

    @staticmethod
    def _rid(ref: Any) -> int | None:
        return int(ref["id"]) if isinstance(ref, dict) and ref.get("id") is not None else None

    @staticmethod
    def _tf(value: Any) -> str:
        return "T" if value else "F"

    @staticmethod
    def _stamp(value: str | None) -> str | None:
        return parse_instant(value).strftime("%Y-%m-%d %H:%M:%S") if value else None

    def _reference_row(self, record_type: str, r: dict[str, Any]) -> dict[str, Any]:
        common = {"id": int(r["id"]), "externalid": r.get("externalId"),
                  "lastmodifieddate": self._stamp(r.get("lastModifiedDate"))}
        if record_type == "account":
            return {**common, "acctnumber": r.get("acctNumber"), "acctname": r.get("acctName"),
                    "fullname": r.get("fullName"), "accountsearchdisplayname": r.get("accountSearchDisplayName"),
                    "displaynamewithhierarchy": r.get("displayNameWithHierarchy"), "accttype": r["acctType"]["id"],
                    "sspecacct": (r.get("sSpecAcct") or {}).get("id"), "currency": self._rid(r.get("currency")),
                    "description": r.get("description"), "isinactive": self._tf(r.get("isInactive")),
                    "issummary": self._tf(r.get("isSummary")), "sbankname": r.get("sBankName"),
                    "sbankcompanyid": r.get("sBankCompanyId")}
        if record_type in ENTITY_TYPES:
            return {**common, "entityid": r.get("entityId"), "companyname": r.get("companyName"),
                    "email": r.get("email"), "currency": self._rid(r.get("currency")),
                    "isperson": self._tf(r.get("isPerson")), "isinactive": self._tf(r.get("isInactive")),
                    "subsidiary": self._rid(r.get("subsidiary")), "datecreated": self._stamp(r.get("dateCreated"))}
        if record_type == "salesTaxItem":
            return {**common, "itemid": r.get("itemId"), "name": r.get("name"), "description": r.get("description"),
                    "rate": _dec(r.get("rate")), "isinactive": self._tf(r.get("isInactive"))}
        if record_type in ("department", "location"):
            return {**common, "name": r.get("name"), "fullname": r.get("fullName"),
                    "parent": self._rid(r.get("parent")), "isinactive": self._tf(r.get("isInactive"))}
        if record_type == "subsidiary":
            return {**common, "name": r.get("name"), "legalname": r.get("legalName"),
                    "currency": self._rid(r.get("currency")), "country": (r.get("country") or {}).get("id"),
                    "fiscalmonth": int((r.get("fiscalMonth") or {}).get("id", 1)),
                    "isinactive": self._tf(r.get("isInactive"))}
        if record_type == "currency":
            return {**common, "name": r.get("name"), "symbol": r.get("symbol"),
                    "isbasecurrency": self._tf(r.get("isBaseCurrency")), "exchangerate": _dec(r.get("exchangeRate")),
                    "isinactive": self._tf(r.get("isInactive"))}
        raise ValueError(record_type)

    def _insert_transaction(self, record_type: str, r: dict[str, Any]) -> None:
        tid = int(r["id"])
        code = TRAN_TYPE_CODES[record_type]
        entity = self._rid(r.get("entity") or r.get("customer"))
        total = r.get("total") if record_type != "journalEntry" else sum(
            (line.get("debit", Decimal(0)) for line in r["line"]["items"]), Decimal("0.00"))
        row: dict[str, Any] = {
            "id": tid, "tranid": r.get("tranId"), "trandate": r.get("tranDate"), "duedate": r.get("dueDate"),
            "type": code, "recordtype": record_type.lower(), "entity": entity,
            "currency": self._rid(r.get("currency") or r.get("expensereportcurrency")),
            "exchangerate": _dec(r.get("exchangeRate", r.get("expensereportexchangerate"))),
            "foreigntotal": _dec(total), "taxtotal": _dec(r.get("taxTotal")),
            "status": (r.get("status") or {}).get("id"), "memo": r.get("memo"),
            "posting": "F" if record_type == "purchaseOrder" else "T", "voided": "F",
            "account": self._rid(r.get("account")), "subsidiary": self._rid(r.get("subsidiary")),
            "location": self._rid(r.get("location")), "externalid": r.get("externalId"),
            "createddate": self._stamp(r.get("createdDate")),
            "lastmodifieddate": self._stamp(r.get("lastModifiedDate")),
        }
        if record_type == "invoice":
            row.update(foreignamountpaid=_dec(r.get("amountPaid")), foreignamountunpaid=_dec(r.get("amountRemaining")),
                       foreignamountremaining=_dec(r.get("amountRemaining")))
        elif record_type == "vendorBill":
            row.update(foreignamountpaid=_dec(r.get("amountPaid")), foreignamountunpaid=_dec(r.get("balance")),
                       foreignamountremaining=_dec(r.get("balance")))
        elif record_type in ("customerPayment", "vendorPayment", "creditMemo"):
            row.update(foreignpaymentamountused=_dec(r.get("applied")),
                       foreignpaymentamountunused=_dec(r.get("unapplied")))
        self._insert("transaction", row)
        # Posting sign of the detail lines: debit positive.
        detail_sign = {"invoice": -1, "creditMemo": 1, "vendorBill": 1, "purchaseOrder": 1,
                       "expenseReport": 1}.get(record_type, 1)
        seq = 0
        if record_type != "journalEntry":
            main_amount = Decimal(str(total)) if total is not None else Decimal(0)
            main_sign = {"invoice": 1, "customerPayment": 1}.get(record_type, -1)
            signed = main_amount * main_sign
            self._insert("transactionline", {
                "transaction": tid, "id": 0, "linesequencenumber": 0, "uniquekey": tid * 1000,
                "mainline": "T", "taxline": "F", "account": self._rid(r.get("account")), "memo": r.get("memo"),
                "foreignamount": _dec(signed), "debitforeignamount": _dec(main_amount) if signed > 0 else None,
                "creditforeignamount": _dec(main_amount) if signed < 0 else None, "entity": entity,
                "location": self._rid(r.get("location")), "subsidiary": self._rid(r.get("subsidiary"))})
        for sublist in ("item", "expense", "line"):
            for line in (r.get(sublist) or {}).get("items", []):
                seq += 1
                account = self._rid(line.get("account") or line.get("expenseaccount"))
                if record_type == "journalEntry":
                    debit, credit = line.get("debit"), line.get("credit")
                    amount = debit if debit is not None else -credit
                    quantity = None
                else:
                    amount = line["amount"] * detail_sign
                    quantity = line["quantity"] * detail_sign if line.get("quantity") is not None else None
                    debit = line["amount"] if amount > 0 else None
                    credit = line["amount"] if amount < 0 else None
                self._insert("transactionline", {
                    "transaction": tid, "id": int(line.get("line", seq)), "linesequencenumber": seq,
                    "uniquekey": tid * 1000 + seq, "mainline": "F", "taxline": "F", "account": account,
                    "expenseaccount": account, "memo": line.get("description", line.get("memo")),
                    "quantity": _dec(quantity), "rate": _dec(line.get("rate")), "foreignamount": _dec(amount),
                    "debitforeignamount": _dec(debit), "creditforeignamount": _dec(credit),
                    "tax1amt": _dec(line.get("tax1Amt")), "taxcode": self._rid(line.get("taxCode")),
                    "taxrate": _dec(line.get("taxRate1")), "department": self._rid(line.get("department")),
                    "location": self._rid(line.get("location")), "class": self._rid(line.get("class")),
                    "entity": self._rid(line.get("entity")) or entity, "subsidiary": self._rid(r.get("subsidiary"))})
        for apply in (r.get("apply") or {}).get("items", []):
            if not apply.get("apply"):
                continue
            doc_id = self._rid(apply.get("doc"))
            doc_type = next((t for t in ("invoice", "vendorBill") if self.store.get(t, str(doc_id))), "invoice")
            self._insert("previoustransactionlinelink", {
                "previousdoc": doc_id, "previousline": 0, "previoustype": TRAN_TYPE_CODES[doc_type],
                "nextdoc": tid, "nextline": 0, "nexttype": code, "linktype": "Payment",
                "foreignamount": _dec(apply.get("amount")), "linkdate": r.get("tranDate")})

    # -- queries ------------------------------------------------------------------------------------------
    def query(self, sql: str, limit: int, offset: int) -> tuple[list[dict[str, str]], int]:
        """Run a SuiteQL SELECT; returns the page of rows (lowercase keys, string values) and the total."""
        translated, date_positions = translate(sql, self.store)
        self.conn.set_authorizer(_authorizer)
        try:
            total_row = self.conn.execute(f"SELECT COUNT(*) FROM ({translated})").fetchone()
            total = min(int(total_row[0]), MAX_ROWS)
            page_size = max(0, min(limit, total - offset))
            cursor = self.conn.execute(f"SELECT * FROM ({translated}) LIMIT ? OFFSET ?", (page_size, offset))
            names = [d[0].lower() for d in cursor.description]
            rows = cursor.fetchall()
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            raise SuiteQLError(_describe_error(str(exc))) from None
        finally:
            self.conn.set_authorizer(None)
        out = []
        for row in rows:
            item: dict[str, str] = {}
            for index, (name, value) in enumerate(zip(names, row, strict=True)):
                if value is None:
                    continue  # SuiteQL leaves out columns with no value
                text = str(value)
                is_date = index in date_positions if date_positions is not None else name in DATE_COLUMNS
                if is_date and re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", text):
                    text = us_date(text)
                item[name] = text
            out.append(item)
        return out, total


def _describe_error(message: str) -> str:
    match = re.search(r"no such table: (\S+)", message)
    if match:
        return f"Record '{match.group(1).strip(chr(34))}' was not found."
    match = re.search(r"no such column: (\S+)", message)
    if match:
        return f"Field '{match.group(1)}' was not found."
    return "Invalid or unsupported search."


def _authorizer(action: int, arg1: Any, arg2: Any, db: Any, source: Any) -> int:
    if action == sqlite3.SQLITE_READ:
        return sqlite3.SQLITE_OK if str(arg1).lower() in TABLES else sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


_TOKEN = re.compile(r"""\s+|--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"[^"]*"
                        |[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*
                        |\d+(?:\.\d+)?|<>|!=|<=|>=|\|\||[(),=<>*+\-/.;:]""", re.VERBOSE)


def tokenize(sql: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if not m:
            raise SuiteQLError(f"Invalid search query: unexpected character {sql[pos]!r} at position {pos}.")
        token = m.group(0)
        tokens.append(" " if token.startswith(("--", "/*")) else token)  # comments become blanks
        pos = m.end()
    return tokens


def translate(sql: str, store: Store) -> tuple[str, set[int] | None]:
    """SuiteQL → SQLite: validate SELECT-only, quote identifiers SQLite reserves, map Oracle idioms.

    Returns the statement and the positions of the SELECT list that are bare date columns (None when
    the list has `*`, in which case date columns are recognised by name).
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise SuiteQLError("Invalid search query: the query is empty.")
    tokens = [t for t in tokenize(text)]
    words = [t for t in tokens if not t.isspace()]
    if not words or words[0].upper() != "SELECT":
        raise SuiteQLError("Invalid search query: only SELECT statements are supported.")
    if ";" in words or any(_FORBIDDEN.fullmatch(w) for w in words):
        raise SuiteQLError("Invalid search query: only a single SELECT statement is supported.")
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        upper = tok.upper()
        nxt = _next_word(tokens, i)
        if upper in ("DATE", "TIMESTAMP") and nxt is not None and tokens[nxt].startswith("'"):
            out.append(f"to_date({tokens[nxt]})")
            i = nxt + 1
            continue
        if upper in ("SYSDATE", "CURRENT_DATE", "CURRENT_TIMESTAMP", "SYSTIMESTAMP"):
            now = datetime.fromtimestamp(store.now(), tz=UTC)
            out.append(f"'{now.strftime('%Y-%m-%d %H:%M:%S')}'")
            i += 1
            continue
        if upper.startswith("BUILTIN."):
            raise SuiteQLError(f"Invalid search query: {tok} is not supported by this sandbox.")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$.]*", tok):
            parts = tok.split(".")
            out.append(".".join(f'"{p.lower()}"' if p.lower() in ("transaction", "class") else p for p in parts))
            i += 1
            continue
        if tok.startswith('"') and tok.endswith('"'):
            out.append(tok.lower())
            i += 1
            continue
        out.append(tok)
        i += 1
    translated = "".join(out)
    return translated, _date_positions(words)


def _next_word(tokens: list[str], i: int) -> int | None:
    j = i + 1
    while j < len(tokens) and tokens[j].isspace():
        j += 1
    return j if j < len(tokens) else None


def _date_positions(words: list[str]) -> set[int] | None:
    """Indexes of SELECT items that are bare date columns (`t.trandate`, `trandate AS d`)."""
    if words[0].upper() != "SELECT":
        return None
    items: list[list[str]] = [[]]
    depth = 0
    for word in words[1:]:
        upper = word.upper()
        if depth == 0 and upper == "FROM":
            break
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        if depth == 0 and word == ",":
            items.append([])
            continue
        items[-1].append(word)
    positions: set[int] = set()
    for index, item in enumerate(items):
        if item and item[0].upper() == "DISTINCT":
            item = item[1:]
        if not item:
            continue
        if item[0] == "*" or item[0].endswith(".*") or (len(item) >= 3 and item[1] == "." and item[2] == "*"):
            return None
        if item[0].split(".")[-1].lower() in DATE_COLUMNS and (
                len(item) == 1 or (len(item) == 2 and item[1].upper() != "(")
                or (len(item) == 3 and item[1].upper() == "AS")):
            positions.add(index)
    return positions
