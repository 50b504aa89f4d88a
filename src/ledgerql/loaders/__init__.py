"""Per-request dataloaders keyed by (connection, resource): references are followed in batches.

`by_id` answers "record X of resource R on connection C" and batches every such question asked in
the same event-loop tick into one `Connector.get_many` call (which itself chunks by the provider's
batch size). `allocated_to` answers reverse references (invoice → payments) from one listing per
batch, grouped by document. Loaders live for one request, so two tenants never share a future; the
cross-request cache sits below them, in the connector layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from strawberry.dataloader import DataLoader

from ledgerql.connectors.base import Connector
from ledgerql.model.entities import Record
from ledgerql.model.enums import Resource


class Loaders:
    def __init__(self, connector_for: Callable[[str], Connector]) -> None:
        self._connector_for = connector_for
        self._by_id: dict[tuple[str, Resource], DataLoader[str, Record | None]] = {}
        self._allocated: dict[tuple[str, Resource], DataLoader[str, list[Any]]] = {}
        self._balances: dict[tuple[str, Resource], DataLoader[str, Decimal]] = {}

    def by_id(self, connection_id: str, resource: Resource) -> DataLoader[str, Record | None]:
        key = (connection_id, resource)
        loader = self._by_id.get(key)
        if loader is None:
            connector = self._connector_for(connection_id)

            async def load(ids: Sequence[str]) -> list[Record | None]:
                found = await connector.get_many(resource, list(ids))
                return [found.get(i) for i in ids]

            loader = self._by_id[key] = DataLoader(load_fn=load)
        return loader

    def allocated_to(self, connection_id: str, resource: Resource) -> DataLoader[str, list[Any]]:
        """Records of `resource` (payments, bill payments, credit notes) allocated to each document."""
        key = (connection_id, resource)
        loader = self._allocated.get(key)
        if loader is None:
            connector = self._connector_for(connection_id)

            async def load(document_ids: Sequence[str]) -> list[list[Any]]:
                records = await connector.find_allocated_to(resource, list(document_ids))
                index: dict[str, list[Any]] = {d: [] for d in document_ids}
                for record in records:
                    # A record allocated twice to one document is listed under it once.
                    for document_id in dict.fromkeys(a.document_id for a in getattr(record, "allocations", [])):
                        bucket = index.get(document_id)
                        if bucket is not None:
                            bucket.append(record)
                self.prime(connection_id, resource, records)
                return [index[d] for d in document_ids]

            loader = self._allocated[key] = DataLoader(load_fn=load)
        return loader

    def balances(self, connection_id: str, resource: Resource) -> DataLoader[str, Decimal]:
        """Open balances a connector deferred (its provider keeps them apart from the documents)."""
        key = (connection_id, resource)
        loader = self._balances.get(key)
        if loader is None:
            connector = self._connector_for(connection_id)

            async def load(ids: Sequence[str]) -> list[Decimal]:
                found = await connector.fetch_balances(resource, list(ids))
                return [found[i] for i in ids]

            loader = self._balances[key] = DataLoader(load_fn=load)
        return loader

    def prime(self, connection_id: str, resource: Resource, records: Sequence[Record]) -> None:
        """Records already fetched (a list page) answer later by-id loads without a call."""
        loader = self.by_id(connection_id, resource)
        for record in records:
            loader.prime(record.id, record)
