"""The four emulators hold the same books: per entity, the same count and the same document totals per
currency, each computed from the emulator's own provider-shaped records (Exact Online's expenses are its
fallback purchase entries, not bills)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ledgerql.sandbox import SandboxSet


def books_summary(sandboxes: SandboxSet) -> dict[str, dict[str, object]]:
    books = sandboxes.books[0]

    def totals(items: list, amount: str) -> dict[str, str]:
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for item in items:
            sums[item.currency] += getattr(item, amount)
        return {currency: str(value) for currency, value in sorted(sums.items())}

    journal_debits: dict[str, Decimal] = defaultdict(Decimal)
    for entry in books.journal_entries:
        journal_debits[entry.currency] += sum(x.amount for x in entry.line_items if x.type.value == "DEBIT")
    return {
        "invoices": {"count": len(books.invoices), "totals": totals(books.invoices, "total")},
        "bills": {"count": len(books.bills), "totals": totals(books.bills, "total")},
        "credit_notes": {"count": len(books.credit_notes), "totals": totals(books.credit_notes, "total")},
        "purchase_orders": {"count": len(books.purchase_orders), "totals": totals(books.purchase_orders, "total")},
        "payments": {"count": len(books.payments), "totals": totals(books.payments, "total_amount")},
        "bill_payments": {"count": len(books.bill_payments), "totals": totals(books.bill_payments, "total_amount")},
        "expenses": {"count": len(books.expenses), "totals": totals(books.expenses, "total_amount")},
        "journal_entries": {"count": len(books.journal_entries),
                            "totals": {c: str(v) for c, v in journal_debits.items()}},
        "customers": {"count": len(books.customers)},
        "suppliers": {"count": len(books.suppliers)},
        "ledger_accounts": {"count": len(books.ledger_accounts)},
        "tax_rates": {"count": len(books.tax_rates)},
        "bank_accounts": {"count": len(books.bank_accounts)},
    }


def normalised(summary: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    for resource, entry in summary.items():
        item: dict[str, object] = {"count": entry["count"]}
        if "totals" in entry:
            item["totals"] = {c: Decimal(str(v)) for c, v in dict(entry["totals"]).items()}  # type: ignore[call-overload]
        result[resource] = item
    return result


def test_four_emulators_hold_the_same_books() -> None:
    sandboxes = SandboxSet()
    expected = normalised(books_summary(sandboxes))
    for provider, emulator in sandboxes.emulators.items():
        got = normalised(emulator.summary())  # type: ignore[attr-defined]
        for resource, want in expected.items():
            assert got.get(resource) == want, f"{provider} {resource}: {got.get(resource)} != {want}"
