"""Filter SQL against PostgreSQL: each operator returns exactly the rows it should, and keyset pages tile."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from db.filters import keyset_sql, order_sql, where_sql
from domain.filters import CATALOGS, Sort, parse_filter_groups, parse_sort
from domain.records import ObjectType

CONTACT, COMPANY, DEAL, TICKET = ObjectType.CONTACT, ObjectType.COMPANY, ObjectType.DEAL, ObjectType.TICKET
TABLES = {CONTACT: "contacts", COMPANY: "companies", DEAL: "deals", TICKET: "tickets"}
T1, T2, T3 = (datetime(2024, month, 1, tzinfo=UTC) for month in (1, 2, 3))

Groups = list[list[dict[str, object]]]


def f(prop: str, op: str, value: object = None, values: list[str] | None = None) -> dict[str, object]:
    return {"property": prop, "operator": op, "value": value, "values": values}


async def matching(conn: asyncpg.Connection, object_type: ObjectType, groups: Groups) -> set[int]:
    where, args = where_sql(parse_filter_groups(object_type, groups), "r", 1)
    rows = await conn.fetch(f"SELECT r.id FROM {TABLES[object_type]} r WHERE {where}", *args)
    return {row["id"] for row in rows}


async def insert_user(conn: asyncpg.Connection, email: str) -> int:
    user_id: int = await conn.fetchval("INSERT INTO users (email, name) VALUES ($1, $1) RETURNING id", email)
    return user_id


@pytest.fixture
async def contacts(conn: asyncpg.Connection) -> dict[str, int]:
    u1, u2 = await insert_user(conn, "u1@example.com"), await insert_user(conn, "u2@example.com")
    rows = [
        ("ann", "Ann@Example.com", "Ann", "Lee", "Acme 100% Corp", "LEAD", u1,
         {"tier": "Gold", "score": "15"}, T1, datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("bob", "bob@example.org", "Bob", None, "Acme\\Labs", "CUSTOMER", None,
         {"tier": "silver", "score": 7}, T2, None),
        ("cho", None, "", "Cho", None, None, u2, {"score": "n/a", "tier": ""}, T3, None),
        ("dee", "dee_x@example.com", "Dee", "Cho", "100 Acme", "LEAD", u1,
         {"tier": None, "score": "", "note": "50% off"}, datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)),
    ]  # fmt: skip
    ids = {"u1": u1, "u2": u2}
    for label, *values in rows:
        ids[str(label)] = await conn.fetchval(
            """
            INSERT INTO contacts (email, first_name, last_name, company_name, lifecycle_stage, owner_id,
                                  properties, created_at, last_activity_date)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            *values,
        )
    return ids


CONTACT_CASES: list[tuple[Groups, set[str]]] = [
    ([[f("email", "EQ", "ann@EXAMPLE.com")]], {"ann"}),
    ([[f("email", "NEQ", "ANN@example.com")]], {"bob", "cho", "dee"}),
    ([[f("firstName", "NEQ", "bob")]], {"ann", "cho", "dee"}),
    ([[f("lastName", "NEQ", "cho")]], {"ann", "bob"}),
    ([[f("lastName", "IN", values=["LEE", "cho"])]], {"ann", "cho", "dee"}),
    ([[f("lastName", "NOT_IN", values=["lee"])]], {"bob", "cho", "dee"}),
    ([[f("lastName", "NOT_IN", values=["CHO", "x"])]], {"ann", "bob"}),
    ([[f("companyName", "CONTAINS", "100%")]], {"ann"}),
    ([[f("companyName", "CONTAINS", "acme")]], {"ann", "bob", "dee"}),
    ([[f("companyName", "CONTAINS", "e\\l")]], {"bob"}),
    ([[f("email", "CONTAINS", "_")]], {"dee"}),
    ([[f("email", "CONTAINS", "E_X")]], {"dee"}),
    ([[f("firstName", "HAS_PROPERTY")]], {"ann", "bob", "dee"}),
    ([[f("firstName", "NOT_HAS_PROPERTY")]], {"cho"}),
    ([[f("email", "NOT_HAS_PROPERTY")]], {"cho"}),
    ([[f("lifecycleStage", "EQ", "LEAD")]], {"ann", "dee"}),
    ([[f("lifecycleStage", "NEQ", "LEAD")]], {"bob", "cho"}),
    ([[f("lifecycleStage", "IN", values=["CUSTOMER", "LEAD"])]], {"ann", "bob", "dee"}),
    ([[f("lifecycleStage", "NOT_IN", values=["LEAD"])]], {"bob", "cho"}),
    ([[f("lifecycleStage", "HAS_PROPERTY")]], {"ann", "bob", "dee"}),
    ([[f("createdAt", "GTE", "2024-02-01")]], {"bob", "cho", "dee"}),
    ([[f("createdAt", "GT", "2024-02-01")]], {"cho", "dee"}),
    ([[f("createdAt", "LT", "2024-02-01")]], {"ann"}),
    ([[f("createdAt", "LTE", "2024-02-01T00:00:00Z")]], {"ann", "bob"}),
    ([[f("createdAt", "EQ", "2024-03-01T01:00:00+01:00")]], {"cho"}),
    ([[f("lastActivityDate", "LT", "2024-03-02")]], {"ann"}),
    ([[f("lastActivityDate", "NEQ", "2024-03-01T12:00:00Z")]], {"bob", "cho", "dee"}),
    ([[f("lastActivityDate", "HAS_PROPERTY")]], {"ann", "dee"}),
    ([[f("lastContacted", "NOT_HAS_PROPERTY")]], {"ann", "bob", "cho", "dee"}),
    ([[f("properties.tier", "EQ", "gold")]], {"ann"}),
    ([[f("properties.tier", "NEQ", "GOLD")]], {"bob", "cho", "dee"}),
    ([[f("properties.tier", "IN", values=["GOLD", "Silver"])]], {"ann", "bob"}),
    ([[f("properties.tier", "NOT_IN", values=["gold"])]], {"bob", "cho", "dee"}),
    ([[f("properties.tier", "CONTAINS", "ILV")]], {"bob"}),
    ([[f("properties.tier", "HAS_PROPERTY")]], {"ann", "bob"}),
    ([[f("properties.tier", "NOT_HAS_PROPERTY")]], {"cho", "dee"}),
    ([[f("properties.score", "EQ", "7")]], {"bob"}),
    ([[f("properties.score", "GT", "10")]], {"ann"}),
    ([[f("properties.score", "GTE", "7")]], {"ann", "bob"}),
    ([[f("properties.score", "LTE", "7.0")]], {"bob"}),
    ([[f("properties.score", "LT", "100")]], {"ann", "bob"}),
    ([[f("properties.note", "CONTAINS", "0%")]], {"dee"}),
    ([[f("properties.no-such-key", "HAS_PROPERTY")]], set()),
    ([[f("properties.no-such-key", "NOT_HAS_PROPERTY")]], {"ann", "bob", "cho", "dee"}),
    ([[f("properties.no-such-key", "NEQ", "x")]], {"ann", "bob", "cho", "dee"}),
    ([[f("firstName", "EQ", "ann"), f("lifecycleStage", "EQ", "LEAD")]], {"ann"}),
    ([[f("firstName", "EQ", "ann"), f("lifecycleStage", "EQ", "CUSTOMER")]], set()),
    ([[f("firstName", "EQ", "ann"), f("lifecycleStage", "EQ", "LEAD")], [f("lastName", "EQ", "cho")]],
     {"ann", "cho", "dee"}),
    ([[f("properties.tier", "HAS_PROPERTY"), f("properties.score", "LT", "10")], [f("email", "NOT_HAS_PROPERTY")]],
     {"bob", "cho"}),
    ([], {"ann", "bob", "cho", "dee"}),
]  # fmt: skip


@pytest.mark.parametrize(("groups", "expected"), CONTACT_CASES)
async def test_each_contact_filter_returns_exactly_the_matching_rows(
    conn: asyncpg.Connection, contacts: dict[str, int], groups: Groups, expected: set[str]
) -> None:
    assert await matching(conn, CONTACT, groups) == {contacts[label] for label in expected}


async def test_owner_filters_treat_an_unowned_record_as_not_equal(
    conn: asyncpg.Connection, contacts: dict[str, int]
) -> None:
    u1, u2 = str(contacts["u1"]), str(contacts["u2"])
    named = {v: k for k, v in contacts.items()}

    async def labels(groups: Groups) -> set[str]:
        return {named[i] for i in await matching(conn, CONTACT, groups)}

    assert await labels([[f("ownerId", "EQ", u1)]]) == {"ann", "dee"}
    assert await labels([[f("ownerId", "NEQ", u1)]]) == {"bob", "cho"}
    assert await labels([[f("ownerId", "IN", values=[u2])]]) == {"cho"}
    assert await labels([[f("ownerId", "NOT_IN", values=[u1])]]) == {"bob", "cho"}
    assert await labels([[f("ownerId", "NOT_HAS_PROPERTY")]]) == {"bob"}
    assert await labels([[f("id", "EQ", str(contacts["ann"]))]]) == {"ann"}


@pytest.fixture
async def stage(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT pipeline_id, id FROM stages ORDER BY pipeline_id, display_order LIMIT 1"
    )
    assert row is not None
    return row["pipeline_id"], row["id"]


async def insert_deal(
    conn: asyncpg.Connection,
    stage: tuple[int, int],
    name: str,
    *,
    amount: Decimal | None = None,
    close: datetime | None = None,
    approval: str | None = None,
    created: datetime = T1,
) -> int:
    deal_id: int = await conn.fetchval(
        """
        INSERT INTO deals (name, amount, pipeline_id, stage_id, close_date, latest_approval_status, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """,
        name, amount, *stage, close, approval, created,
    )  # fmt: skip
    return deal_id


@pytest.fixture
async def deals(conn: asyncpg.Connection, stage: tuple[int, int]) -> dict[str, int]:
    return {
        "big": await insert_deal(conn, stage, "Big deal", amount=Decimal(5000), close=T2, approval="PENDING"),
        "small": await insert_deal(conn, stage, "small deal", amount=Decimal("100.50")),
        "free": await insert_deal(conn, stage, "free deal"),
        "exact": await insert_deal(conn, stage, "exact", amount=Decimal(100), approval="APPROVED"),
    }


DEAL_CASES: list[tuple[Groups, set[str]]] = [
    ([[f("amount", "GT", "100")]], {"big", "small"}),
    ([[f("amount", "GTE", "100")]], {"big", "small", "exact"}),
    ([[f("amount", "LT", "100.5")]], {"exact"}),
    ([[f("amount", "LTE", "100.5")]], {"small", "exact"}),
    ([[f("amount", "EQ", "100.00")]], {"exact"}),
    ([[f("amount", "NEQ", "100")]], {"big", "small", "free"}),
    ([[f("amount", "IN", values=["100", "5000"])]], {"big", "exact"}),
    ([[f("amount", "NOT_IN", values=["100"])]], {"big", "small", "free"}),
    ([[f("amount", "NOT_HAS_PROPERTY")]], {"free"}),
    ([[f("closeDate", "LTE", "2024-02-01")]], {"big"}),
    ([[f("closeDate", "GT", "2024-02-01")]], set()),
    ([[f("closeDate", "HAS_PROPERTY")]], {"big"}),
    ([[f("latestApprovalStatus", "NOT_IN", values=["PENDING"])]], {"small", "free", "exact"}),
    ([[f("latestApprovalStatus", "EQ", "APPROVED")]], {"exact"}),
    ([[f("name", "EQ", "BIG DEAL")]], {"big"}),
    ([[f("name", "CONTAINS", "DEAL")], [f("amount", "EQ", "100")]], {"big", "small", "free", "exact"}),
    ([[f("name", "CONTAINS", "deal"), f("amount", "HAS_PROPERTY")]], {"big", "small"}),
    ([[f("currency", "EQ", "usd")]], {"big", "small", "free", "exact"}),
]  # fmt: skip


@pytest.mark.parametrize(("groups", "expected"), DEAL_CASES)
async def test_each_deal_filter_returns_exactly_the_matching_rows(
    conn: asyncpg.Connection, deals: dict[str, int], groups: Groups, expected: set[str]
) -> None:
    assert await matching(conn, DEAL, groups) == {deals[label] for label in expected}


async def test_stage_and_pipeline_filters_take_ids(
    conn: asyncpg.Connection, deals: dict[str, int], stage: tuple[int, int]
) -> None:
    pipeline_id, stage_id = stage
    groups = [[f("pipelineId", "EQ", str(pipeline_id)), f("stageId", "IN", values=[str(stage_id)])]]
    assert await matching(conn, DEAL, groups) == set(deals.values())


async def test_company_and_ticket_filters_use_their_own_columns(conn: asyncpg.Connection) -> None:
    company = await conn.fetchval(
        "INSERT INTO companies (name, domain) VALUES ('Acme', 'acme.io') RETURNING id"
    )
    await conn.execute("INSERT INTO companies (name, domain) VALUES ('Other', NULL)")
    ticket = await conn.fetchval("INSERT INTO tickets (subject) VALUES ('Printer on fire') RETURNING id")
    await conn.execute("INSERT INTO tickets (subject) VALUES ('All good')")
    assert await matching(conn, COMPANY, [[f("domain", "CONTAINS", "ACME.")]]) == {company}
    assert await matching(conn, TICKET, [[f("subject", "CONTAINS", "fire")]]) == {ticket}


async def test_placeholders_are_numbered_from_the_first_param(
    conn: asyncpg.Connection, deals: dict[str, int]
) -> None:
    groups = parse_filter_groups(DEAL, [[f("amount", "GTE", "100"), f("properties.x", "NOT_HAS_PROPERTY")]])
    where, args = where_sql(groups, "d", 2)
    assert "$1" not in where
    sql = f"SELECT d.id FROM deals d WHERE d.name <> $1 AND {where}"
    rows = await conn.fetch(sql, "exact", *args)
    assert {row["id"] for row in rows} == {deals["big"], deals["small"]}


async def test_every_catalog_column_exists_in_its_table(conn: asyncpg.Connection) -> None:
    for object_type, catalog in CATALOGS.items():
        rows = await conn.fetch(
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = $1",
            TABLES[object_type],
        )
        nullable = {row["column_name"]: row["is_nullable"] == "YES" for row in rows}
        for prop in catalog.values():
            assert nullable.get(prop.column) is prop.nullable, (object_type, prop.name)


PAGED = [
    ("b", Decimal(100), T1, None), ("a", None, T1, T2), ("b", Decimal(100), T2, None),
    ("c", Decimal(50), T1, T1), ("a", None, T3, None), ("a", Decimal(100), T2, T3),
    ("c", Decimal(50), T3, T1), ("b", None, T2, None), ("a", Decimal(75), T1, T2),
]  # fmt: skip


async def page_through(conn: asyncpg.Connection, sort: Sort, size: int, groups: Groups) -> list[int]:
    where, args = where_sql(parse_filter_groups(DEAL, groups), "d", 1)
    seen: list[int] = []
    cursor: tuple[object, int] | None = None
    while True:
        after, after_args = ("TRUE", []) if cursor is None else keyset_sql(sort, "d", cursor, len(args) + 1)
        rows = await conn.fetch(
            f"SELECT d.id, d.{sort.column} AS v FROM deals d WHERE {where} AND {after}"
            f" ORDER BY {order_sql(sort, 'd')} LIMIT {size}",
            *args,
            *after_args,
        )
        if not rows:
            return seen
        seen += [row["id"] for row in rows]
        cursor = (rows[-1]["v"], rows[-1]["id"])


@pytest.mark.parametrize(
    ("prop", "direction"),
    [(None, "DESC"), ("createdAt", "ASC"), ("amount", "ASC"), ("amount", "DESC"), ("closeDate", "DESC"),
     ("closeDate", "ASC"), ("name", "ASC"), ("name", "DESC"), ("id", "ASC"), ("id", "DESC")],
)  # fmt: skip
@pytest.mark.parametrize("size", [1, 2, 4])
async def test_keyset_pages_return_every_row_once_in_sort_order_across_ties_and_nulls(
    conn: asyncpg.Connection, stage: tuple[int, int], prop: str | None, direction: str, size: int
) -> None:
    rows = {
        await insert_deal(conn, stage, name, amount=amount, created=created, close=close): (
            name,
            amount,
            created,
            close,
        )
        for name, amount, created, close in PAGED
    }
    sort = parse_sort(DEAL, prop, direction)
    position = {"name": 0, "amount": 1, "created_at": 2, "close_date": 3}

    def value(deal_id: int) -> object:
        return deal_id if sort.column == "id" else rows[deal_id][position[sort.column]]

    descending = direction == "DESC"
    present = sorted(
        (i for i in rows if value(i) is not None), key=lambda i: (value(i), i), reverse=descending
    )
    missing = sorted((i for i in rows if value(i) is None), reverse=descending)
    assert await page_through(conn, sort, size, []) == present + missing


async def test_keyset_pages_respect_the_filter(conn: asyncpg.Connection, stage: tuple[int, int]) -> None:
    ids = [
        await insert_deal(conn, stage, name, amount=amount, created=created, close=close)
        for name, amount, created, close in PAGED
    ]
    groups = [[f("amount", "NEQ", "50"), f("name", "IN", values=["a", "b"])]]
    paged = await page_through(conn, parse_sort(DEAL), 2, groups)
    assert sorted(paged) == sorted(await matching(conn, DEAL, groups))
    assert len(paged) == len(set(paged)) == 7
    assert set(paged) <= set(ids)
