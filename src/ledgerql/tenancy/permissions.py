"""What a user may do: read or write per resource family, and administration.

Permissions are strings `FAMILY:LEVEL` (e.g. `AR:WRITE`), so an access group stores them as a plain
list. WRITE includes READ. A user in several groups has the union of their permissions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from ledgerql.model.enums import Resource


class Family(enum.Enum):
    AR = "AR"  # receivables: customers, invoices, payments, credit notes
    AP = "AP"  # payables: suppliers, bills, bill payments, expenses, purchase orders
    LEDGER = "LEDGER"  # chart of accounts, tax, tracking, journals, bank accounts, company info
    REPORTS = "REPORTS"
    ADMIN = "ADMIN"  # users, API users, access groups, connections


class Level(enum.Enum):
    READ = "READ"
    WRITE = "WRITE"


FAMILY_OF: dict[Resource, Family] = {
    Resource.CUSTOMERS: Family.AR,
    Resource.INVOICES: Family.AR,
    Resource.PAYMENTS: Family.AR,
    Resource.CREDIT_NOTES: Family.AR,
    Resource.SUPPLIERS: Family.AP,
    Resource.BILLS: Family.AP,
    Resource.BILL_PAYMENTS: Family.AP,
    Resource.EXPENSES: Family.AP,
    Resource.PURCHASE_ORDERS: Family.AP,
}


def family_of(resource: Resource) -> Family:
    return FAMILY_OF.get(resource, Family.LEDGER)


# What an account's `api_user` group grants when it is created: every data family, no administration.
DATA_FAMILIES = (Family.AR, Family.AP, Family.LEDGER, Family.REPORTS)
API_USER_DEFAULT = frozenset(f"{f.value}:{Level.WRITE.value}" for f in DATA_FAMILIES)
EVERYTHING = API_USER_DEFAULT | {f"{Family.ADMIN.value}:{Level.WRITE.value}"}


def parse(permission: str) -> tuple[Family, Level]:
    """`AR:WRITE` → (AR, WRITE); a bare family means READ. Raises ValueError on anything else."""
    family, _, level = permission.strip().upper().partition(":")
    return Family(family), Level(level or Level.READ.value)


def normalise(permissions: Iterable[str]) -> frozenset[str]:
    result = set()
    for p in permissions:
        family, level = parse(p)
        result.add(f"{family.value}:{level.value}")
    return frozenset(result)


def allows(granted: frozenset[str], family: Family, level: Level) -> bool:
    if f"{family.value}:{Level.WRITE.value}" in granted:
        return True
    return level == Level.READ and f"{family.value}:{Level.READ.value}" in granted
