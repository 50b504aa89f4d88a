"""Domain rules shared by the gateway and the sandboxes: rounding, line tax, document status."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ledgerql.model.enums import DocumentStatus

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_tax(net: Decimal, rate: Decimal) -> Decimal:
    """Tax of one line: net × rate %, rounded half-up to the cent."""
    return money(net * rate / Decimal(100))


def derived_status(status: DocumentStatus, total: Decimal, balance: Decimal) -> DocumentStatus:
    """Paid and partly paid follow from the balance, not from a flag."""
    if status in (DocumentStatus.DRAFT, DocumentStatus.VOIDED):
        return status
    if balance <= 0:
        return DocumentStatus.PAID
    if balance < total:
        return DocumentStatus.PARTIALLY_PAID
    return DocumentStatus.AUTHORISED
