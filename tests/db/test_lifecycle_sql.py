"""Lifecycle automation SQL against PostgreSQL: forward-only advance, history, close date, first deal, sync."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from db.associations import link, set_primary_company
from db.lifecycle import Advanced, advance, first_deal_records, get_settings, primary_contacts
from db.pipelines import insert_pipeline
from db.records import insert_record, soft_delete
from domain.lifecycle import ORDER, LifecycleStage
from domain.records import ObjectType, StageKind

L = LifecycleStage
CONTACT, COMPANY, DEAL = ObjectType.CONTACT, ObjectType.COMPANY, ObjectType.DEAL
LIFECYCLE_TYPES = [CONTACT, COMPANY]
TABLES = {CONTACT: "contacts", COMPANY: "companies"}

# Every (current, proposed) pair of the eight stages, by display order, and the empty stage.
MOVES = [(a, b) for i, a in enumerate(ORDER) for j, b in enumerate(ORDER) if j > i]
STAYS = [(a, b) for i, a in enumerate(ORDER) for j, b in enumerate(ORDER) if j <= i]
FROM_EMPTY = [(None, b) for b in ORDER]


async def insert_user(conn: asyncpg.Connection, email: str) -> int:
    user_id: int = await conn.fetchval("INSERT INTO users (email, name) VALUES ($1, $1) RETURNING id", email)
    return user_id


async def new_record(
    conn: asyncpg.Connection,
    object_type: ObjectType,
    stage: LifecycleStage | None,
    owner_id: int | None = None,
) -> int:
    values = {"lifecycle_stage": stage.value if stage else None}
    record = await insert_record(conn, object_type, values, owner_id=owner_id, properties={})
    return record.id


async def new_deal(conn: asyncpg.Connection, object_type: ObjectType, ids: list[int]) -> int:
    """An open deal associated with these contacts or companies."""
    pipeline = await insert_pipeline(conn, "Sales", [("Open", 0.5, StageKind.OPEN)])
    values = {"name": "Deal", "pipeline_id": pipeline.id, "stage_id": pipeline.stages[0].id}
    deal = await insert_record(conn, DEAL, values, owner_id=None, properties={})
    await link(conn, "DEAL", [deal.id], object_type.value, ids)
    return deal.id


async def stages_of(conn: asyncpg.Connection, object_type: ObjectType, ids: list[int]) -> list[str | None]:
    rows = await conn.fetch(
        f"SELECT id, lifecycle_stage FROM {TABLES[object_type]} WHERE id = ANY($1)",
        ids,
    )
    by_id = {r["id"]: r["lifecycle_stage"] for r in rows}
    return [by_id[i] for i in ids]


def test_the_advance_table_covers_every_pair_of_stages_and_the_empty_stage() -> None:
    assert len(MOVES) + len(STAYS) == len(ORDER) ** 2 == 64
    assert len(FROM_EMPTY) == 8


# --- never backwards ------------------------------------------------------------------------------------


@pytest.mark.parametrize("proposed", ORDER, ids=[s.value for s in ORDER])
async def test_an_automatic_change_moves_a_record_forward_never_backwards_and_fills_an_empty_stage(
    conn: asyncpg.Connection, proposed: LifecycleStage
) -> None:
    """All pairs with this proposed stage at once: one database per proposed stage, 72 pairs in all."""
    table = [pair for pair in (*MOVES, *STAYS, *FROM_EMPTY) if pair[1] is proposed]
    assert len(table) == len(ORDER) + 1
    moving = {pair for pair in (*MOVES, *FROM_EMPTY) if pair[1] is proposed}
    for object_type in LIFECYCLE_TYPES:
        ids = {current: await new_record(conn, object_type, current) for current, _ in table}
        moved = await advance(conn, object_type, list(ids.values()), proposed, changed_by=None)
        after = dict(zip(ids, await stages_of(conn, object_type, list(ids.values())), strict=True))
        wrong = [
            (object_type.value, current, proposed, after[current])
            for current, _ in table
            if after[current] != (proposed if (current, proposed) in moving else current)
        ]
        assert wrong == []
        assert {m.id for m in moved} == {ids[current] for current, _ in moving}


# --- what advance records and returns -------------------------------------------------------------------


async def test_an_automatic_change_is_recorded_in_history_as_automation_with_old_and_new_values(
    conn: asyncpg.Connection,
) -> None:
    me = await insert_user(conn, "me@example.com")
    empty, lead = await new_record(conn, COMPANY, None), await new_record(conn, COMPANY, L.LEAD)
    customer = await new_record(conn, COMPANY, L.CUSTOMER)
    await advance(conn, COMPANY, [empty, lead, customer], L.OPPORTUNITY, changed_by=me)
    rows = await conn.fetch(
        """
        SELECT object_type, object_id, name, old_value, new_value, source, changed_by FROM property_history
         WHERE object_id = ANY($1) ORDER BY object_id
        """,
        [empty, lead, customer],
    )
    assert [tuple(r) for r in rows] == [
        ("COMPANY", empty, "lifecycleStage", None, "OPPORTUNITY", "AUTOMATION", me),
        ("COMPANY", lead, "lifecycleStage", "LEAD", "OPPORTUNITY", "AUTOMATION", me),
    ]


async def test_advance_returns_only_the_records_that_moved_and_leaves_the_others_untouched(
    conn: asyncpg.Connection,
) -> None:
    owner = await insert_user(conn, "owner@example.com")
    lead = await new_record(conn, CONTACT, L.LEAD, owner)
    empty = await new_record(conn, CONTACT, None)
    same, further = (
        await new_record(conn, CONTACT, L.OPPORTUNITY),
        await new_record(conn, CONTACT, L.EVANGELIST),
    )
    deleted = await new_record(conn, CONTACT, L.LEAD)
    await soft_delete(conn, CONTACT, deleted)
    before = {r["id"]: r["version"] for r in await conn.fetch("SELECT id, version FROM contacts")}
    ids = [lead, empty, same, further, deleted]

    moved = await advance(conn, CONTACT, ids, L.OPPORTUNITY, changed_by=None)

    assert moved == [Advanced(lead, "LEAD", owner), Advanced(empty, None, None)]
    after = {r["id"]: r["version"] for r in await conn.fetch("SELECT id, version FROM contacts")}
    assert {i: after[i] - before[i] for i in ids} == {lead: 1, empty: 1, same: 0, further: 0, deleted: 0}
    assert await stages_of(conn, CONTACT, ids) == [
        "OPPORTUNITY",
        "OPPORTUNITY",
        "OPPORTUNITY",
        "EVANGELIST",
        "LEAD",
    ]
    touched = await conn.fetch(
        "SELECT DISTINCT object_id FROM property_history WHERE object_id = ANY($1)", ids
    )
    assert {r["object_id"] for r in touched} == {lead, empty}


# --- close date and days to close -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "won", "days"),
    [
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, 12, tzinfo=UTC), 60),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 23, 59, tzinfo=UTC), 0),
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), 0),
    ],
    ids=["sixty-days-and-a-half", "same-day", "won-before-created"],
)
async def test_a_won_deal_sets_close_date_and_whole_days_to_close_since_creation(
    conn: asyncpg.Connection, created: datetime, won: datetime, days: int
) -> None:
    for object_type in LIFECYCLE_TYPES:
        record = await new_record(conn, object_type, L.OPPORTUNITY)
        table = TABLES[object_type]
        await conn.execute(f"UPDATE {table} SET created_at = $2 WHERE id = $1", record, created)
        await advance(conn, object_type, [record], L.CUSTOMER, changed_by=None, won_at=won)
        row = await conn.fetchrow(
            f"SELECT lifecycle_stage, close_date, days_to_close FROM {table} WHERE id = $1",
            record,
        )
        assert tuple(row) == ("CUSTOMER", won, days)


async def test_an_automatic_change_without_a_won_deal_leaves_close_date_and_days_to_close_alone(
    conn: asyncpg.Connection,
) -> None:
    closed = datetime(2023, 6, 1, tzinfo=UTC)
    for object_type in LIFECYCLE_TYPES:
        set_before, empty_before = (
            await new_record(conn, object_type, L.LEAD),
            await new_record(conn, object_type, L.LEAD),
        )
        table = TABLES[object_type]
        await conn.execute(
            f"UPDATE {table} SET close_date = $2, days_to_close = 5 WHERE id = $1",
            set_before,
            closed,
        )
        moved = await advance(conn, object_type, [set_before, empty_before], L.CUSTOMER, changed_by=None)
        assert len(moved) == 2
        rows = await conn.fetch(
            f"SELECT close_date, days_to_close FROM {table} WHERE id = ANY($1) ORDER BY id",
            [set_before, empty_before],
        )
        assert [tuple(r) for r in rows] == [(closed, 5), (None, None)]


# --- first deal -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("object_type", LIFECYCLE_TYPES, ids=[t.value for t in LIFECYCLE_TYPES])
async def test_only_records_whose_only_live_deal_is_the_new_one_have_a_first_deal(
    conn: asyncpg.Connection, object_type: ObjectType
) -> None:
    only, second, after_deleted, none = [await new_record(conn, object_type, L.LEAD) for _ in range(4)]
    await new_deal(conn, object_type, [second])
    await soft_delete(conn, DEAL, await new_deal(conn, object_type, [after_deleted]))
    await new_deal(conn, object_type, [only, second, after_deleted])

    firsts = await first_deal_records(conn, object_type, [only, second, after_deleted, none])

    assert sorted(firsts) == [only, after_deleted]


async def test_a_deal_created_for_a_customer_leaves_it_a_customer_and_a_lead_becomes_an_opportunity(
    conn: asyncpg.Connection,
) -> None:
    customer, lead = await new_record(conn, CONTACT, L.CUSTOMER), await new_record(conn, CONTACT, L.LEAD)
    company = await new_record(conn, COMPANY, L.LEAD)
    deal = await new_deal(conn, CONTACT, [customer, lead])
    await link(conn, "DEAL", [deal], "COMPANY", [company])
    stage = (await get_settings(conn)).stage_on_deal_created
    assert stage is L.OPPORTUNITY

    for object_type, ids in ((CONTACT, [customer, lead]), (COMPANY, [company])):
        await advance(
            conn, object_type, await first_deal_records(conn, object_type, ids), stage, changed_by=None
        )

    assert await stages_of(conn, CONTACT, [customer, lead]) == ["CUSTOMER", "OPPORTUNITY"]
    assert await stages_of(conn, COMPANY, [company]) == ["OPPORTUNITY"]


# --- company to contact sync ----------------------------------------------------------------------------


async def test_a_company_reaches_only_the_contacts_whose_primary_company_it_is(
    conn: asyncpg.Connection,
) -> None:
    company, other = await new_record(conn, COMPANY, None), await new_record(conn, COMPANY, None)
    primary, also_primary, secondary, elsewhere, moved_away = [
        await new_record(conn, CONTACT, None) for _ in range(5)
    ]
    for contact in (primary, also_primary, moved_away):
        await set_primary_company(conn, contact, company)
    for contact in (secondary, elsewhere, moved_away):
        await set_primary_company(conn, contact, other)
    await link(conn, "CONTACT", [secondary], "COMPANY", [company])

    assert await primary_contacts(conn, company) == sorted([primary, also_primary])


async def test_a_company_set_to_lead_updates_only_its_subscriber_contact_and_set_to_customer_updates_both(
    conn: asyncpg.Connection,
) -> None:
    company = await new_record(conn, COMPANY, None)
    subscriber, opportunity = (
        await new_record(conn, CONTACT, L.SUBSCRIBER),
        await new_record(conn, CONTACT, L.OPPORTUNITY),
    )
    for contact in (subscriber, opportunity):
        await set_primary_company(conn, contact, company)

    to_lead = await advance(conn, CONTACT, await primary_contacts(conn, company), L.LEAD, changed_by=None)
    assert [m.id for m in to_lead] == [subscriber]
    assert await stages_of(conn, CONTACT, [subscriber, opportunity]) == ["LEAD", "OPPORTUNITY"]

    to_customer = await advance(
        conn, CONTACT, await primary_contacts(conn, company), L.CUSTOMER, changed_by=None
    )
    assert [m.id for m in to_customer] == [subscriber, opportunity]
    assert await stages_of(conn, CONTACT, [subscriber, opportunity]) == ["CUSTOMER", "CUSTOMER"]
