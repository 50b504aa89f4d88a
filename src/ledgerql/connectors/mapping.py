"""The declarative part of a connector: `providers/<name>.yaml`, validated when loaded.

A mapping says, as data, what a provider offers (per resource: its entity, which operations are
native, served by a fallback, or unsupported), how it pages, how many ids fit one batch call, its
rate limits and timeouts, how long reference data may be cached, and how the provider's simple
fields map onto unified ones. What data cannot say (line shapes, allocations, status rules) lives
in that provider's connector module.

Field specs are either a dotted path (`"CurrencyRef.value"`) or a mapping with a `path`, a `type`
that converts the value (see `CONVERTERS`) and an optional `map` of provider value → unified value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerql.model.enums import Operation, Provider, Resource, Support

PROVIDERS_DIR = Path(__file__).resolve().parents[3] / "providers"

PROVIDER_FILES = {
    Provider.QUICKBOOKS: "quickbooks.yaml",
    Provider.XERO: "xero.yaml",
    Provider.EXACT_ONLINE: "exact_online.yaml",
    Provider.NETSUITE: "netsuite.yaml",
}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    type: str = "str"
    map: dict[str, str] | None = None
    default: Any = None

    @field_validator("type")
    @classmethod
    def known_type(cls, value: str) -> str:
        if value not in CONVERTERS:
            raise ValueError(f"unknown field type {value!r}; known: {', '.join(sorted(CONVERTERS))}")
        return value


class ResourceMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity: str | None = None  # the provider's name for it ("Invoice", "SalesEntries", ...)
    path: str | None = None  # endpoint path relative to the API root, where one is needed
    operations: dict[Operation, Support] = Field(default_factory=dict)
    fallback: str | None = None  # what stands in, when any operation is FALLBACK
    fields: dict[str, FieldSpec] = Field(default_factory=dict)  # a bare string is the path
    filter: dict[str, Any] = Field(default_factory=dict)  # fixed upstream filter (e.g. Type == ACCPAY)
    cache_ttl: int | None = None  # seconds; reference data only
    page_size: int | None = None  # overrides the provider's page size for this resource
    # What a record shows of the records it references, joined in by the provider as it answers
    # (`entities.Shown`): reference field → {field of the referenced record: path in this record}.
    # `line_items.<reference>` paths are read in each line.
    shown: dict[str, dict[str, FieldSpec]] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def bare_paths(cls, value: Any) -> Any:
        return _spec_dicts(value)

    @field_validator("shown", mode="before")
    @classmethod
    def shown_paths(cls, value: Any) -> Any:
        return {reference: _spec_dicts(fields) for reference, fields in value.items()} \
            if isinstance(value, dict) else value

    @field_validator("shown")
    @classmethod
    def references_only(cls, value: dict[str, dict[str, FieldSpec]]) -> dict[str, dict[str, FieldSpec]]:
        for reference in value:
            if reference.removeprefix(LINES) not in SHOWABLE:
                raise ValueError(f"shown: {reference!r} is not one of {', '.join(sorted(SHOWABLE))} "
                                 f"(a line's with the prefix {LINES!r})")
        return value

    def field_specs(self) -> dict[str, FieldSpec]:
        return self.fields

    def shown_in(self, row: dict[str, Any], *, lines: bool = False) -> dict[str, dict[str, Any]]:
        """What `row` (a record, or with `lines` one of its lines) shows of the records it references.
        A reference with any of its shown fields empty is left out: the record is loaded instead."""
        result: dict[str, dict[str, Any]] = {}
        for reference, fields in self.shown.items():
            if reference.startswith(LINES) != lines:
                continue
            values = extract(row, fields)
            if all(v is not None for v in values.values()):
                result[reference.removeprefix(LINES)] = values
        return result

    def support(self, operation: Operation) -> Support:
        return self.operations.get(operation, Support.UNSUPPORTED)


LINES = "line_items."
# The references whose resolvers consult what a record shows (schema/types.py: `load_one`).
SHOWABLE = frozenset({"customer_id", "supplier_id", "account_id", "tax_rate_id"})


def _spec_dicts(fields: Any) -> Any:
    """`name: Path` in a mapping is short for `name: {path: Path}`."""
    if not isinstance(fields, dict):
        return fields
    return {name: {"path": spec} if isinstance(spec, str) else spec for name, spec in fields.items()}


class PagingMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Fixed-size providers (Exact: 60) cannot be asked for another size: `fixed: true`.
    default_size: int = 100
    max_size: int = 1000
    fixed: bool = False


class RateLimitMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_second: int | None = None
    per_minute: int | None = None
    per_day: int | None = None
    concurrent: int | None = None


class ProviderMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    display_name: str
    paging: PagingMapping = Field(default_factory=PagingMapping)
    batch_size: int = 50  # ids per batch-by-ids call
    timeout_seconds: float = 30
    rate_limits: RateLimitMapping = Field(default_factory=RateLimitMapping)
    quirks: dict[str, Any] = Field(default_factory=dict)  # provider-specific settings, read by its connector
    resources: dict[Resource, ResourceMapping]

    def resource(self, resource: Resource) -> ResourceMapping:
        return self.resources.get(resource) or ResourceMapping()

    def support(self, resource: Resource, operation: Operation) -> Support:
        return self.resource(resource).support(operation)

    def page_size(self, resource: Resource, requested: int) -> int:
        override = self.resource(resource).page_size
        if override:
            return override
        if self.paging.fixed:
            return self.paging.default_size
        return max(1, min(requested, self.paging.max_size))


@cache
def load_mapping(provider: Provider, directory: Path | None = None) -> ProviderMapping:
    path = (directory or PROVIDERS_DIR) / PROVIDER_FILES[provider]
    data = yaml.safe_load(path.read_text())
    return ProviderMapping.model_validate(data)


# --- field extraction ----------------------------------------------------------------------------

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def _ms_date(value: Any) -> datetime | None:
    """`/Date(1518685950940+0000)/` (Xero, Exact) → aware datetime in UTC."""
    if value in (None, ""):
        return None
    match = _MS_DATE.fullmatch(str(value))
    if not match:
        raise ValueError(f"not a /Date(ms)/ value: {value!r}")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))


def _iso_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    text = str(value)
    if "/" in text and not text.startswith("/Date"):  # NetSuite SuiteQL: M/D/YYYY
        month, day, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text[:10])


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, float):
        # Floats must never reach here: parse provider JSON with parse_float=Decimal.
        raise TypeError("float amount: parse the provider's JSON with parse_float=Decimal")
    return Decimal(str(value))


def _boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    return bool(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: None if v is None else str(v),
    "str_stripped": lambda v: None if v is None else str(v).strip(),
    "decimal": _decimal,
    "int": lambda v: None if v in (None, "") else int(v),
    "bool": _boolean,
    "date": _iso_date,
    "datetime": _iso_datetime,
    "ms_date": lambda v: None if (d := _ms_date(v)) is None else d.date(),
    "ms_datetime": _ms_date,
    "raw": lambda v: v,
}


def dig(record: Any, path: str) -> Any:
    """Follow a dotted path through dicts (and list indexes such as `Lines.0.Amount`)."""
    value = record
    for part in path.split("."):
        if value is None:
            return None
        if isinstance(value, list):
            index = int(part)
            value = value[index] if index < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def extract(record: dict[str, Any], specs: dict[str, FieldSpec]) -> dict[str, Any]:
    """Unified field values from a provider record, as the mapping declares them."""
    result: dict[str, Any] = {}
    for name, spec in specs.items():
        value = dig(record, spec.path)
        if spec.map is not None and value is not None:
            value = spec.map.get(str(value), spec.map.get("*", value))
        value = CONVERTERS[spec.type](value)
        result[name] = spec.default if value is None else value
    return result


def coverage_table(directory: Path | None = None) -> str:
    """The README's coverage table, generated from the four mappings (every operation per resource)."""
    providers = list(PROVIDER_FILES)
    mappings = [load_mapping(p, directory) for p in providers]
    marks = {Support.NATIVE: "N", Support.FALLBACK: "F", Support.UNSUPPORTED: "–"}
    header = "| resource | " + " | ".join(m.display_name for m in mappings) + " |"
    lines = [header, "|---" * (len(providers) + 1) + "|"]
    for resource in Resource:
        cells = []
        for mapping in mappings:
            ops = mapping.resource(resource)
            cells.append(" ".join(f"{op.value} {marks[ops.support(op)]}" for op in
                                  (Operation.LIST, Operation.GET, Operation.CREATE, Operation.UPDATE,
                                   Operation.VOID, Operation.DELETE)))
        lines.append(f"| {resource.value} | " + " | ".join(cells) + " |")
    notes = sorted({f"- {m.display_name}, {r.value}: {rm.fallback}" for m in mappings
                    for r, rm in m.resources.items() if rm.fallback})
    return "\n".join(lines) + ("\n\nFallbacks:\n" + "\n".join(notes) if notes else "")
