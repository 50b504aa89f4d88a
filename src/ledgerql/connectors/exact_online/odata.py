"""OData v2 query text as Exact Online reads it: literals, `or` chains kept under the URL limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

# Purchase entries standing in for expenses are due on their entry date; bills are due later. OData v2 compares
# two properties of one entity like a property and a literal (MS-ODATA commonExpression on both sides).
EXPENSE_DATES = "DueDate eq EntryDate"
BILL_DATES = "DueDate ne EntryDate"


def guid(value: str) -> str:
    return f"guid'{value}'"


def string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def dt(value: datetime | date) -> str:
    """`datetime'2025-03-01T10:00:00'`; instants are sent in UTC (naive, as Exact reads them)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"datetime'{value.replace(microsecond=0).isoformat()}'"
    return f"datetime'{value.isoformat()}T00:00:00'"


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return string(str(value))


def all_of(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({p})" if " or " in p else p for p in present)


def any_of(field: str, values: Iterable[Any], render: Callable[[Any], str] = literal) -> str:
    return " or ".join(f"{field} eq {render(v)}" for v in values)


def encoded_length(text: str) -> int:
    return len(quote(text, safe=""))


def chunk_or(field: str, values: list[Any], render: Callable[[Any], str], budget: int) -> list[str]:
    """`field eq a or field eq b ...` expressions, each at most `budget` characters once URL-encoded."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for value in values:
        term = f"{field} eq {render(value)}"
        cost = encoded_length(term) + (encoded_length(" or ") if current else 0)
        if current and size + cost > budget:
            chunks.append(" or ".join(current))
            current, size = [], 0
            cost = encoded_length(term)
        current.append(term)
        size += cost
    if current:
        chunks.append(" or ".join(current))
    return chunks


def skiptoken_of(next_url: str | None) -> str | None:
    """The `$skiptoken` of a `__next` link (the state keeps only that, never the absolute URL)."""
    if not next_url:
        return None
    for name, value in parse_qsl(urlsplit(next_url).query, keep_blank_values=True):
        if name == "$skiptoken":
            return value
    return None
