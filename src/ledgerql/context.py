"""What one GraphQL request carries: who asks, its dataloaders, its upstream-call count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledgerql.connectors.base import Connector
from ledgerql.connectors.http import UpstreamStats
from ledgerql.gateway import Gateway
from ledgerql.loaders import Loaders
from ledgerql.model.enums import Operation, Resource, Support
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema.pagination import CursorCodec
from ledgerql.tenancy.permissions import Level
from ledgerql.tenancy.principal import Principal


@dataclass
class RequestContext:
    gateway: Gateway
    principal: Principal
    tracking_id: str
    stats: UpstreamStats = field(default_factory=UpstreamStats)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    request: Any = None
    response: Any = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.connector, may_read=self._may_read)

    @property
    def cursors(self) -> CursorCodec:
        return self.gateway.cursors

    def connector(self, connection_id: str) -> Connector:
        """The connector of a connection this principal may use; any other id is simply not found,
        so ids cannot be used to learn what exists in another account."""
        connection_id = str(connection_id)
        if connection_id not in self.principal.connection_ids or connection_id not in self.gateway.connections:
            raise LedgerQLError(ErrorCode.NOT_FOUND, f"No connection with id {connection_id!r}")
        return self.gateway.connector(connection_id)

    def _may_read(self, connection_id: str, resource: Resource) -> None:
        self.principal.require_resource(resource, Level.READ)

    def reader(self, connection_id: str, resource: Resource) -> Connector:
        """The connector to read `resource` through, if this principal may read it there."""
        connector = self.connector(connection_id)
        self.principal.require_resource(resource, Level.READ)
        return connector

    def writer(self, connection_id: str, resource: Resource) -> Connector:
        """The connector to write `resource` through, if this principal may write it there."""
        connector = self.connector(connection_id)
        self.principal.require_resource(resource, Level.WRITE)
        return connector

    def note_fallback(self, connector: Connector, resource: Resource, operation: Operation) -> None:
        """A fallback is never silent: the answer's extensions say what stood in for what."""
        if connector.support(resource, operation) != Support.FALLBACK:
            return
        entry = {"connectionId": connector.config.id, "resource": resource.value,
                 "fallback": connector.mapping.resource(resource).fallback}
        if entry not in self.fallbacks:
            self.fallbacks.append(entry)
