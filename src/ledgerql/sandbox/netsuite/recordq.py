"""The `q` filter of record collections: `field OPERATOR value` joined by AND / OR, with parentheses.

Operators (Oracle "Record Collection Filtering"): IS, IS_NOT, EQUAL, EQUAL_NOT, GREATER, GREATER_OR_EQUAL,
LESS, LESS_OR_EQUAL (and their _NOT forms), ANY_OF, ANY_OF_NOT, BETWEEN, BETWEEN_NOT, CONTAIN, CONTAIN_NOT,
START_WITH, START_WITH_NOT, END_WITH, END_WITH_NOT, AFTER, BEFORE, ON, ON_OR_AFTER, ON_OR_BEFORE (+_NOT),
EMPTY, EMPTY_NOT. Date literals: `1/15/2025`, `1/15/2025 10:30 am`, `2025-01-15`, or an ISO instant.
A date-only literal compares whole days; a literal with a time compares to the second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerql.sandbox.netsuite.wire import NsError, parse_instant, parse_user_datetime

Predicate = Callable[[dict[str, Any]], bool]
DATE_FIELDS = {"tranDate", "dueDate", "lastModifiedDate", "createdDate", "dateCreated"}
_TOKEN = re.compile(r'\s+|"(?:[^"\\]|\\.)*"|\(|\)|,|[^\s(),"]+')
_UNARY = {"EMPTY", "EMPTY_NOT"}


def _bad(detail: str) -> NsError:
    return NsError(400, f"Invalid search query. {detail}", "INVALID_PARAMETER", errorQueryParam="q")


def parse_q(text: str) -> Predicate:
    tokens = [t for t in _TOKEN.findall(text) if not t.isspace()]
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        raise _bad(f"Unable to parse '{text}'.")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise _bad("Unexpected end of the query.")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while (peek() or "").upper() == "OR":
            take()
            right = term()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while (peek() or "").upper() == "AND":
            take()
            right = factor()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def factor() -> Predicate:
        if peek() == "(":
            take()
            inner = expr()
            if take() != ")":
                raise _bad("Missing closing parenthesis.")
            return inner
        field = take()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", field):
            raise _bad(f"Unexpected token '{field}'.")
        op = take().upper()
        if op in _UNARY:
            return condition(field, op, [])
        values = [value(take())]
        while peek() == ",":
            take()
            values.append(value(take()))
        if op in ("BETWEEN", "BETWEEN_NOT", "WITHIN", "WITHIN_NOT") and (peek() or "").upper() == "AND" \
                and len(values) == 1:
            take()
            values.append(value(take()))
        return condition(field, op, values)

    result = expr()
    if pos != len(tokens):
        raise _bad(f"Unexpected token '{tokens[pos]}'.")
    return result


def value(token: str) -> str:
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        return token[1:-1].replace('\\"', '"')
    if token in ("(", ")", ","):
        raise _bad(f"Unexpected token '{token}'.")
    return token


def field_value(record: dict[str, Any], field: str) -> Any:
    current: Any = record
    for part in field.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    if isinstance(current, dict) and "id" in current:
        return current["id"]
    return current


def condition(field: str, op: str, values: list[str]) -> Predicate:
    negate = op.endswith("_NOT") and op not in ("EMPTY_NOT",)
    base = op[:-4] if negate else op
    if base in ("AFTER", "BEFORE", "ON", "ON_OR_AFTER", "ON_OR_BEFORE") or (
            field in DATE_FIELDS and base in ("BETWEEN", "WITHIN")):
        predicate = _date_condition(field, base, values)
    elif base in ("EMPTY", "EMPTY_NOT"):
        def predicate(r: dict[str, Any]) -> bool:
            empty = field_value(r, field) in (None, "", [])
            return empty if base == "EMPTY" else not empty
    elif base in ("EQUAL", "GREATER", "GREATER_OR_EQUAL", "LESS", "LESS_OR_EQUAL", "BETWEEN", "WITHIN"):
        predicate = _number_condition(field, base, values)
    elif base in ("IS", "ANY_OF", "CONTAIN", "START_WITH", "END_WITH"):
        predicate = _string_condition(field, base, values)
    else:
        raise _bad(f"Unknown operator '{op}'.")
    if negate:
        return lambda r: not predicate(r)
    return predicate


def _string_condition(field: str, op: str, values: list[str]) -> Predicate:
    def text(r: dict[str, Any]) -> str | None:
        v = field_value(r, field)
        if isinstance(v, bool):
            return "true" if v else "false"
        return None if v is None else str(v)

    if op in ("IS", "ANY_OF"):
        wanted = {v.lower() for v in values}
        return lambda r: (text(r) or "").lower() in wanted
    needle = values[0].lower()
    if op == "CONTAIN":
        return lambda r: needle in (text(r) or "").lower()
    if op == "START_WITH":
        return lambda r: (text(r) or "").lower().startswith(needle)
    return lambda r: (text(r) or "").lower().endswith(needle)


def _number_condition(field: str, op: str, values: list[str]) -> Predicate:
    try:
        numbers = [Decimal(v) for v in values]
    except InvalidOperation:
        raise _bad(f"Invalid numeric value for {field}.") from None

    def num(r: dict[str, Any]) -> Decimal | None:
        v = field_value(r, field)
        try:
            return None if v is None or isinstance(v, bool) else Decimal(str(v))
        except InvalidOperation:
            return None

    def check(r: dict[str, Any]) -> bool:
        v = num(r)
        if v is None:
            return False
        if op == "EQUAL":
            return v in numbers
        if op == "GREATER":
            return v > numbers[0]
        if op == "GREATER_OR_EQUAL":
            return v >= numbers[0]
        if op == "LESS":
            return v < numbers[0]
        if op == "LESS_OR_EQUAL":
            return v <= numbers[0]
        if len(numbers) < 2:
            raise _bad(f"{op} needs two values.")
        return numbers[0] <= v <= numbers[1]

    return check


def _instant_of(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return parse_instant(value)


def _date_condition(field: str, op: str, values: list[str]) -> Predicate:
    try:
        parsed = [parse_user_datetime(v) for v in values]
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if not parsed:
        raise _bad(f"Missing value for {field}.")
    instant, with_time = parsed[0]

    def key(moment: datetime, timed: bool) -> tuple[Any, ...]:
        return (moment,) if timed else (moment.date(),)

    def check(r: dict[str, Any]) -> bool:
        v = _instant_of(field_value(r, field))
        if v is None:
            return False
        left = v if with_time else v.date()
        right: Any = instant if with_time else instant.date()
        if op == "ON":
            return bool(left == right)
        if op == "AFTER":
            return bool(left > right)
        if op == "BEFORE":
            return bool(left < right)
        if op == "ON_OR_AFTER":
            return bool(left >= right)
        if op == "ON_OR_BEFORE":
            return bool(left <= right)
        if len(parsed) < 2:
            raise _bad(f"{op} needs two values.")
        end, end_timed = parsed[1]
        return bool(key(instant, with_time)[0] <= (v if with_time else v.date())
                    and (v if end_timed else v.date()) <= key(end, end_timed)[0])

    return check
