"""Quotes with their line items, and the quote approval setting."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from domain.quotes import LineItem, Quote, QuoteSettings, QuoteStatus
from domain.records import ChangeSource

from .errors import NotFound
from .pool import Conn, Executor
from .records import awaiting_approver_sql

QUOTE_COLUMNS = (
    "q.id, q.deal_id, q.title, q.status, q.currency, q.terms, q.expires_at, q.created_by, q.approver_id,"
    " q.change_notes, q.public_token, q.published_at, q.properties, q.created_at, q.updated_at, q.version,"
    " q.signed_at, q.signer_name, q.signer_email"
)
LINE_ITEMS = """coalesce((SELECT jsonb_agg(jsonb_build_array(li.name, li.quantity, li.unit_price::text,
    li.discount_percent::text) ORDER BY li.position) FROM quote_line_items li WHERE li.quote_id = q.id),
    '[]') AS line_items"""
UPDATABLE = frozenset(
    {"title", "currency", "terms", "expires_at", "total", "status", "approver_id", "change_notes",
     "published_at", "properties", "signed_at", "signer_name", "signer_email"}
)  # fmt: skip


def visible_sql(owners: int, viewer: int) -> str:
    """A quote (q, its deal r) is visible with its deal, to the approver while it awaits them, and with
    a deal awaiting that approver (DESIGN 2). $owners: visible owner ids (NULL: all); $viewer: the viewer."""
    return f"""r.deleted_at IS NULL AND (${owners}::bigint[] IS NULL OR r.owner_id = ANY(${owners})
    OR (q.status = 'PENDING_APPROVAL' AND q.approver_id = ${viewer}) OR {awaiting_approver_sql(viewer)})"""


VISIBLE = visible_sql(2, 3)


def _items(value: Any) -> tuple[LineItem, ...]:
    rows = json.loads(value) if isinstance(value, str) else value
    return tuple(
        LineItem(name, quantity, Decimal(price), Decimal(discount))
        for name, quantity, price, discount in rows
    )


def quote_from_row(row: asyncpg.Record, items: Sequence[LineItem] | None = None) -> Quote:
    return Quote(
        id=row["id"],
        deal_id=row["deal_id"],
        title=row["title"],
        status=QuoteStatus(row["status"]),
        line_items=tuple(items) if items is not None else _items(row["line_items"]),
        currency=row["currency"],
        terms=row["terms"],
        expires_at=row["expires_at"],
        created_by=row["created_by"],
        approver_id=row["approver_id"],
        change_notes=row["change_notes"],
        public_token=row["public_token"],
        published_at=row["published_at"],
        properties=row["properties"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        signed_at=row["signed_at"],
        signer_name=row["signer_name"],
        signer_email=row["signer_email"],
    )


async def get_settings(conn: Executor) -> QuoteSettings:
    row = await conn.fetchrow("SELECT approval_required, approver_id FROM quote_settings")
    assert row is not None, "migration 0007 inserts the settings row"
    return QuoteSettings(row["approval_required"], row["approver_id"])


async def lock_settings(conn: Conn) -> QuoteSettings:
    row = await conn.fetchrow("SELECT approval_required, approver_id FROM quote_settings FOR UPDATE")
    assert row is not None, "migration 0007 inserts the settings row"
    return QuoteSettings(row["approval_required"], row["approver_id"])


async def update_settings(conn: Conn, required: bool, approver_id: int | None) -> QuoteSettings:
    row = await conn.fetchrow(
        """
        UPDATE quote_settings SET approval_required = $1, approver_id = $2, updated_at = now()
        RETURNING approval_required, approver_id
        """,
        required,
        approver_id,
    )
    assert row is not None
    return QuoteSettings(row["approval_required"], row["approver_id"])


async def insert_quote(
    conn: Conn,
    *,
    deal_id: int,
    title: str,
    currency: str,
    terms: str | None,
    expires_at: datetime | None,
    total: Decimal,
    created_by: int,
    public_token: str,
    items: Sequence[LineItem],
) -> Quote:
    row = await conn.fetchrow(
        f"""
        WITH q AS (
            INSERT INTO quotes AS q (deal_id, title, currency, terms, expires_at, total, created_by, public_token)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {QUOTE_COLUMNS}
        ), li AS (
            INSERT INTO quote_line_items (quote_id, position, name, quantity, unit_price, discount_percent)
            SELECT q.id, x.o - 1, x.n, x.qty, x.up, x.dp
              FROM q, unnest($9::text[], $10::int[], $11::numeric[], $12::numeric[])
                      WITH ORDINALITY AS x (n, qty, up, dp, o)
        )
        SELECT * FROM q
        """,  # noqa: S608 (columns from a constant)
        deal_id,
        title,
        currency,
        terms,
        expires_at,
        total,
        created_by,
        public_token,
        [i.name for i in items],
        [i.quantity for i in items],
        [i.unit_price for i in items],
        [i.discount_percent for i in items],
    )
    assert row is not None
    return quote_from_row(row, items)


async def replace_line_items(conn: Conn, quote_id: int, items: Sequence[LineItem]) -> None:
    await conn.execute("DELETE FROM quote_line_items WHERE quote_id = $1", quote_id)
    await conn.execute(
        """
        INSERT INTO quote_line_items (quote_id, position, name, quantity, unit_price, discount_percent)
        SELECT $1, x.o - 1, x.n, x.qty, x.up, x.dp
          FROM unnest($2::text[], $3::int[], $4::numeric[], $5::numeric[]) WITH ORDINALITY AS x (n, qty, up, dp, o)
        """,
        quote_id,
        [i.name for i in items],
        [i.quantity for i in items],
        [i.unit_price for i in items],
        [i.discount_percent for i in items],
    )


async def update_quote(conn: Conn, quote_id: int, values: Mapping[str, Any]) -> Quote:
    unknown = set(values) - UPDATABLE
    assert not unknown, f"not updatable quote columns: {unknown}"
    assignments = [f"{c} = ${n}" for n, c in enumerate(values, start=2)]
    row = await conn.fetchrow(
        f"""
        UPDATE quotes q SET {", ".join([*assignments, "version = q.version + 1", "updated_at = now()"])}
         WHERE q.id = $1
        RETURNING {QUOTE_COLUMNS}, {LINE_ITEMS}
        """,  # noqa: S608 (columns from UPDATABLE)
        quote_id,
        *values.values(),
    )
    if row is None:
        raise NotFound("quote", quote_id)
    return quote_from_row(row)


async def lock_quote(conn: Conn, quote_id: int, owners: frozenset[int] | None, viewer_id: int) -> Quote:
    row = await conn.fetchrow(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE q.id = $1 AND {VISIBLE}
           FOR UPDATE OF q
        """,  # noqa: S608 (columns from constants)
        quote_id,
        None if owners is None else list(owners),
        viewer_id,
    )
    if row is None:
        raise NotFound("quote", quote_id)
    return quote_from_row(row)


async def get_quotes(
    conn: Executor, ids: Sequence[int], owners: frozenset[int] | None, viewer_id: int
) -> list[Quote]:
    rows = await conn.fetch(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE q.id = ANY($1) AND {VISIBLE}
        """,  # noqa: S608 (columns from constants)
        list(ids),
        None if owners is None else list(owners),
        viewer_id,
    )
    return [quote_from_row(r) for r in rows]


async def list_deal_quotes(
    conn: Executor, deal_ids: Sequence[int], owners: frozenset[int] | None, viewer_id: int
) -> list[Quote]:
    """The quotes of deals the viewer may see; a quote approver sees only those awaiting them."""
    rows = await conn.fetch(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE q.deal_id = ANY($1) AND {VISIBLE} ORDER BY q.deal_id, q.id
        """,  # noqa: S608 (columns from constants)
        list(deal_ids),
        None if owners is None else list(owners),
        viewer_id,
    )
    return [quote_from_row(r) for r in rows]


async def list_quotes(
    conn: Executor, *, where: str, args: Sequence[Any], order: str, limit: int
) -> list[Quote]:
    """`where` (over q and its deal r) and `order` come from db.filters and `visible_sql` only."""
    rows = await conn.fetch(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE {where} ORDER BY {order} LIMIT {int(limit)}
        """,  # noqa: S608 (built from whitelisted columns)
        *args,
    )
    return [quote_from_row(r) for r in rows]


async def count_quotes(conn: Executor, *, where: str, args: Sequence[Any]) -> int:
    value: int = await conn.fetchval(
        f"SELECT count(*) FROM quotes q JOIN deals r ON r.id = q.deal_id WHERE {where}",  # noqa: S608
        *args,
    )
    return value


async def get_shared_quote(conn: Executor, public_token: str) -> Quote | None:
    row = await conn.fetchrow(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE q.public_token = $1 AND q.status IN ('PUBLISHED', 'SIGNED') AND r.deleted_at IS NULL
        """,  # noqa: S608 (columns from constants)
        public_token,
    )
    return None if row is None else quote_from_row(row)


async def lock_quote_by_token(conn: Conn, public_token: str) -> Quote | None:
    row = await conn.fetchrow(
        f"""
        SELECT {QUOTE_COLUMNS}, {LINE_ITEMS} FROM quotes q JOIN deals r ON r.id = q.deal_id
         WHERE q.public_token = $1 AND r.deleted_at IS NULL
           FOR UPDATE OF q
        """,  # noqa: S608 (columns from constants)
        public_token,
    )
    return None if row is None else quote_from_row(row)


async def insert_history(
    conn: Conn,
    quote_id: int,
    name: str,
    old_value: str | None,
    new_value: str | None,
    *,
    source: ChangeSource,
    changed_by: int | None,
) -> None:
    await conn.execute(
        """
        INSERT INTO record_changes (object_type, object_id, changes, source, changed_by)
        VALUES ('QUOTE', $1, json_build_object($2::text, json_build_array($3::text, $4::text)), $5, $6)
        """,
        quote_id,
        name,
        old_value,
        new_value,
        source.value,
        changed_by,
    )
