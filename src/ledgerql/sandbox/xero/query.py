"""Xero's `where` and `order` parameters: a small parser for the subset clients use.

Supported: `==`, `!=`, `>=`, `<=`, `>`, `<`; `AND`/`&&`, `OR`/`||`, `NOT`/`!`, parentheses;
literals `"text"`, numbers, `true`/`false`/`null`, `Guid("...")`, `DateTime(y,m,d[,h,mi,s])`;
dotted fields (`Contact.ContactID`); `.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`.
Errors are raised as `QueryError` and answered as Xero's QueryParseException.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any]], Any]


class QueryError(Exception):
    pass


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|>=|<=|&&|\|\||[<>!(),.=])
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Syntax error (at index {pos})")
        kind = match.lastgroup or ""
        result.append((kind, match.group(kind)))
        pos = match.end()
    return result


def _norm(value: Any) -> Any:
    """Make record values and literals comparable: dates as UTC instants, GUIDs lower-cased."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


class _Guid(str):
    pass


class _Parser:
    def __init__(self, text: str, entity: str, fields: set[str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.entity = entity
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("Syntax error: unexpected end of expression")
        if value is not None and token[1].upper() != value.upper():
            raise QueryError(f"'{value}' expected (at index {self.pos})")
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[1].upper() in words

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise QueryError(f"Syntax error '{self.peek()[1]}' (at index {self.pos})")  # type: ignore[index]
        return predicate

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.at_word("OR", "||"):
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.at_word("AND", "&&"):
            self.take()
            right = self.parse_not()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def parse_not(self) -> Predicate:
        if self.at_word("NOT", "!"):
            self.take()
            inner = self.parse_not()
            return lambda r: not inner(r)
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        token = self.peek()
        if token is not None and token[1] == "(":
            self.take()
            inner = self.parse_or()
            self.take(")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is not None and token[1] in ("==", "!=", ">=", "<=", ">", "<", "="):
            op = self.take()[1]
            right = self.parse_operand()
            return _compare(left, op, right)
        return lambda r: bool(left(r))

    def parse_operand(self) -> Getter:
        kind, value = self.take()
        if kind == "str":
            text = _unquote(value)
            return lambda r: text
        if kind == "num":
            number = Decimal(value)
            return lambda r: number
        if kind != "id":
            raise QueryError(f"Expression expected (at index {self.pos - 1})")
        upper = value.upper()
        if upper == "TRUE":
            return lambda r: True
        if upper == "FALSE":
            return lambda r: False
        if upper == "NULL":
            return lambda r: None
        if value == "Guid":
            self.take("(")
            raw = _unquote(self.take()[1])
            self.take(")")
            try:
                parsed = _Guid(str(uuid.UUID(raw)))
            except ValueError as exc:
                raise QueryError(f"'{raw}' is not a valid Guid") from exc
            return lambda r: parsed
        if value == "DateTime":
            if self.peek() == ("op", "."):  # DateTime.Parse("...")
                self.take(".")
                self.take("Parse")
                self.take("(")
                raw = _unquote(self.take()[1])
                self.take(")")
                try:
                    moment = _norm(datetime.fromisoformat(raw))
                except ValueError as exc:
                    raise QueryError(f"'{raw}' is not a valid DateTime") from exc
                return lambda r: moment
            self.take("(")
            parts = [int(self.take()[1])]
            while self.peek() == ("op", ","):
                self.take(",")
                parts.append(int(self.take()[1]))
            self.take(")")
            try:
                moment = datetime(*parts[:6], tzinfo=UTC)  # type: ignore[arg-type,misc]
            except (TypeError, ValueError) as exc:
                raise QueryError("Invalid DateTime arguments") from exc
            return lambda r: moment
        return self.parse_field(value)

    def parse_field(self, first: str) -> Getter:
        if first not in self.fields:
            raise QueryError(f"No property or field '{first}' exists in type '{self.entity}'")
        path = [first]
        method: str | None = None
        argument = ""
        while self.peek() == ("op", "."):
            self.take(".")
            name = self.take()[1]
            if name in ("Contains", "StartsWith", "EndsWith", "ToUpper", "ToLower"):
                method = name
                self.take("(")
                if name in ("Contains", "StartsWith", "EndsWith"):
                    argument = _unquote(self.take()[1])
                self.take(")")
                break
            path.append(name)

        def get(record: dict[str, Any]) -> Any:
            value: Any = record
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if method is None:
                return value
            text = "" if value is None else str(value)
            if method == "Contains":
                return argument in text
            if method == "StartsWith":
                return text.startswith(argument)
            if method == "EndsWith":
                return text.endswith(argument)
            return text.upper() if method == "ToUpper" else text.lower()

        return get


def _unquote(token: str) -> str:
    if len(token) < 2 or token[0] != '"':
        raise QueryError(f"String literal expected, found {token}")
    return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _compare(left: Getter, op: str, right: Getter) -> Predicate:
    def check(record: dict[str, Any]) -> bool:
        a, b = _norm(left(record)), _norm(right(record))
        if isinstance(a, _Guid) or isinstance(b, _Guid):
            a = a.lower() if isinstance(a, str) else a
            b = b.lower() if isinstance(b, str) else b
        if isinstance(a, str) and isinstance(b, Decimal):
            try:
                a = Decimal(a)
            except ArithmeticError:
                return False
        if op in ("==", "="):
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if a is None or b is None:
            return False
        try:
            if op == ">=":
                return bool(a >= b)
            if op == "<=":
                return bool(a <= b)
            if op == ">":
                return bool(a > b)
            return bool(a < b)
        except TypeError:
            return False

    return check


def where_predicate(text: str, entity: str, fields: set[str]) -> Predicate:
    return _Parser(text, entity, fields).parse()


def order_key(text: str, entity: str, fields: set[str]) -> list[tuple[list[str], bool]]:
    """`InvoiceNumber ASC, Date DESC` → [(path, descending)]."""
    result: list[tuple[list[str], bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise QueryError(f"Syntax error in order '{part.strip()}'")
        path = words[0].split(".")
        if path[0] not in fields:
            raise QueryError(f"No property or field '{path[0]}' exists in type '{entity}'")
        result.append((path, len(words) == 2 and words[1].upper() == "DESC"))
    return result


def sort_records(records: list[dict[str, Any]], keys: list[tuple[list[str], bool]]) -> list[dict[str, Any]]:
    for path, descending in reversed(keys):
        def value(record: dict[str, Any], path: list[str] = path) -> tuple[int, Any]:
            current: Any = record
            for key in path:
                current = current.get(key) if isinstance(current, dict) else None
            current = _norm(current)
            if current is None:
                return (0, "")
            if isinstance(current, bool):
                return (1, int(current))
            if isinstance(current, datetime):
                return (2, current.timestamp())
            if isinstance(current, Decimal):
                return (3, current)
            return (4, str(current).lower())
        records = sorted(records, key=value, reverse=descending)
    return records
