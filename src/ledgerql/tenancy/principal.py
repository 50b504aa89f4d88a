"""Who is asking, resolved once per request from the API key (and the account it names)."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerql.model.enums import Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.tenancy.permissions import Family, Level, allows, family_of


@dataclass(frozen=True)
class Principal:
    user_id: str
    kind: str  # "partner" or "account": who owns the user
    partner_id: str | None
    account_id: str | None  # the account acted for; a partner user names it per request
    account_ids: frozenset[str]  # every account within reach (a partner's: all of its accounts)
    connection_ids: frozenset[str]  # connections usable in the account acted for
    permissions: frozenset[str]

    @property
    def is_partner(self) -> bool:
        return self.kind == "partner"

    def can(self, family: Family, level: Level) -> bool:
        return allows(self.permissions, family, level)

    def require(self, family: Family, level: Level) -> None:
        if not self.can(family, level):
            raise LedgerQLError(ErrorCode.FORBIDDEN,
                                f"This API user may not {level.value.lower()} {family.value} data",
                                permission=f"{family.value}:{level.value}")

    def require_resource(self, resource: Resource, level: Level) -> None:
        self.require(family_of(resource), level)
