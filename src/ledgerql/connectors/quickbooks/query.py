"""Statements of QBO's query language: `select * | count(*) from E [where ...] [orderby ...]
[startposition n] [maxresults m]`. Only `AND`, `=`, `<`, `>`, `<=`, `>=`, `in` and `like` exist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime


def quote(value: str | date | datetime | bool) -> str:
    """A literal: strings in single quotes (a quote inside escaped with a backslash)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return "'" + moment.astimezone(UTC).isoformat(timespec="seconds") + "'"
    if isinstance(value, date):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def ids_in(ids: Iterable[str]) -> str:
    return "Id in (" + ", ".join(quote(i) for i in ids) + ")"


def select(entity: str, where: Sequence[str] = (), *, start: int | None = None, size: int | None = None,
           order: str | None = "Id", count: bool = False) -> str:
    parts = [f"select {'count(*)' if count else '*'} from {entity}"]
    if where:
        parts.append("where " + " and ".join(where))
    if not count:
        if order:
            parts.append(f"orderby {order}")
        if start is not None:
            parts.append(f"startposition {start}")
        if size is not None:
            parts.append(f"maxresults {size}")
    return " ".join(parts)
