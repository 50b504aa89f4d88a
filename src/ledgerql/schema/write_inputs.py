"""Input pieces shared by the create and the change mutations."""

import dataclasses
from decimal import Decimal
from typing import Any

import strawberry

from ledgerql.model.enums import PostingType


@strawberry.input
class LineItemInput:
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_amount: Decimal | None = strawberry.field(default=None, description="Net amount; quantity × unitPrice "
                                                                              "when omitted.")
    account_id: strawberry.ID | None = None
    tax_rate_id: strawberry.ID | None = None
    tracking_category_ids: list[strawberry.ID] | None = None


@strawberry.input
class JournalLineInput:
    account_id: strawberry.ID
    type: PostingType
    amount: Decimal
    description: str | None = None
    tracking_category_ids: list[strawberry.ID] | None = None


def to_data(value: Any) -> Any:
    """A strawberry input as plain data: snake_case keys, ids as str, allocation ids as `document_id`."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {}
        for item in dataclasses.fields(value):
            raw = getattr(value, item.name)
            key = "document_id" if item.name in ("invoice_id", "bill_id") else item.name
            data[key] = to_data(raw)
        return data
    if isinstance(value, list):
        return [to_data(v) for v in value]
    if value is strawberry.UNSET:
        return None
    if isinstance(value, str) and type(value) is not str:  # strawberry.ID
        return str(value)
    return value
