"""Migrations: ordered .sql files in db/migrations, applied once each, recorded, under an advisory lock."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from db.migrate import apply_migrations, migration_files
from tests.harness import admin_execute, dsn_for, server_dsn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def empty_db_dsn() -> AsyncIterator[str]:
    """A brand-new database with nothing in it (not cloned from the migrated template)."""
    name = f"m_{uuid.uuid4().hex[:16]}"
    await admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn_for(server_dsn(), name)
    finally:
        await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def recorded(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    finally:
        await conn.close()


def test_migration_files_are_sql_files_in_name_order() -> None:
    names = [name for name, _ in migration_files()]
    assert names, "no migrations found"
    assert names == sorted(names)
    assert all(name.endswith(".sql") for name in names)
    on_disk = sorted(p.name for p in (ROOT / "db" / "migrations").glob("*.sql"))
    assert names == on_disk


async def test_migrations_are_applied_once_and_recorded(empty_db_dsn: str) -> None:
    names = [name for name, _ in migration_files()]
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        first = await apply_migrations(conn)
        second = await apply_migrations(conn)
    finally:
        await conn.close()
    assert first == names
    assert second == []
    assert await recorded(empty_db_dsn) == names


async def run_migrate(dsn: str, data_dir: Path) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": dsn, "DEALFLOW_DATA_DIR": str(data_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dealflow.cli",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_two_processes_migrating_at_once_do_not_race(empty_db_dsn: str, tmp_path: Path) -> None:
    names = [name for name, _ in migration_files()]
    results = await asyncio.gather(*(run_migrate(empty_db_dsn, tmp_path / "data") for _ in range(2)))
    for code, out, err in results:
        assert code == 0, f"migrate failed:\n{out}\n{err}"
    # Between them they applied each migration exactly once: one did all, the other found them done.
    applied = sorted(int(out.split()[1]) for _, out, _ in results)
    assert applied == [0, len(names)], [out for _, out, _ in results]
    assert await recorded(empty_db_dsn) == names
    assert not (tmp_path / "data").exists(), "DATABASE_URL was set, yet an embedded server was started"


async def test_the_history_written_before_one_row_per_change_reads_the_same_after_it(
    empty_db_dsn: str,
) -> None:
    """Migration 0021 moves property_history's rows into record_changes, one change each, and puts a
    view in the table's place: every row reads as it did, with its id, and new rows follow them."""
    files = migration_files()
    last = next(i for i, (name, _) in enumerate(files) if name.startswith("0021_"))
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        for _, sql in files[:last]:
            await conn.execute(sql)
        user = await conn.fetchval(
            "INSERT INTO users (email, name) VALUES ('h@example.com', 'H') RETURNING id"
        )
        await conn.execute(
            """
            INSERT INTO property_history (object_type, object_id, name, old_value, new_value, source, changed_by)
            VALUES ('CONTACT', 7, 'firstName', NULL, 'Ada', 'IMPORT', $1),
                   ('CONTACT', 7, 'email', 'a@example.com', NULL, 'API', NULL),
                   ('QUOTE', 3, 'status', 'DRAFT', 'PUBLISHED', 'WORKFLOW', $1)
            """,
            user,
        )
        columns = "id, object_type, object_id, name, old_value, new_value, source, changed_by, changed_at"
        before = [tuple(r) for r in await conn.fetch(f"SELECT {columns} FROM property_history ORDER BY id")]
        await conn.execute(files[last][1])
        after = [tuple(r) for r in await conn.fetch(f"SELECT {columns} FROM property_history ORDER BY id")]
        assert after == before
        assert await conn.fetchval("SELECT count(*) FROM record_changes") == 3
        added = await conn.fetchval(
            "INSERT INTO record_changes (object_type, object_id, changes, source) VALUES ('DEAL', 1, '{}', 'UI') RETURNING id"
        )
        assert added > before[-1][0]
    finally:
        await conn.close()
