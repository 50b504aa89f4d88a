"""Xero's wire details: Decimal-exact JSON, `/Date(ms+0000)/` dates, GUIDs, error bodies."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.responses import Response

CENT = Decimal("0.01")
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
PROVIDER_NAME = "LedgerQL Sandbox"


class XeroJSON(Exception):
    """A request body that is not JSON (answered as Xero's PostDataInvalidException)."""


def guid(tenant: str, kind: str, key: str) -> str:
    """A deterministic GUID for a record loaded from the books."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledgerql-xero/{tenant}/{kind}/{key}"))


def new_guid() -> str:
    return str(uuid.uuid4())


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(value) == 36


def epoch_ms(value: date | datetime) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(value, time(0, 0), tzinfo=UTC)
    return int(moment.timestamp() * 1000) if moment.microsecond else int(moment.timestamp()) * 1000


def ms_date(value: date | datetime) -> str:
    """`/Date(1539993600000+0000)/`, as Xero writes business dates and UpdatedDateUTC."""
    return f"/Date({epoch_ms(value)}+0000)/"


def date_string(value: date) -> str:
    return f"{value.isoformat()}T00:00:00"


def utc_from_epoch(seconds: float) -> datetime:
    """An instant of the emulator clock, truncated to whole milliseconds as Xero stores them."""
    return datetime.fromtimestamp(int(seconds * 1000) / 1000, tz=UTC)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):  # never produced by the emulator; kept for safety
        out.append(repr(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, datetime | date):
        out.append(f'"{ms_date(value)}"')
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if key.startswith("_"):
                continue
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot render {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON text with Decimals written digit for digit (never through float)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


class XeroResponse(Response):
    media_type = "application/json; charset=utf-8"

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(dumps(content), status_code=status_code, headers=headers)


def parse_body(body: bytes) -> Any:
    if not body.strip():
        raise XeroJSON("The request body is empty")
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise XeroJSON(str(exc)) from exc


def parse_date(value: Any) -> date | None:
    """`YYYY-MM-DD`, an ISO date-time, or `/Date(ms+0000)/` as Xero accepts them in requests."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a valid date")
    text = value.strip()
    match = _MS_DATE.fullmatch(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid date") from exc


def parse_instant(value: str) -> datetime | None:
    """An If-Modified-Since value: ISO 8601 (offset or naive UTC) or RFC 1123. None if unreadable."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def decimal_of(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"'{value}' is not a number") from exc
    raise ValueError(f"'{value}' is not a number")


def money(value: Decimal) -> Decimal:
    from decimal import ROUND_HALF_UP

    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def envelope(now: datetime, collection: str, items: list[Any],
             pagination: dict[str, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"Id": new_guid(), "Status": "OK", "ProviderName": PROVIDER_NAME,
                            "DateTimeUTC": f"/Date({epoch_ms(now)})/"}
    if pagination is not None:
        data["pagination"] = pagination
    data[collection] = items
    return data


def api_exception(number: int, kind: str, message: str, elements: list[Any] | None = None,
                  status_code: int = 400) -> XeroResponse:
    body: dict[str, Any] = {"ErrorNumber": number, "Type": kind, "Message": message}
    if elements is not None:
        body["Elements"] = elements
    return XeroResponse(body, status_code=status_code)


def validation_error(elements: list[Any]) -> XeroResponse:
    return api_exception(10, "ValidationException", "A validation exception occurred", elements)


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> XeroResponse:
    """The problem-details body Xero's gateway answers 401/403/404/429 with."""
    return XeroResponse({"Type": None, "Title": title, "Status": status, "Detail": detail,
                         "Instance": new_guid(), "Extensions": {}}, status_code=status, headers=headers)
