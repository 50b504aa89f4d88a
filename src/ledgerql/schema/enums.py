"""The unified model's enums, registered once with strawberry (imported before any type uses them)."""

import strawberry

from ledgerql.model.enums import (
    AccountType,
    DocumentStatus,
    Operation,
    PostingType,
    Provider,
    PurchaseOrderStatus,
    RecordStatus,
    Resource,
    Source,
    Support,
)

strawberry.enum(Provider, description="An accounting provider LedgerQL connects to.")
strawberry.enum(AccountType)
strawberry.enum(RecordStatus)
strawberry.enum(DocumentStatus, description="draft → authorised → paid; PAID and PARTIALLY_PAID follow "
                                            "from the balance.")
strawberry.enum(PurchaseOrderStatus)
strawberry.enum(PostingType)
strawberry.enum(Source, description="What produced a record: the provider's own object or a documented "
                                    "stand-in (BILL_FALLBACK: an Exact Online purchase entry paid at once).")
strawberry.enum(Support)
strawberry.enum(Operation, name="ResourceOperation")
strawberry.enum(Resource, name="ResourceName")
