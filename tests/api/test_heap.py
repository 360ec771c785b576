"""A dealflow process takes what start-up allocated out of the garbage collector's sight before it
works (dealflow.heap): `dealflow serve` before it serves, `dealflow import` before its job's batches."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn

from db import users as user_store
from dealflow import cli
from domain.imports import ImportJob, ImportStatus
from resolvers.imports import ImportRunner


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_serve_freezes_its_start_up_heap_before_it_serves(
    db_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    frozen: list[int] = []
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    monkeypatch.setenv("DEALFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: frozen.append(gc.get_freeze_count()))
    assert gc.get_freeze_count() == 0
    await asyncio.to_thread(
        cli.app, args=["serve", "--port", "0"], prog_name="dealflow", standalone_mode=False
    )
    assert len(frozen) == 1
    assert frozen[0] > 10_000  # the modules and the schema, at least


async def test_the_cli_import_freezes_its_start_up_heap_before_its_batches(
    db_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await user_store.insert_user(conn, email="admin@example.com", name="Admin", is_super_admin=True)
    finally:
        await conn.close()
    path = tmp_path / "contacts.csv"
    path.write_text("Email,First name\na@example.com,A\nb@example.com,B\n")
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    monkeypatch.setenv("DEALFLOW_DATA_DIR", str(tmp_path / "data"))
    frozen: list[int] = []
    work = ImportRunner.work

    async def watched(self: ImportRunner, job: ImportJob, on_progress: Any = None) -> ImportJob:
        frozen.append(gc.get_freeze_count())
        return await work(self, job, on_progress)

    monkeypatch.setattr(ImportRunner, "work", watched)
    assert gc.get_freeze_count() == 0
    await asyncio.to_thread(
        cli.app, args=["import", "contact", str(path)], prog_name="dealflow", standalone_mode=False
    )
    assert len(frozen) == 1
    assert frozen[0] > 10_000
    conn = await asyncpg.connect(db_dsn)
    try:
        status = await conn.fetchval("SELECT status FROM imports")
        count = await conn.fetchval("SELECT count(*) FROM contacts")
    finally:
        await conn.close()
    assert (status, count) == (ImportStatus.DONE.value, 2)
