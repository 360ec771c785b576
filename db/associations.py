"""Associations: contact-company (one primary per contact), deal-contact, deal-company."""

from __future__ import annotations

from collections.abc import Sequence

from .pool import Conn, Executor

# (from type, to type) -> (table, from column, to column)
LINKS = {
    ("CONTACT", "COMPANY"): ("contact_companies", "contact_id", "company_id"),
    ("COMPANY", "CONTACT"): ("contact_companies", "company_id", "contact_id"),
    ("DEAL", "CONTACT"): ("deal_contacts", "deal_id", "contact_id"),
    ("CONTACT", "DEAL"): ("deal_contacts", "contact_id", "deal_id"),
    ("DEAL", "COMPANY"): ("deal_companies", "deal_id", "company_id"),
    ("COMPANY", "DEAL"): ("deal_companies", "company_id", "deal_id"),
}


async def link(
    conn: Conn, from_type: str, from_ids: Sequence[int], to_type: str, to_ids: Sequence[int]
) -> None:
    """Associate every from_id with every to_id (pairs zipped when both lists have equal length > 1)."""
    table, a, b = LINKS[(from_type, to_type)]
    pairs = [(f, t) for f in from_ids for t in to_ids]
    if not pairs:
        return
    await conn.execute(
        f"""
        INSERT INTO {table} ({a}, {b}) SELECT * FROM unnest($1::bigint[], $2::bigint[])
        ON CONFLICT DO NOTHING
        """,  # noqa: S608 (names from LINKS)
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )


async def set_primary_company(conn: Conn, contact_id: int, company_id: int) -> int | None:
    """Make company_id the contact's primary company; return the previous primary, if any."""
    previous: int | None = await conn.fetchval(
        "SELECT company_id FROM contact_companies WHERE contact_id = $1 AND is_primary", contact_id
    )
    await conn.execute(
        "UPDATE contact_companies SET is_primary = false WHERE contact_id = $1 AND is_primary", contact_id
    )
    await conn.execute(
        """
        INSERT INTO contact_companies (contact_id, company_id, is_primary) VALUES ($1, $2, true)
        ON CONFLICT (contact_id, company_id) DO UPDATE SET is_primary = true
        """,
        contact_id,
        company_id,
    )
    return previous


async def linked(
    conn: Executor, from_type: str, from_ids: Sequence[int], to_type: str
) -> list[tuple[int, int]]:
    """(from_id, to_id) pairs, to ids in id order."""
    table, a, b = LINKS[(from_type, to_type)]
    rows = await conn.fetch(
        f"SELECT {a} AS f, {b} AS t FROM {table} WHERE {a} = ANY($1) ORDER BY {b}",  # noqa: S608
        list(from_ids),
    )
    return [(r["f"], r["t"]) for r in rows]


async def primary_companies(conn: Executor, contact_ids: Sequence[int]) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT contact_id, company_id FROM contact_companies WHERE contact_id = ANY($1) AND is_primary",
        list(contact_ids),
    )
    return {r["contact_id"]: r["company_id"] for r in rows}
