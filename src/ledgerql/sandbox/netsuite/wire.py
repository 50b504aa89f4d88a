"""Small wire helpers for the NetSuite emulator: exact JSON, dates, error bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

ERROR_TYPES = {
    400: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
    401: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    403: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.4",
    404: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
    405: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6",
    409: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.10",
    415: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.16",
    429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
    500: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
    503: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4",
}
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 415: "Unsupported Media Type",
          429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

NS_JSON = "application/vnd.oracle.resource+json; type=singular; charset=UTF-8"
NS_COLLECTION = "application/vnd.oracle.resource+json; type=collection; charset=UTF-8"
NS_ERROR = "application/vnd.oracle.resource+json; type=error; charset=UTF-8"


def decimal_text(value: Decimal) -> str:
    """A Decimal as a JSON number literal, never in exponent form and never through float."""
    text = format(value, "f")
    return text if text not in ("-0", "-0.00") else text[1:]


def dumps(obj: Any) -> str:
    """JSON with Decimals written as exact numbers."""
    if isinstance(obj, Decimal):
        return decimal_text(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def json_response(obj: Any, status: int = 200, media_type: str = NS_JSON,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type=media_type, headers=headers)


def ns_error(status: int, detail: str, code: str, **extra: str) -> Response:
    """An `nsError` body, as every NetSuite REST error is shaped."""
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code}
    for key, value in extra.items():
        item[f"o:{key}"] = value
    body = {"type": ERROR_TYPES.get(status, ERROR_TYPES[400]), "title": TITLES.get(status, "Error"),
            "status": status, "o:errorDetails": [item]}
    return json_response(body, status, NS_ERROR)


class NsError(Exception):
    """Raised inside handlers; turned into an nsError response."""

    def __init__(self, status: int, detail: str, code: str, **extra: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.extra = extra

    def response(self) -> Response:
        return ns_error(self.status, self.detail, self.code, **self.extra)


def iso_instant(value: datetime | float) -> str:
    """NetSuite's date-time format: `2025-01-15T10:30:00Z` (UTC, whole seconds)."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, tz=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse NetSuite's date-time back (accepts `Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def us_date(value: str) -> str:
    """`2025-01-31` or `2025-01-31 10:00:00` → `1/31/2025` (SuiteQL's default date rendering)."""
    d = date.fromisoformat(value[:10])
    return f"{d.month}/{d.day}/{d.year}"


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([aApP][mM])?)?$")


def parse_user_datetime(text: str) -> tuple[datetime, bool]:
    """A date literal of a `q` filter: `1/15/2025`, `1/15/2025 10:30 am`, `2025-01-15` or ISO.

    Returns the instant (UTC) and whether the literal carried a time of day.
    """
    text = text.strip()
    m = _US_DATE.match(text)
    if m:
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if m.group(4) is None:
            return datetime(year, month, day, tzinfo=UTC), False
        hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
        meridian = (m.group(7) or "").lower()
        if meridian == "pm" and hour < 12:
            hour += 12
        if meridian == "am" and hour == 12:
            hour = 0
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC), True
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC), False
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"Invalid date value: {text}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), True


def to_decimal(value: Any, field: str) -> Decimal:
    """A request number as a Decimal (request JSON is parsed with parse_float=Decimal)."""
    if isinstance(value, bool) or value is None:
        raise NsError(400, f"Invalid Field Value {value} for the following field: {field}", "USER_ERROR",
                      errorPath=field)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise NsError(400, f"Invalid Field Value {value} for the following field: {field}", "USER_ERROR",
                      errorPath=field) from None
    if not result.is_finite() or abs(result.adjusted()) > 15:
        raise NsError(400, f"Invalid Field Value {value} for the following field: {field}", "USER_ERROR",
                      errorPath=field)
    return result
