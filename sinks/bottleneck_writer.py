"""Writes QBO payments into Bottleneck's ``invoice_payments`` / ``bill_payments`` (psycopg 3, async).

Keyed on (company, QBO payment id, document), as the tables' unique constraints are, so redelivery and
replay are harmless: an unchanged row is not touched at all (``updated_at`` stays), a changed one is
updated, a document the payment no longer pays and a voided or deleted payment get ``voided_at``.
Loop safety: this module writes these two tables and nothing else (never invoices/bills, whose changes
the outbound side would push to QBO).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from mappers.payments import DocumentKind, PaymentChange


@dataclass(frozen=True)
class _Table:
    name: str
    document_col: str
    payment_col: str


_TABLES: dict[DocumentKind, _Table] = {
    "invoice": _Table("invoice_payments", "invoice_id", "qbo_payment_id"),
    "bill": _Table("bill_payments", "bill_id", "qbo_bill_payment_id"),
}


class PaymentWriteError(Exception):
    """The change cannot be written as it is (e.g. the id map points at a document Bottleneck no longer
    has). Not transient: the caller dead-letters it with this message."""


@dataclass(frozen=True)
class WriteResult:
    inserted: int = 0
    updated: int = 0
    voided: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.voided)


async def apply_payment_change(conn: psycopg.AsyncConnection, change: PaymentChange) -> WriteResult:
    """Apply one payment's current state in one transaction. Idempotent."""
    t = _TABLES[change.kind]
    ident = {"table": sql.Identifier(t.name), "doc": sql.Identifier(t.document_col), "pay": sql.Identifier(t.payment_col)}
    inserted = updated = 0
    try:
        async with conn.transaction(), conn.cursor() as cur:
            for r in change.records:
                await cur.execute(
                    sql.SQL(
                        """
                            insert into {table} (company_id, {doc}, {pay}, amount, paid_on, method, reference)
                            values (%(company)s, %(doc_id)s, %(pid)s, %(amount)s, %(paid_on)s, %(method)s, %(ref)s)
                            on conflict (company_id, {pay}, {doc}) do update
                               set amount = excluded.amount, paid_on = excluded.paid_on, method = excluded.method,
                                   reference = excluded.reference, voided_at = null, updated_at = now()
                             where ({table}.amount, {table}.paid_on, {table}.method, {table}.reference, {table}.voided_at)
                                   is distinct from
                                   (excluded.amount, excluded.paid_on, excluded.method, excluded.reference, null::timestamptz)
                            returning (xmax = 0) as inserted
                            """
                    ).format(**ident),
                    {
                        "company": r.company_id,
                        "doc_id": r.document_id,
                        "pid": r.qbo_payment_id,
                        "amount": r.amount,
                        "paid_on": r.paid_on,
                        "method": r.method,
                        "ref": r.reference,
                    },
                )
                row = await cur.fetchone()
                if row is not None:  # no row: the existing one was identical, nothing written
                    inserted += int(row[0])
                    updated += int(not row[0])
            keep = [r.document_id for r in change.records]
            await cur.execute(
                sql.SQL(
                    """
                        update {table} set voided_at = %(at)s, updated_at = now()
                         where company_id = %(company)s and {pay} = %(pid)s and voided_at is null
                           and not ({doc} = any(%(keep)s::bigint[]))
                        """
                ).format(**ident),
                {
                    "at": change.changed_at or datetime.now(UTC),
                    "company": change.company_id,
                    "pid": change.qbo_payment_id,
                    "keep": keep,
                },
            )
            voided = cur.rowcount
    except psycopg.errors.ForeignKeyViolation as exc:
        raise PaymentWriteError(
            f"{t.name}: payment {change.qbo_payment_id} of company {change.company_id} names a "
            f"{change.kind} Bottleneck does not have ({exc.diag.message_detail or exc})"
        ) from exc
    return WriteResult(inserted=inserted, updated=updated, voided=voided)
