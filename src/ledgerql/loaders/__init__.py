"""Per-request dataloaders keyed by (connection, resource): references are followed in batches.

`by_id` answers "record X of resource R on connection C" and batches every such question asked in
the same event-loop tick into one `Connector.get_many` call (which itself chunks by the provider's
batch size). `allocated_to` answers reverse references (invoice → payments) from one listing per
batch, grouped by document. `deferred` fills a field a connector left out of its records (its provider
keeps it apart) for the records whose field a client selected, in one batch. Loaders live for one
request, so two tenants never share a future; the cross-request cache sits below them, in the
connector layer.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from ledgerql.connectors.base import Connector, fill_deferred
from ledgerql.model.entities import Record
from ledgerql.model.enums import Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError


class Loaders:
    def __init__(self, connector_for: Callable[[str], Connector],
                 may_read: Callable[[str, Resource], None] | None = None) -> None:
        self._connector_for = connector_for
        # Asked on every load a client's selection makes: raises unless the caller may read the resource.
        self._may_read = may_read
        self._by_id: dict[tuple[str, Resource], DataLoader[str, Record | None]] = {}
        self._complete: dict[tuple[str, Resource], DataLoader[str, Record | None]] = {}
        self._allocated: dict[tuple[str, Resource], DataLoader[str, list[Any]]] = {}
        self._deferred: dict[tuple[str, Resource, str], DataLoader[Record, Any]] = {}

    def by_id(self, connection_id: str, resource: Resource, *, partial: bool = False
              ) -> DataLoader[str, Record | None]:
        """Records by id, complete. `partial` (for the schema, which resolves a deferred field only when it
        is selected): as the connector gave them, deferred fields unfilled. Both share one upstream read."""
        self._check(connection_id, resource)
        key = (connection_id, resource)
        if not partial:
            complete = self._complete.get(key)
            if complete is None:
                records = self.by_id(connection_id, resource, partial=True)

                async def load_complete(ids: Sequence[str]) -> list[Record | None]:
                    return await self.complete(connection_id, resource, await records.load_many(ids))

                complete = self._complete[key] = DataLoader(load_fn=load_complete)
            return complete
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
        self._check(connection_id, resource)
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

    def deferred(self, connection_id: str, resource: Resource, name: str) -> DataLoader[Record, Any]:
        """A field connectors deferred (`Record.deferred`, e.g. open balances kept apart from documents),
        for every record that asks for it in the same tick: one `resolve_deferred` batch."""
        self._check(connection_id, resource)
        key = (connection_id, resource, name)
        loader = self._deferred.get(key)
        if loader is None:
            connector = self._connector_for(connection_id)

            async def load(records: Sequence[Record]) -> list[Any]:
                found = await connector.resolve_deferred(resource, name, records)
                missing = [r.id for r in records if r.id not in found]
                if missing:
                    raise LedgerQLError(ErrorCode.NOT_FOUND, f"{connector.provider.value} no longer answers the "
                                        f"{name} of {resource.value} {', '.join(missing[:5])}")
                return [found[r.id] for r in records]

            loader = self._deferred[key] = DataLoader(load_fn=load, cache_key_fn=lambda r: r.id)
        return loader

    def trusted(self) -> Loaders:
        """The same loaders (one batch, one answer per record) without the read check: for the gateway's
        own lookups, such as a write's validation of the references it is given, which show the caller
        nothing. Whatever the caller then selects still goes through the checked loaders."""
        view = copy.copy(self)
        view._may_read = None
        return view

    def may_read(self, connection_id: str, resource: Resource) -> None:
        """Raise unless the caller may read `resource` on the connection: for a record answered without
        a load (what a referencing record shows of it), which the caller must be allowed to see all the same."""
        self._check(connection_id, resource)

    def _check(self, connection_id: str, resource: Resource) -> None:
        if self._may_read is not None:
            self._may_read(connection_id, resource)

    async def complete(self, connection_id: str, resource: Resource,
                       records: Sequence[Record | None]) -> list[Record | None]:
        """The records with their deferred fields filled, through the batched `deferred` loaders."""
        async def one(record: Record | None) -> Record | None:
            if record is None:
                return None
            names = sorted(record.deferred | ({"balance"} if record.is_deferred("balance") else set()))
            if not names:
                return record
            values = await asyncio.gather(*(self.deferred(connection_id, resource, n).load(record) for n in names))
            return fill_deferred(record, dict(zip(names, values, strict=True)))

        return list(await asyncio.gather(*(one(r) for r in records)))

    def prime(self, connection_id: str, resource: Resource, records: Sequence[Record]) -> None:
        """Records already fetched (a list page) answer later by-id loads without a call."""
        loader = self.by_id(connection_id, resource, partial=True)
        complete = self.by_id(connection_id, resource)
        for record in records:
            loader.prime(record.id, record)
            if not record.deferred and not record.is_deferred("balance"):
                complete.prime(record.id, record)
