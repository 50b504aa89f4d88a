"""QuickBooks Online wire details: JSON with exact decimals, QBO timestamps, the Fault envelope."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

# QBO stamps MetaData times and the envelope `time` with an offset (the recorded sandbox traffic
# shows Pacific time, -07:00 in summer). We follow US Pacific daylight-saving rules.
_PST = timezone(timedelta(hours=-8))
_PDT = timezone(timedelta(hours=-7))


def _pacific(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    year = utc.year
    march = date(year, 3, 8)
    november = date(year, 11, 1)
    start = datetime.combine(march + timedelta(days=(6 - march.weekday()) % 7), time(10), tzinfo=UTC)
    end = datetime.combine(november + timedelta(days=(6 - november.weekday()) % 7), time(9), tzinfo=UTC)
    return utc.astimezone(_PDT if start <= utc < end else _PST)


def format_datetime(moment: datetime) -> str:
    """`2020-09-29T05:58:07-07:00`: whole seconds with the local offset (MetaData times)."""
    return _pacific(moment).isoformat(timespec="seconds")


def format_time(instant: float) -> str:
    """The envelope's `time`: milliseconds with the local offset."""
    return _pacific(datetime.fromtimestamp(instant, UTC)).isoformat(timespec="milliseconds")


def stamp(instant: float) -> datetime:
    """An emulator-clock instant as a record timestamp (QBO keeps whole seconds)."""
    return datetime.fromtimestamp(int(instant), UTC)


def parse_datetime(text: str) -> datetime:
    """A datetime literal as clients send it (date, naive local time, `Z` or an offset)."""
    value = text.strip()
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), time(0))
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        # A naive literal is read in the company's (Pacific) time.
        parsed = parsed.replace(tzinfo=_pacific(parsed.replace(tzinfo=UTC)).tzinfo)
    return parsed


def render(value: Any) -> str:
    """JSON text where Decimals are written as numbers from their exact digits (never via float)."""
    parts: list[str] = []
    _render(value, parts)
    return "".join(parts)


def _render(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key)))
            out.append(":")
            _render(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _render(item, out)
        out.append("]")
    elif isinstance(value, bool) or value is None or isinstance(value, str | int):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        text = format(value, "f")
        out.append("0" if text in ("-0", "-0.0", "-0.00") else text)
    elif isinstance(value, datetime):
        out.append(json.dumps(format_datetime(value)))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, float):
        out.append(repr(value))
    else:
        raise TypeError(f"cannot render {type(value).__name__}")


# --- faults --------------------------------------------------------------------------------------


class QBOFault(Exception):
    """An error answered with QBO's `Fault` envelope (HTTP 400 unless told otherwise)."""

    def __init__(self, message: str, detail: str, code: str, element: str | None = None,
                 status: int = 400, kind: str = "ValidationFault") -> None:
        super().__init__(detail)
        self.message = message
        self.detail = detail
        self.code = code
        self.element = element
        self.status = status
        self.kind = kind

    def fault(self) -> dict[str, Any]:
        error: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            error["element"] = self.element
        return {"Error": [error], "type": self.kind}


def unsupported_property(name: str, entity: str) -> QBOFault:
    return QBOFault("Request has invalid or unsupported property",
                    f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.'
                    f'{entity}), not marked as ignorable specified is unsupported or invalid', "2010")


def malformed(detail: str) -> QBOFault:
    return QBOFault("Request has invalid or unsupported property",
                    f"Property Name:{detail} specified is unsupported or invalid", "2010")


def required(name: str) -> QBOFault:
    return QBOFault("Required param missing, need to supply the required value for the API",
                    f"Required parameter {name} is missing in the request", "2020", element=name)


def invalid_id(value: str) -> QBOFault:
    return QBOFault("Invalid ID", f"Id should be a valid number. Supplied value:{value}", "2030",
                    element="Id")


def invalid_reference(entity: str, value: str) -> QBOFault:
    return QBOFault("Invalid Reference Id",
                    f"Invalid Reference Id : {entity} assigned to this transaction has been deleted or "
                    f"does not exist (Id {value})", "2500")


def not_found() -> QBOFault:
    return QBOFault("Object Not Found",
                    "Object Not Found : Something you're trying to use has been made inactive. Check "
                    "the fields with accounts, customers, items, vendors or employees.", "610", element="")


def business(detail: str) -> QBOFault:
    return QBOFault("A business validation error has occurred while processing your request",
                    f"Business Validation Error: {detail}", "6000", element="")


def stale() -> QBOFault:
    return QBOFault("Stale Object Error",
                    "Stale Object Error : You and another user were working on this at the same time. "
                    "The other user finished before you did, so your work was not saved.", "5010", element="")


def unsupported_operation(path: str) -> QBOFault:
    return QBOFault("Unsupported Operation",
                    f"Operation Could not find resource for relative : {path} is not supported.", "500")
