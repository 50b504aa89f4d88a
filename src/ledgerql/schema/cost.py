"""A query's cost in expected upstream calls, computed from the document before anything runs.

The unit is the thing the gateway must protect: calls to the providers (their rate limits and
daily quotas are per company and shared by every client). The estimate follows how resolvers
really reach upstream:

- a list field reads ceil(first / provider page size) upstream pages;
- references under a list (a bill's supplier, a line's account) go through a per-request
  dataloader: one batch per selection, chunked by the provider's batch size, never one per row;
- reverse references (a bill's payments) are one lookup per batch as well;
- `totalCount` costs what the provider's count costs, and a create what the provider's write does;
- under `connections`, each of the caller's connections is costed with its own provider.

What one page, batch, count or create costs on a provider is 1 call (a write 3) unless its
mapping declares otherwise under `quirks.call_costs`, per kind and resource: `page` (per upstream
page), `once` (lookups a conversion needs, kept by the connector: first use only), `get` (per by-id chunk),
`allocated` (per reverse-reference batch), `balances` (per batch of deferred open balances),
`count`, and `create` / `update` / `void` / `delete` (the write, after its lookups). E.g. Exact Online reads open
items alongside a page of bills: the quirk lives with the provider. A connection the caller
cannot see, or whose id is not known before execution, is costed as the dearest provider.

The estimate is an upper bound for the books' usual shapes, meant to be close: the distinct
records a batch names are taken to be at most the rows of the list above it (lines of one page
share accounts and tax rates), and a provider's private caches are assumed cold.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    get_named_type,
    value_from_ast_untyped,
)
from graphql.language import DocumentNode

from ledgerql.connectors.mapping import LINES, load_mapping
from ledgerql.model.enums import Operation, Provider, Resource, Support
from ledgerql.schema.connection import RESOURCE_FIELDS
from ledgerql.schema.pagination import DEFAULT_FIRST, MAX_FIRST
from ledgerql.schema.types import GRAPHQL_TYPES

MAX_COST_ENV = "LEDGERQL_MAX_QUERY_COST"
# Enough for every query in tests/ and the README (the dearest, 100 invoices with every reference
# on Exact Online, is ~30); a page of everything across four connections still fits.
DEFAULT_MAX_COST = 200


def max_cost_from_env(default: int = DEFAULT_MAX_COST) -> int:
    value = os.environ.get(MAX_COST_ENV, "").strip()
    if not value:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{MAX_COST_ENV} must be a whole number of upstream calls, not {value!r}") from None
    if limit < 1:
        raise ValueError(f"{MAX_COST_ENV} must be at least 1")
    return limit


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


LIST_FIELDS: dict[str, Resource] = {_camel(name): resource for name, _, resource, _, _ in RESOURCE_FIELDS}
BY_ID_FIELDS: dict[str, Resource] = {_camel(name): resource for _, name, resource, _, _ in RESOURCE_FIELDS}
TYPE_RESOURCES: dict[str, Resource] = {cls.__name__: resource for resource, cls in GRAPHQL_TYPES.items()}
# Writes are named verb + type (`createBill`, `voidPayment`, ...) and take a `connectionId`.
WRITE_VERBS = {"create": Operation.CREATE, "update": Operation.UPDATE, "void": Operation.VOID,
               "delete": Operation.DELETE}


def write_field(name: str) -> tuple[Operation, Resource] | None:
    for verb, operation in WRITE_VERBS.items():
        resource = TYPE_RESOURCES.get(name[len(verb):]) if name.startswith(verb) else None
        if resource is not None:
            return operation, resource
    return None
# Reverse references: answered from one lookup of the records allocated to the batch's documents.
REVERSE_FIELDS: dict[tuple[str, str], Resource] = {
    ("Invoice", "payments"): Resource.PAYMENTS,
    ("Invoice", "creditNotes"): Resource.CREDIT_NOTES,
    ("Bill", "payments"): Resource.BILL_PAYMENTS,
}
# Open balances some providers keep apart from the documents (read in one batch per page).
BALANCE_FIELDS: dict[tuple[str, str], Resource] = {
    ("Invoice", "balance"): Resource.INVOICES, ("Invoice", "status"): Resource.INVOICES,
    ("Bill", "balance"): Resource.BILLS, ("Bill", "status"): Resource.BILLS,
}
# What a create validates against before writing: one by-id batch per referenced resource.
_LINES = (Resource.LEDGER_ACCOUNTS, Resource.TAX_RATES, Resource.TRACKING_CATEGORIES)
CREATE_LOOKUPS: dict[Resource, tuple[Resource, ...]] = {
    Resource.INVOICES: (Resource.CUSTOMERS, *_LINES, Resource.COMPANY_INFO),
    Resource.BILLS: (Resource.SUPPLIERS, *_LINES, Resource.COMPANY_INFO),
    Resource.CREDIT_NOTES: (Resource.CUSTOMERS, *_LINES, Resource.INVOICES, Resource.COMPANY_INFO),
    Resource.PURCHASE_ORDERS: (Resource.SUPPLIERS, *_LINES),
    Resource.EXPENSES: (Resource.SUPPLIERS, *_LINES),
    Resource.PAYMENTS: (Resource.CUSTOMERS, Resource.LEDGER_ACCOUNTS, Resource.INVOICES),
    Resource.BILL_PAYMENTS: (Resource.SUPPLIERS, Resource.LEDGER_ACCOUNTS, Resource.BILLS),
    Resource.JOURNAL_ENTRIES: (Resource.LEDGER_ACCOUNTS, Resource.TRACKING_CATEGORIES, Resource.JOURNALS),
}


@dataclass
class CallProfile:
    """What each kind of upstream work costs on one connection's provider, in calls, within one
    estimate: lookups a connector keeps once it made them (declared `once`) are charged once."""

    provider: Provider
    batch_size: int
    costs: Mapping[str, Any]
    charged: set[Resource] = field(default_factory=set)

    @classmethod
    def of(cls, provider: Provider) -> CallProfile:
        mapping = load_mapping(provider)
        return cls(provider=provider, batch_size=max(1, mapping.batch_size),
                   costs=dict(mapping.quirks.get("call_costs") or {}))

    def _once(self, resource: Resource) -> int:
        if resource in self.charged:
            return 0
        self.charged.add(resource)
        return self._cost("once", resource, 0)

    def _cost(self, kind: str, resource: Resource, default: int) -> int:
        table = self.costs.get(kind)
        if isinstance(table, Mapping):
            return int(table.get(resource.value, table.get("default", default)))
        return int(table) if table is not None else default

    def supports(self, resource: Resource, operation: Operation) -> bool:
        return load_mapping(self.provider).support(resource, operation) != Support.UNSUPPORTED

    def list(self, resource: Resource, first: int, *, resumed: bool) -> int:
        """A page of `first` records. From the start, pagination reads further upstream pages only
        while a whole one still fits (floor); resumed mid-page by a cursor, one more may be started."""
        if not self.supports(resource, Operation.LIST):
            return 0  # refused before any call
        return self._pages(resource, first, resumed) * self._cost("page", resource, 1) + self._once(resource)

    def rows(self, resource: Resource, first: int, *, resumed: bool) -> int:
        """At most how many records the page holds (from the start: the whole upstream pages read)."""
        if resumed:
            return first
        size = load_mapping(self.provider).page_size(resource, first)
        return min(first, self._pages(resource, first, resumed) * size)

    def _pages(self, resource: Resource, first: int, resumed: bool) -> int:
        size = load_mapping(self.provider).page_size(resource, first)
        return math.ceil(first / size) if resumed else max(1, first // size)

    def get(self, resource: Resource, ids: int) -> int:
        if not self.supports(resource, Operation.GET):
            return 0
        return math.ceil(max(1, ids) / self.batch_size) * self._cost("get", resource, 1) + self._once(resource)

    def shown(self, resource: Resource | None, *, lines: bool = False) -> dict[str, set[str]]:
        """The fields a record of `resource` (or one of its lines) shows of what it references, in
        GraphQL names, by reference field (`supplier`, `account`): selecting no more costs no call."""
        if resource is None:
            return {}
        declared = load_mapping(self.provider).resource(resource).shown
        return {_camel(reference.removeprefix(LINES).removesuffix("_id")): {_camel(f) for f in fields} | {"id"}
                for reference, fields in declared.items() if reference.startswith(LINES) == lines}

    def allocated(self, resource: Resource) -> int:
        return self._cost("allocated", resource, 1) if self.supports(resource, Operation.LIST) else 0

    def balances(self, resource: Resource) -> int:
        return self._cost("balances", resource, 0)

    def count(self, resource: Resource) -> int:
        return self._cost("count", resource, 1) if self.supports(resource, Operation.LIST) else 0

    def write(self, operation: Operation, resource: Resource) -> int:
        """A create or update: its validation lookups; an update, void or delete: the record as it is
        now. Then the write itself (3 unless declared: the write, its read-back and a lookup it may
        need, such as an account's type)."""
        if not self.supports(resource, operation):
            return 0  # refused before any call
        lookups = 0
        if operation in (Operation.CREATE, Operation.UPDATE):
            lookups = sum(self.list(r, 1, resumed=False) if r == Resource.COMPANY_INFO else self.get(r, 1)
                          for r in CREATE_LOOKUPS.get(resource, ()))
        if operation != Operation.CREATE:
            lookups += self.get(resource, 1)
        return lookups + self._cost(operation.value, resource, 3)


@dataclass
class CostEstimate:
    expected: int
    limit: int

    def to_extensions(self) -> dict[str, int]:
        return {"expected": self.expected, "limit": self.limit}


class CostEstimator:
    """Walks one operation of a validated document with the schema's types.

    `connections` maps each connection id the caller may use to its provider; ids outside it are
    costed as the dearest provider (the query will be refused for them, but costing them cheaply
    would make the estimate depend on what the caller may see)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None,
                 operation_name: str | None, connections: Mapping[str, Provider]) -> None:
        self.schema = schema
        self.variables = dict(variables or {})
        self.connections = dict(connections)
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
        self.operation = chosen[0] if chosen else None
        # Variables left out take their declared defaults, as execution will.
        for definition in (self.operation.variable_definitions or ()) if self.operation else ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)

    def estimate(self) -> int:
        operation = self.operation
        if operation is None:
            return 0
        root = self.schema.mutation_type if operation.operation == OperationType.MUTATION else \
            self.schema.query_type if operation.operation == OperationType.QUERY else None
        if root is None:
            return 0
        total = 0
        for name, nodes in self._named([operation.selection_set]):
            total += self._root_field(root, name, nodes)
        return total

    # -- roots -------------------------------------------------------------------------------------
    def _root_field(self, root: GraphQLObjectType, name: str, nodes: list[FieldNode]) -> int:
        definition = root.fields.get(name)
        if definition is None:
            return 0
        sub = self._sub(nodes)
        if name == "connections":
            return sum(self._connection(CallProfile.of(p), sub) for p in self.connections.values())
        if name == "connection":
            return max((self._connection(p, sub) for p in self._profiles(self._arg(nodes[0], "id"))), default=0)
        write = write_field(name) if "connectionId" in definition.args else None
        if write is not None:
            payload = get_named_type(definition.type)
            return max((p.write(*write) + self._object(payload, sub, p, rows=1)
                        for p in self._profiles(self._arg(nodes[0], "connectionId"))), default=0)
        return 0

    def _profiles(self, connection_id: Any) -> list[CallProfile]:
        provider = self.connections.get(str(connection_id)) if connection_id is not None else None
        return [CallProfile.of(provider)] if provider is not None else [CallProfile.of(p) for p in Provider]

    def _connection(self, profile: CallProfile, selections: list[SelectionSetNode]) -> int:
        connection_type = self.schema.get_type("Connection")
        assert isinstance(connection_type, GraphQLObjectType)
        total = 0
        for name, nodes in self._named(selections):
            sub = self._sub(nodes)
            if name in LIST_FIELDS:
                resource = LIST_FIELDS[name]
                first = self._first(nodes[0])
                resumed = self._arg(nodes[0], "after") is not None
                total += profile.list(resource, first, resumed=resumed) + \
                    self._list_result(resource, sub, profile, rows=profile.rows(resource, first, resumed=resumed))
            elif name in BY_ID_FIELDS:
                resource = BY_ID_FIELDS[name]
                node_type = self.schema.get_type(GRAPHQL_TYPES[resource].__name__)
                total += profile.get(resource, 1) + self._object(node_type, sub, profile, rows=1)
            elif name == "companyInfo":
                total += profile.list(Resource.COMPANY_INFO, 1, resumed=False)
        return total

    def _list_result(self, resource: Resource, selections: list[SelectionSetNode], profile: CallProfile,
                     rows: int) -> int:
        """`nodes` and `edges { node }` are the same records: their references share the batches."""
        total = 0
        node_selections: list[SelectionSetNode] = []
        for name, nodes in self._named(selections):
            if name == "totalCount":
                total += profile.count(resource)
            elif name == "nodes":
                node_selections += self._sub(nodes)
            elif name == "edges":
                for edge_name, edge_nodes in self._named(self._sub(nodes)):
                    if edge_name == "node":
                        node_selections += self._sub(edge_nodes)
        node_type = self.schema.get_type(GRAPHQL_TYPES[resource].__name__)
        return total + self._object(node_type, node_selections, profile, rows)

    # -- records and their references -----------------------------------------------------------------
    def _object(self, object_type: Any, selections: list[SelectionSetNode], profile: CallProfile,
                rows: int, shown: dict[str, set[str]] | None = None) -> int:
        """`shown`: what this object shows of its references, when it is not a record itself (a line)."""
        if not isinstance(object_type, GraphQLObjectType) or not selections:
            return 0
        type_name = object_type.name
        own = TYPE_RESOURCES.get(type_name)
        if own is not None:
            shown = profile.shown(own)
        total = 0
        balances_read: set[Resource] = set()
        for name, nodes in self._named(selections):
            definition = object_type.fields.get(name)
            if definition is None:
                continue
            target = get_named_type(definition.type)
            sub = self._sub(nodes)
            if (type_name, name) in BALANCE_FIELDS:
                resource = BALANCE_FIELDS[(type_name, name)]
                if resource not in balances_read:  # balance and status share one loader
                    balances_read.add(resource)
                    total += profile.balances(resource)
            elif (type_name, name) in REVERSE_FIELDS:
                total += profile.allocated(REVERSE_FIELDS[(type_name, name)]) + \
                    self._object(target, sub, profile, rows)
            elif target.name in TYPE_RESOURCES and not type_name.endswith("Payload"):
                if shown and name in shown and {n for n, _ in self._named(sub)} <= shown[name]:
                    continue  # answered from what this record shows of it
                # A reference followed through the request's dataloader: one batch for all rows.
                total += profile.get(TYPE_RESOURCES[target.name], rows) + self._object(target, sub, profile, rows)
            elif isinstance(target, GraphQLObjectType):
                # Plain nested values (line items, allocations, a payload's record): no call of their own.
                lines = profile.shown(own, lines=True) if name == "lineItems" else None
                total += self._object(target, sub, profile, rows, lines)
        return total

    # -- documents -------------------------------------------------------------------------------------
    def _named(self, selections: Iterable[SelectionSetNode]) -> list[tuple[str, list[FieldNode]]]:
        """Each response key's field name (not its alias) and its nodes."""
        return [(nodes[0].name.value, nodes) for nodes in self._fields(selections).values()]

    def _fields(self, selections: Iterable[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        """Fields by response key, fragments and inline fragments expanded, as execution merges them
        (two aliases are two fields; the same key twice is one)."""
        fields: dict[str, list[FieldNode]] = {}
        self._collect(selections, fields, set())
        return fields

    def _collect(self, selections: Iterable[SelectionSetNode], fields: dict[str, list[FieldNode]],
                 seen: set[str]) -> None:
        for selection_set in selections:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    if key.startswith("__"):
                        continue
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    self._collect([selection.selection_set], fields, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:
                        self._collect([fragment.selection_set], fields, seen | {name})

    def _included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            if directive.name.value in ("skip", "include"):
                condition = next((self._value(a.value) for a in directive.arguments or ()
                                  if a.name.value == "if"), None)
                if directive.name.value == "skip" and condition is True:
                    return False
                if directive.name.value == "include" and condition is False:
                    return False
        return True

    @staticmethod
    def _sub(nodes: list[FieldNode]) -> list[SelectionSetNode]:
        return [n.selection_set for n in nodes if n.selection_set is not None]

    def _value(self, node: ValueNode) -> Any:
        return value_from_ast_untyped(node, self.variables)

    def _arg(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self._value(argument.value)
        return None

    def _first(self, node: FieldNode) -> int:
        """`first` as the list will read it; out-of-range values are refused before any call, so the
        estimate clamps them rather than failing itself."""
        value = self._arg(node, "first")
        if not isinstance(value, int) or isinstance(value, bool):
            return DEFAULT_FIRST
        return min(max(value, 1), MAX_FIRST)


def estimate_cost(schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None,
                  operation_name: str | None, connections: Mapping[str, Provider]) -> int:
    return CostEstimator(schema, document, variables, operation_name, connections).estimate()
