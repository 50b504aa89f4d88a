"""The QBO query language subset: SELECT * | COUNT(*) FROM e [WHERE ...] [ORDERBY ...]
[STARTPOSITION n] [MAXRESULTS m], with =, <, >, <=, >=, IN (...), LIKE and AND."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerql.sandbox.quickbooks.render import QBOFault, parse_datetime
from ledgerql.sandbox.quickbooks.store import BY_PATH

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[(),*])
  | (?P<word>[A-Za-z_][\w.]*)
)""", re.VERBOSE)


def parse_error(detail: str) -> QBOFault:
    return QBOFault("Error parsing query", f"QueryParserError: {detail}", "4000")


def invalid_query(detail: str) -> QBOFault:
    return QBOFault("Invalid query", f"QueryValidationError: {detail}", "4001")


@dataclass
class Condition:
    field: str
    op: str  # = < > <= >= in like
    values: list[str]


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip().rstrip(";")
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise parse_error(f'Encountered " "{text[position:position + 10]}"" at line 1, column {position + 1}.')
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def entity_of(text: str) -> str | None:
    """The entity a query reads, for counting requests (no validation)."""
    match = re.search(r"\bfrom\s+([A-Za-z]+)", text, re.IGNORECASE)
    if not match:
        return None
    return BY_PATH.get(match.group(1).lower(), match.group(1))


def parse(text: str) -> Query:
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, str]:
        return tokens[position] if position < len(tokens) else ("eof", "")

    def take() -> tuple[str, str]:
        nonlocal position
        token = peek()
        if token[0] == "eof":
            raise parse_error("Encountered \"<EOF>\" at line 1.")
        position += 1
        return token

    def expect_word(word: str) -> None:
        kind, value = take()
        if kind != "word" or value.lower() != word:
            raise parse_error(f'Encountered " "{value}"" at line 1. Was expecting: "{word}"')

    def number() -> int:
        kind, value = take()
        if kind != "number" or "." in value:
            raise parse_error(f'Encountered " "{value}"" at line 1. Was expecting: <INTEGER>')
        return int(value)

    def literal() -> str:
        kind, value = take()
        if kind == "string":
            return value[1:-1].replace("\\'", "'").replace("''", "'")
        if kind == "number" or (kind == "word" and value.lower() in ("true", "false")):
            return value
        raise parse_error(f'Encountered " "{value}"" at line 1. Was expecting a value')

    expect_word("select")
    kind, value = take()
    count = False
    if kind == "punct" and value == "*":
        pass
    elif kind == "word" and value.lower() == "count":
        for expected in ("(", "*", ")"):
            token = take()
            if token[1] != expected:
                raise parse_error(f'Encountered " "{token[1]}"" at line 1. Was expecting: "{expected}"')
        count = True
    else:
        raise invalid_query("Only select * and count(*) are supported; projections are not")
    expect_word("from")
    kind, value = take()
    if kind != "word":
        raise parse_error(f'Encountered " "{value}"" at line 1. Was expecting: <IDENTIFIER>')
    entity = BY_PATH.get(value.lower())
    if entity is None:
        raise invalid_query(f"Entity not found : {value}")
    query = Query(entity=entity, count=count)

    if peek()[0] == "word" and peek()[1].lower() == "where":
        take()
        while True:
            kind, name = take()
            if kind != "word":
                raise parse_error(f'Encountered " "{name}"" at line 1. Was expecting: <IDENTIFIER>')
            kind, op = take()
            if kind == "op" and op != "!=":
                query.where.append(Condition(name, op, [literal()]))
            elif kind == "word" and op.lower() == "in":
                token = take()
                if token[1] != "(":
                    raise parse_error(f'Encountered " "{token[1]}"" at line 1. Was expecting: "("')
                values = [literal()]
                while peek()[1] == ",":
                    take()
                    values.append(literal())
                token = take()
                if token[1] != ")":
                    raise parse_error(f'Encountered " "{token[1]}"" at line 1. Was expecting: ")"')
                query.where.append(Condition(name, "in", values))
            elif kind == "word" and op.lower() == "like":
                pattern = literal()
                if "%" not in pattern:
                    raise invalid_query("LIKE needs a pattern with %")
                query.where.append(Condition(name, "like", [pattern]))
            else:
                raise parse_error(f'Encountered " "{op}"" at line 1. Was expecting one of: "=", "<", ">", '
                                  '"<=", ">=", "IN", "LIKE"')
            if peek()[0] == "word" and peek()[1].lower() == "and":
                take()
                continue
            if peek()[0] == "word" and peek()[1].lower() == "or":
                raise parse_error('Encountered " "OR"" at line 1. OR is not supported')
            break

    seen: set[str] = set()
    while peek()[0] != "eof":
        kind, value = take()
        keyword = value.lower()
        if kind != "word" or keyword in seen:
            raise parse_error(f'Encountered " "{value}"" at line 1.')
        seen.add(keyword)
        if keyword == "orderby" or (keyword == "order" and peek()[1].lower() == "by"):
            if keyword == "order":
                take()
            while True:
                kind, name = take()
                if kind != "word":
                    raise parse_error(f'Encountered " "{name}"" at line 1. Was expecting: <IDENTIFIER>')
                descending = False
                if peek()[0] == "word" and peek()[1].lower() in ("asc", "desc"):
                    descending = take()[1].lower() == "desc"
                query.order.append((name, descending))
                if peek()[1] != ",":
                    break
                take()
        elif keyword == "startposition":
            query.start = max(1, number())
        elif keyword == "maxresults":
            query.max_results = min(MAX_RESULTS, max(0, number()))
        else:
            raise parse_error(f'Encountered " "{value}"" at line 1. Was expecting one of: "ORDERBY", '
                              '"STARTPOSITION", "MAXRESULTS"')
    return query


# --- evaluation -----------------------------------------------------------------------------------


def _lookup(record: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return False, None
        key = next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return False, None
        value = value[key]
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return True, value


def _coerce(sample: Any, literal: str) -> Any:
    if isinstance(sample, bool):
        return literal.lower() == "true"
    if isinstance(sample, Decimal | int):
        return Decimal(literal)
    if isinstance(sample, datetime):
        return parse_datetime(literal)
    if isinstance(sample, date):
        return date.fromisoformat(literal[:10])
    return literal


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str) and value.isdigit():
        return (1, Decimal(value))
    if isinstance(value, Decimal | int):
        return (1, Decimal(value))
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, date):
        return (3, value.toordinal())
    return (4, str(value).lower())


def matches(record: dict[str, Any], condition: Condition) -> bool:
    found, value = _lookup(record, condition.field)
    if not found or value is None or isinstance(value, dict | list):
        return False
    try:
        literals = [_coerce(value, text) for text in condition.values]
    except (ValueError, InvalidOperation) as exc:
        raise invalid_query(f"Invalid value for {condition.field}: {condition.values[0]}") from exc
    if condition.op == "like":
        pattern = "^" + ".*".join(re.escape(part) for part in str(condition.values[0]).split("%")) + "$"
        return re.match(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    if condition.op == "in":
        return any(value == literal for literal in literals)
    literal = literals[0]
    if isinstance(value, str) and isinstance(literal, str) and condition.op == "=":
        return value.lower() == literal.lower() if condition.field.lower() != "id" else value == literal
    try:
        if condition.op == "=":
            return bool(value == literal)
        if condition.op == "<":
            return bool(value < literal)
        if condition.op == ">":
            return bool(value > literal)
        if condition.op == "<=":
            return bool(value <= literal)
        return bool(value >= literal)
    except TypeError:
        return False


def run(query: Query, records: list[dict[str, Any]], known: set[str]) -> dict[str, Any]:
    """Execute against the entity's records; the body of `QueryResponse`."""
    for condition in query.where:
        if condition.field.split(".")[0].lower() not in known:
            raise invalid_query(f"property '{condition.field}' is not queryable")
    for name, _ in query.order:
        if name.split(".")[0].lower() not in known:
            raise invalid_query(f"property '{name}' is not queryable")
    rows = [r for r in records if all(matches(r, c) for c in query.where)]
    if query.count:
        return {"totalCount": len(rows)}
    rows.sort(key=lambda r: _sort_key(r.get("Id")))
    for name, descending in reversed(query.order):
        def key(row: dict[str, Any], field_name: str = name) -> tuple[int, Any]:
            return _sort_key(_lookup(row, field_name)[1])
        rows.sort(key=key, reverse=descending)
    page = rows[query.start - 1:query.start - 1 + query.max_results]
    if not page:
        return {}
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}
