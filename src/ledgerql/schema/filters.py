"""List filter inputs. Every list takes at least `updatedSince`; documents add their obvious ones."""

from datetime import UTC, date, datetime

import strawberry

import ledgerql.schema.enums  # noqa: F401  (registers the model's enums with strawberry first)
from ledgerql.connectors.base import ListFilter
from ledgerql.model.enums import DocumentStatus
from ledgerql.model.errors import ErrorCode, LedgerQLError


@strawberry.input(description="Filters for reference data.")
class ReferenceFilter:
    updated_since: datetime | None = strawberry.UNSET


@strawberry.input(description="Filters for dated records.")
class DatedFilter(ReferenceFilter):
    date_from: date | None = strawberry.UNSET
    date_to: date | None = strawberry.UNSET


@strawberry.input
class CustomerDocumentFilter(DatedFilter):
    customer_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class SupplierDocumentFilter(DatedFilter):
    supplier_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class InvoiceFilter(DatedFilter):
    status: DocumentStatus | None = strawberry.UNSET
    customer_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class BillFilter(DatedFilter):
    status: DocumentStatus | None = strawberry.UNSET
    supplier_id: strawberry.ID | None = strawberry.UNSET


AnyFilter = (ReferenceFilter | DatedFilter | InvoiceFilter | BillFilter | CustomerDocumentFilter
             | SupplierDocumentFilter)


def to_list_filter(value: AnyFilter | None) -> ListFilter:
    """The unified filter; instants without a zone are taken as UTC. Bad ranges are BAD_USER_INPUT."""
    if value is None:
        return ListFilter()

    def get(name: str) -> object:
        item = getattr(value, name, None)
        return None if item is strawberry.UNSET else item

    since = get("updated_since")
    if isinstance(since, datetime) and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    date_from, date_to = get("date_from"), get("date_to")
    if isinstance(date_from, date) and isinstance(date_to, date) and date_from > date_to:
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "`dateFrom` is after `dateTo`", argument="filter")
    status = get("status")
    customer_id, supplier_id = get("customer_id"), get("supplier_id")
    return ListFilter(
        updated_since=since if isinstance(since, datetime) else None,
        status=status.value if isinstance(status, DocumentStatus) else None,
        date_from=date_from if isinstance(date_from, date) else None,
        date_to=date_to if isinstance(date_to, date) else None,
        customer_id=str(customer_id) if customer_id else None,
        supplier_id=str(supplier_id) if supplier_id else None,
    )
