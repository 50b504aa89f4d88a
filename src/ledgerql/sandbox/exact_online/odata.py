"""The slice of OData v2 that Exact Online speaks: literals, `$filter`, `$orderby`, JSON rendering.

Records are held as plain dicts of native values (str GUIDs in lower case, `Decimal` amounts,
`int` numbers, timezone-aware `datetime` for every date) and rendered the Exact way: dates as
`/Date(<epoch ms>)/`, amounts as JSON numbers written straight from `Decimal` (never via float).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class ODataError(Exception):
    """A request Exact answers with its error envelope and a 4xx status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- values --------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_date(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({to_ms(value)})/"


def day_start(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def parse_datetime(text: str) -> datetime:
    """`/Date(ms)/`, `YYYY-MM-DD` or ISO date-time (naive means UTC, as Exact reads it)."""
    text = text.strip()
    match = _DATE_RE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ODataError(f"Unrecognized 'Edm.DateTime' literal '{text}'.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_guid(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise ODataError(f"Unrecognized 'Edm.Guid' literal 'guid'{text}''.") from None


def render(value: Any) -> str:
    """JSON text with Decimals as exact numbers and datetimes as `/Date(ms)/`."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" if text in ("-0", "-0.0") else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # never produced by the emulator; kept for safety
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return json.dumps(format_date(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__}")


# --- $filter -------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<typed>(?:guid|datetime|datetimeoffset|time)'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?[LlMmDdFf]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_/]*)
  | (?P<punct>[(),])
""", re.VERBOSE)

_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
Evaluator = Callable[[dict[str, Any]], Any]


class _Literal:
    def __init__(self, value: Any, kind: str) -> None:
        self.value = value
        self.kind = kind


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise ODataError(f"Syntax error at position {pos}.")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    return tokens


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        if op == "eq":
            return left is right
        if op == "ne":
            return left is not right
        return False
    a, b = _norm(left), _norm(right)
    try:
        if op == "eq":
            return bool(a == b)
        if op == "ne":
            return bool(a != b)
        if op == "gt":
            return bool(a > b)
        if op == "ge":
            return bool(a >= b)
        if op == "lt":
            return bool(a < b)
        return bool(a <= b)
    except TypeError:
        raise ODataError(f"Operator '{op}' incompatible with operand types.") from None


class FilterParser:
    """Recursive descent over `or` / `and` / `not` / comparisons / functions / literals."""

    FUNCTIONS = {"substringof", "startswith", "endswith", "trim", "tolower", "toupper", "length",
                 "year", "month", "day"}

    def __init__(self, text: str, fields: set[str], type_name: str) -> None:
        self.tokens = _tokenize(text)
        self.fields = fields
        self.type_name = type_name
        self.index = 0
        self.text = text

    def parse(self) -> Evaluator:
        if not self.tokens:
            raise ODataError("Syntax error: expression expected at position 0.")
        result = self._or()
        if self.index < len(self.tokens):
            raise ODataError(f"Syntax error at position {self.tokens[self.index][2]}.")
        return result

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token[0] == "name" and token[1] == word:
            self.index += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        token = self._peek()
        if not token or token[1] != text:
            position = token[2] if token else len(self.text)
            raise ODataError(f"Syntax error: ')' or operator expected at position {position}." if text == ")"
                             else f"Syntax error at position {position}.")
        self.index += 1

    def _or(self) -> Evaluator:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda record: any(bool(p(record)) for p in parts)

    def _and(self) -> Evaluator:
        parts = [self._not()]
        while self._keyword("and"):
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda record: all(bool(p(record)) for p in parts)

    def _not(self) -> Evaluator:
        if self._keyword("not"):
            inner = self._not()
            return lambda record: not inner(record)
        return self._comparison()

    def _comparison(self) -> Evaluator:
        left = self._primary()
        token = self._peek()
        if token and token[0] == "name" and token[1] in _COMPARE:
            self.index += 1
            right = self._primary()
            op = token[1]
            return lambda record: _compare(op, left(record), right(record))
        return left

    def _primary(self) -> Evaluator:
        token = self._peek()
        if token is None:
            raise ODataError(f"Syntax error: expression expected at position {len(self.text)}.")
        kind, text, position = token
        self.index += 1
        if text == "(":
            inner = self._or()
            self._expect(")")
            return inner
        if kind == "typed":
            prefix, _, rest = text.partition("'")
            raw = rest[:-1]
            value: Any = parse_guid(raw) if prefix == "guid" else parse_datetime(raw)
            return lambda record: value
        if kind == "string":
            string = text[1:-1].replace("''", "'")
            return lambda record: string
        if kind == "number":
            number_text = text.rstrip("LlMmDdFf")
            number: Any = int(number_text) if "." not in number_text else Decimal(number_text)
            return lambda record: number
        if kind == "name":
            if text in ("true", "false"):
                flag = text == "true"
                return lambda record: flag
            if text == "null":
                return lambda record: None
            following = self._peek()
            if text in self.FUNCTIONS and following and following[1] == "(":
                return self._function(text)
            if text not in self.fields:
                raise ODataError(f"No property '{text}' exists in type '{self.type_name}' at position {position}.")
            return lambda record: record.get(text)
        raise ODataError(f"Syntax error at position {position}.")

    def _function(self, name: str) -> Evaluator:
        self._expect("(")
        args = [self._or()]
        while self._peek() and self._peek()[1] == ",":  # type: ignore[index]
            self.index += 1
            args.append(self._or())
        self._expect(")")
        arity = {"substringof": 2, "startswith": 2, "endswith": 2}.get(name, 1)
        if len(args) != arity:
            raise ODataError(f"No function signature for the function with name '{name}' matches the "
                             f"specified arguments.")

        def text(value: Any) -> str:
            return "" if value is None else str(value)

        def call(record: dict[str, Any]) -> Any:
            values = [a(record) for a in args]
            if name == "substringof":
                return text(values[0]).lower() in text(values[1]).lower()
            if name == "startswith":
                return text(values[0]).lower().startswith(text(values[1]).lower())
            if name == "endswith":
                return text(values[0]).lower().endswith(text(values[1]).lower())
            if name == "trim":
                return None if values[0] is None else text(values[0]).strip()
            if name == "tolower":
                return None if values[0] is None else text(values[0]).lower()
            if name == "toupper":
                return None if values[0] is None else text(values[0]).upper()
            if name == "length":
                return len(text(values[0]))
            value = values[0]
            if not isinstance(value, datetime):
                return None
            return {"year": value.year, "month": value.month, "day": value.day}[name]

        return call


def parse_filter(text: str, fields: set[str], type_name: str) -> Evaluator:
    return FilterParser(text, fields, type_name).parse()


def parse_orderby(text: str, fields: set[str], type_name: str) -> list[tuple[str, bool]]:
    """`EntryDate desc,EntryNumber` → [("EntryDate", True), ("EntryNumber", False)]."""
    result = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby at '{part.strip()}'.")
        if words[0] not in fields:
            raise ODataError(f"No property '{words[0]}' exists in type '{type_name}'.")
        result.append((words[0], len(words) == 2 and words[1] == "desc"))
    return result


def sort_records(records: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    def key_for(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
        def key(record: dict[str, Any]) -> tuple[int, Any]:
            value = record.get(name)
            if value is None:
                return (0, "")
            norm = _norm(value)
            return (1, norm)
        return key

    result = list(records)
    for name, descending in reversed(order):
        result.sort(key=key_for(name), reverse=descending)
    return result


def parse_int_option(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ODataError(f"Invalid value '{text}' for the {name} query option: an integer is expected.") \
            from None
    if value < 0:
        raise ODataError(f"Invalid value '{text}' for the {name} query option: it must not be negative.")
    return value


def decimal_of(value: Any, field: str) -> Decimal:
    """A JSON number (parsed as Decimal) or numeric string as Decimal; anything else is a 400."""
    if isinstance(value, bool) or value is None:
        raise ODataError(f"Invalid value for property '{field}': a number is expected.")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise ODataError(f"Invalid value for property '{field}': a number is expected.")
