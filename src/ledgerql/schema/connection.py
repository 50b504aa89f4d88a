"""The `Connection` type: one provider company, with a list and a by-id field per resource.

The per-resource fields are generated from one table (`RESOURCE_FIELDS`) rather than written out
nineteen times: every list pages the same way and every by-id field loads through the same
dataloader, whatever the resource.
"""

from typing import Any

import strawberry
from strawberry.types import Info

from ledgerql.model.enums import Operation, Provider, Resource, Support
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema import filters as f
from ledgerql.schema import types as t
from ledgerql.schema.admin import ConnectionState, connection_state
from ledgerql.schema.pagination import DEFAULT_FIRST, Edge, ListResult, PageInfo, paginate
from ledgerql.schema.types import context, wrap


@strawberry.type
class OperationCoverage:
    operation: Operation
    support: Support
    fallback: str | None = strawberry.field(description="What stands in, when support is FALLBACK.")


@strawberry.type
class ResourceCoverage:
    resource: Resource
    operations: list[OperationCoverage]


# (list field, by-id field, resource, node type, filter input)
RESOURCE_FIELDS: list[tuple[str, str, Resource, Any, Any]] = [
    ("ledger_accounts", "ledger_account", Resource.LEDGER_ACCOUNTS, t.LedgerAccount, f.ReferenceFilter),
    ("customers", "customer", Resource.CUSTOMERS, t.Customer, f.ReferenceFilter),
    ("suppliers", "supplier", Resource.SUPPLIERS, t.Supplier, f.ReferenceFilter),
    ("tax_rates", "tax_rate", Resource.TAX_RATES, t.TaxRate, f.ReferenceFilter),
    ("tracking_categories", "tracking_category", Resource.TRACKING_CATEGORIES, t.TrackingCategory,
     f.ReferenceFilter),
    ("departments", "department", Resource.DEPARTMENTS, t.Department, f.ReferenceFilter),
    ("locations", "location", Resource.LOCATIONS, t.Location, f.ReferenceFilter),
    ("subsidiaries", "subsidiary", Resource.SUBSIDIARIES, t.Subsidiary, f.ReferenceFilter),
    ("invoices", "invoice", Resource.INVOICES, t.Invoice, f.InvoiceFilter),
    ("bills", "bill", Resource.BILLS, t.Bill, f.BillFilter),
    ("payments", "payment", Resource.PAYMENTS, t.Payment, f.CustomerDocumentFilter),
    ("bill_payments", "bill_payment", Resource.BILL_PAYMENTS, t.BillPayment, f.SupplierDocumentFilter),
    ("expenses", "expense", Resource.EXPENSES, t.Expense, f.SupplierDocumentFilter),
    ("credit_notes", "credit_note", Resource.CREDIT_NOTES, t.CreditNote, f.CustomerDocumentFilter),
    ("purchase_orders", "purchase_order", Resource.PURCHASE_ORDERS, t.PurchaseOrder, f.SupplierDocumentFilter),
    ("journal_entries", "journal_entry", Resource.JOURNAL_ENTRIES, t.JournalEntry, f.DatedFilter),
    ("journals", "journal", Resource.JOURNALS, t.Journal, f.ReferenceFilter),
    ("bank_accounts", "bank_account", Resource.BANK_ACCOUNTS, t.BankAccount, f.ReferenceFilter),
]


def _list_field(resource: Resource, node_type: Any, filter_type: Any) -> Any:
    async def resolve(root: Any, info: Info, first: int = DEFAULT_FIRST, after: str | None = None,
                      filter: filter_type | None = None) -> ListResult[node_type] | None:
        ctx = context(info)
        connector = ctx.reader(root.id, resource)
        list_filter = f.to_list_filter(filter)
        ctx.note_fallback(connector, resource, Operation.LIST)
        edges, has_next, first_page = await paginate(
            connector=connector, codec=ctx.cursors, connection_id=str(root.id), resource=resource, first=first,
            after=after, filter=list_filter,
            on_page=lambda page: ctx.loaders.prime(str(root.id), resource, page.records))
        free_total = first_page.total if first_page and list_filter.is_empty() else None

        async def count() -> int:
            return free_total if free_total is not None else await connector.count(resource, list_filter)

        return ListResult(
            edges=[Edge(cursor=cursor, node=wrap(resource, record, str(root.id))) for cursor, record in edges],
            page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1][0] if edges else None),
            _count=count)

    return strawberry.field(resolver=resolve, description=f"A page of {resource.value.replace('_', ' ')}.")


def _by_id_field(resource: Resource, node_type: Any) -> Any:
    async def resolve(root: Any, info: Info, id: strawberry.ID) -> node_type | None:
        ctx = context(info)
        connector = ctx.reader(root.id, resource)
        connector.require(resource, Operation.GET)
        ctx.note_fallback(connector, resource, Operation.GET)
        record = await ctx.loaders.by_id(str(root.id), resource).load(str(id))
        if record is None:
            raise LedgerQLError(ErrorCode.NOT_FOUND, f"No {resource.value.replace('_', ' ')} with id {id!r}")
        return wrap(resource, record, str(root.id))

    return strawberry.field(resolver=resolve)


def _connection_namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for list_name, by_id_name, resource, node_type, filter_type in RESOURCE_FIELDS:
        namespace[list_name] = _list_field(resource, node_type, filter_type)
        namespace[by_id_name] = _by_id_field(resource, node_type)
    return namespace


class _ConnectionBase:
    id: strawberry.ID
    provider: Provider
    name: str


def _coverage(root: Any, info: Info) -> list[ResourceCoverage]:
    connector = context(info).connector(root.id)
    return [ResourceCoverage(resource=c.resource, operations=[
                OperationCoverage(operation=op, support=support,
                                  fallback=c.fallback if support == Support.FALLBACK else None)
                for op, support in c.operations.items()])
            for c in connector.coverage()]


async def _state(root: Any, info: Info) -> ConnectionState:
    return await connection_state(info, str(root.id))


async def _company_info(root: Any, info: Info) -> t.CompanyInfo | None:
    company = await context(info).reader(root.id, Resource.COMPANY_INFO).company_info()
    return None if company is None else wrap(Resource.COMPANY_INFO, company, str(root.id))


Connection = strawberry.type(
    type("Connection", (_ConnectionBase,), {
        "__annotations__": dict(_ConnectionBase.__annotations__),
        "coverage": strawberry.field(resolver=_coverage, description=(
            "Per resource and operation: NATIVE, FALLBACK (with what stands in) or UNSUPPORTED. Generated "
            "from the provider mapping.")),
        "company_info": strawberry.field(resolver=_company_info),
        "state": strawberry.field(resolver=_state, description=(
            "ACTIVE, REFRESHING, or REAUTH_REQUIRED when the provider refused the refresh token.")),
        **_connection_namespace()}),
    description="One provider company (a QuickBooks realm, a Xero tenant, an Exact division, a NetSuite "
                "account) and everything LedgerQL can read from it.")
