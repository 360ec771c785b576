"""The test database handed from test to test: restored, it holds exactly what a fresh clone holds."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from db.pool import create_pool
from dealflow.seed import seed_demo
from tests.harness import SCHEMA_DIGEST, ReusedDatabase, clone_database, drop_database, dsn_for, server_dsn


async def state(dsn: str) -> dict[str, Any]:
    """Every table's rows, every sequence's position and the schema's digest."""
    conn = await asyncpg.connect(dsn)
    try:
        found: dict[str, Any] = {"schema": await conn.fetchval(SCHEMA_DIGEST)}
        for r in await conn.fetch(
            "SELECT relname, relkind::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'S') ORDER BY relname"
        ):
            name = r["relname"]
            if r["relkind"] == "S":
                found[name] = tuple(await conn.fetchrow(f'SELECT last_value, is_called FROM "{name}"'))
            else:
                found[name] = await conn.fetchval(
                    f"SELECT coalesce(string_agg(x::text, '|' ORDER BY x::text), '') FROM \"{name}\" x"
                )
                # Where the rows are stored: a plain scan reads them in this order, as in a fresh clone.
                found[f"{name} stored"] = tuple(
                    await conn.fetchrow(
                        f"SELECT pg_relation_size('\"{name}\"'), array_agg(ctid ORDER BY ctid)::text"
                        f' FROM "{name}"'
                    )
                )
        return found
    finally:
        await conn.close()


async def test_a_restored_database_holds_exactly_what_a_fresh_clone_holds(
    reused_db: ReusedDatabase, template_db: str
) -> None:
    dsn = await reused_db.fresh()
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        await seed_demo(pool, seed=5)
        await pool.execute("UPDATE pipelines SET label = 'Renamed'")
        await pool.execute("UPDATE stages SET label = label || '!'")
        await pool.execute("DELETE FROM outbox_pruned")
    finally:
        await pool.close()
    name = await clone_database(template_db)
    try:
        fresh = await state(dsn_for(server_dsn(), name))
        changed = await state(dsn)
        assert changed["schema"] == fresh["schema"]
        edited = {"contacts", "deals", "pipelines", "stages", "outbox_pruned", "deals stored"}
        assert {t for t in fresh if changed[t] != fresh[t]} >= edited

        assert await reused_db.fresh() == dsn  # restored in place, not cloned
        assert await state(dsn) == fresh
    finally:
        await drop_database(name)


async def test_open_connections_to_the_database_are_ended_when_it_is_restored(
    reused_db: ReusedDatabase,
) -> None:
    dsn = await reused_db.fresh()
    straggler = await asyncpg.connect(dsn)
    try:
        assert await reused_db.fresh() == dsn
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await straggler.fetchval("SELECT 1")
    finally:
        await straggler.close()


SCHEMA_CHANGES = [
    "ALTER TABLE contacts ADD CONSTRAINT no_mallory CHECK (first_name <> 'Mallory')",
    "ALTER TABLE contacts ADD COLUMN extra text",
    "ALTER TABLE contacts ALTER COLUMN first_name SET DEFAULT 'x'",
    "ALTER TABLE contacts ALTER COLUMN created_at DROP NOT NULL",
    "ALTER TABLE contacts ALTER COLUMN first_name TYPE varchar(200)",
    "ALTER TABLE contacts DISABLE TRIGGER ALL",
    "CREATE INDEX contacts_extra ON contacts (last_name)",
    "CREATE TABLE scratch (id int)",
    "CREATE SEQUENCE scratch_seq",
    "CREATE VIEW scratch_view AS SELECT 1 AS one",
    "CREATE FUNCTION scratch_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE TYPE scratch_type AS ENUM ('a')",
    "ALTER TABLE contacts ENABLE ROW LEVEL SECURITY",
    "ALTER DATABASE {database} SET work_mem = '8MB'",
]


@pytest.mark.parametrize("ddl", SCHEMA_CHANGES)
async def test_a_database_whose_schema_a_test_changed_is_replaced_by_a_fresh_clone(
    reused_db: ReusedDatabase, template_db: str, ddl: str
) -> None:
    dsn = await reused_db.fresh()
    conn = await asyncpg.connect(dsn)
    try:
        before = await conn.fetchval(SCHEMA_DIGEST)
        await conn.execute(ddl.format(database=f'"{reused_db.name}"'))
        assert await conn.fetchval(SCHEMA_DIGEST) != before
    finally:
        await conn.close()
    replaced = await reused_db.fresh()
    assert replaced != dsn
    name = await clone_database(template_db)
    try:
        assert await state(replaced) == await state(dsn_for(server_dsn(), name))
    finally:
        await drop_database(name)
