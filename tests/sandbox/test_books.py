"""The generated books: deterministic, sized by parameters, and internally consistent."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ledgerql.model.enums import DocumentStatus, PostingType
from ledgerql.sandbox.books import Books, BookSizes, generate_books


def test_same_seed_same_books() -> None:
    assert generate_books(3) == generate_books(3)
    assert generate_books(3).invoices != generate_books(4).invoices


def test_default_sizes_meet_the_brief(books: Books) -> None:
    assert len(books.customers) >= 30 and len(books.suppliers) >= 30
    assert len(books.invoices) >= 250 and len(books.bills) >= 250
    assert sum(1 for a in books.ledger_accounts if a.type.value == "BANK") >= 2
    assert {t.rate for t in books.tax_rates} >= {Decimal(0), Decimal(5), Decimal(20)}
    assert all(1 <= len(doc.line_items) <= 6 for doc in [*books.invoices, *books.bills])
    assert books.credit_notes and books.purchase_orders and books.expenses and books.journal_entries
    assert {inv.currency for inv in books.invoices} == {"GBP", "EUR"}


def test_sizes_are_parameters() -> None:
    tiny = generate_books(sizes=BookSizes.tiny())
    assert len(tiny.invoices) == 12 and len(tiny.customers) == 4
    assert len(generate_books(sizes=BookSizes.scaled(2)).bills) == 520


def test_documents_add_up(books: Books) -> None:
    for doc in [*books.invoices, *books.bills, *books.credit_notes, *books.purchase_orders]:
        assert doc.sub_total == sum(line.total_amount for line in doc.line_items)
        assert doc.total == doc.sub_total + doc.total_tax
        for line in doc.line_items:
            assert line.quantity is not None and line.unit_price is not None
            assert line.total_amount == line.quantity * line.unit_price


def test_balances_follow_allocations(books: Books) -> None:
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for payment in [*books.payments, *books.bill_payments]:
        assert payment.total_amount >= sum(a.amount for a in payment.allocations)
        for allocation in payment.allocations:
            applied[allocation.document_id] += allocation.amount
    for note in books.credit_notes:
        for allocation in note.allocations:
            applied[allocation.document_id] += allocation.amount
    for doc in [*books.invoices, *books.bills]:
        assert doc.balance == doc.total - applied[doc.id]
        if doc.balance == 0 and doc.status != DocumentStatus.DRAFT:
            assert doc.status == DocumentStatus.PAID


def test_payment_shapes_are_all_present(books: Books) -> None:
    for payments in (books.payments, books.bill_payments):
        assert any(len(p.allocations) > 1 for p in payments), "a payment split over several documents"
        assert any(p.total_amount > sum(a.amount for a in p.allocations) for p in payments), "an overpayment"
    docs = {d.id: d for d in [*books.invoices, *books.bills]}
    paid = [docs[a.document_id] for p in [*books.payments, *books.bill_payments] for a in p.allocations]
    assert any(d.status == DocumentStatus.PARTIALLY_PAID for d in paid)
    assert any(d.status == DocumentStatus.PAID for d in paid)


def test_journal_entries_balance(books: Books) -> None:
    for entry in books.journal_entries:
        debit = sum(x.amount for x in entry.line_items if x.type == PostingType.DEBIT)
        credit = sum(x.amount for x in entry.line_items if x.type == PostingType.CREDIT)
        assert debit == credit > 0
