"""Import jobs, their stored files, row errors and keys; the set-based writes of one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from domain.codes import RuleCode
from domain.import_plan import Write
from domain.imports import COLUMNS, ImportJob, ImportStatus, RowError
from domain.records import ObjectType, Record, User, Viewer

from .pool import Conn, Executor
from .records import TABLES, record_from_row, select_list
from .users import USER_COLUMNS, user_from_row

JOB_COLUMNS = """id, object_type, status, created_by, rows_total, rows_processed, rows_created, rows_updated,
    error_count, warnings, failure"""
SQL_TYPES = {"amount": "numeric", "close_date": "timestamptz", "pipeline_id": "bigint", "stage_id": "bigint",
             "owner_id": "bigint"}  # fmt: skip


def job_from_row(row: asyncpg.Record) -> ImportJob:
    fields = {k: row[k] for k in ImportJob.__dataclass_fields__}
    return ImportJob(**{**fields, "object_type": ObjectType(row["object_type"]), "status": ImportStatus(row["status"]),
                        "warnings": tuple(row["warnings"])})  # fmt: skip


async def insert_import(conn: Conn, object_type: ObjectType, created_by: int) -> int:
    import_id: int = await conn.fetchval(
        "INSERT INTO imports (object_type, created_by) VALUES ($1, $2) RETURNING id",
        object_type.value,
        created_by,
    )
    return import_id


async def insert_chunk(conn: Conn, import_id: int, seq: int, data: bytes) -> None:
    await conn.execute(
        "INSERT INTO import_files (import_id, seq, data) VALUES ($1, $2, $3)", import_id, seq, data
    )


async def get_chunk(conn: Executor, import_id: int, seq: int) -> bytes | None:
    data: bytes | None = await conn.fetchval(
        "SELECT data FROM import_files WHERE import_id = $1 AND seq = $2", import_id, seq
    )
    return data


async def queue_import(
    conn: Conn, import_id: int, rows_total: int, warnings: Sequence[str], claimed_by: str | None, lease: float
) -> ImportJob:
    """Ready to run; claimed at once by `claimed_by` when given (a CLI running its own import)."""
    row = await conn.fetchrow(
        f"""
        UPDATE imports SET rows_total = $2, warnings = $3, claimed_by = $4,
               status = CASE WHEN $4::text IS NULL THEN 'QUEUED' ELSE 'RUNNING' END,
               lease_until = CASE WHEN $4::text IS NULL THEN NULL ELSE now() + make_interval(secs => $5) END,
               started_at = CASE WHEN $4::text IS NULL THEN NULL ELSE now() END
         WHERE id = $1 RETURNING {JOB_COLUMNS}
        """,  # noqa: S608
        import_id,
        rows_total,
        list(warnings),
        claimed_by,
        lease,
    )
    assert row is not None
    return job_from_row(row)


async def get_import(conn: Executor, import_id: int) -> ImportJob | None:
    row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM imports WHERE id = $1", import_id)  # noqa: S608
    return job_from_row(row) if row else None


async def claim_import(
    conn: Executor, runner: str, lease: float, import_id: int | None = None
) -> tuple[ImportJob, int] | None:
    """A queued job, or one whose runner's lease ran out, row-locked so no other runner takes it too;
    with how many times it has been claimed."""
    row = await conn.fetchrow(
        f"""
        UPDATE imports i SET status = 'RUNNING', claimed_by = $1, lease_until = now() + make_interval(secs => $2),
               started_at = coalesce(i.started_at, now()), attempts = i.attempts + 1
         WHERE i.id = (SELECT id FROM imports
                        WHERE status IN ('QUEUED', 'RUNNING') AND ($3::bigint IS NULL OR id = $3)
                          AND (lease_until IS NULL OR lease_until < now())
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING {JOB_COLUMNS}, attempts
        """,  # noqa: S608
        runner,
        lease,
        import_id,
    )
    return (job_from_row(row), row["attempts"]) if row else None


async def lock_job(
    conn: Conn, import_id: int, runner: str, lease: float, *, processed: int | None = None
) -> ImportJob | None:
    """Renew the lease and lock the job for this batch's transaction; None if another runner has it
    (or, given `processed`, if the job is not that many rows in)."""
    row = await conn.fetchrow(
        f"""
        UPDATE imports SET lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND claimed_by = $2 AND status = 'RUNNING' AND ($4::int IS NULL OR rows_processed = $4)
        RETURNING {JOB_COLUMNS}
        """,  # noqa: S608
        import_id,
        runner,
        lease,
        processed,
    )
    return job_from_row(row) if row else None


async def release_imports(conn: Executor, runner: str) -> None:
    """A runner stopping gives its jobs back at once (their lease ends now; the stop is no attempt)."""
    await conn.execute(
        """
        UPDATE imports SET lease_until = now(), attempts = greatest(attempts - 1, 0)
         WHERE claimed_by = $1 AND status = 'RUNNING'
        """,
        runner,
    )


async def save_progress(
    conn: Conn, import_id: int, *, processed: int, created: int, updated: int, errors: int
) -> ImportJob:
    row = await conn.fetchrow(
        f"""
        UPDATE imports SET rows_processed = rows_processed + $2, rows_created = rows_created + $3,
               rows_updated = rows_updated + $4, error_count = error_count + $5
         WHERE id = $1 RETURNING {JOB_COLUMNS}
        """,  # noqa: S608
        import_id,
        processed,
        created,
        updated,
        errors,
    )
    assert row is not None
    return job_from_row(row)


async def finish_import(
    conn: Conn, import_id: int, runner: str | None, status: ImportStatus, failure: str | None = None
) -> ImportJob | None:
    """DONE drops the stored file; either status drops the keys. None if another runner has the job."""
    row = await conn.fetchrow(
        f"""
        WITH keys AS (DELETE FROM import_keys WHERE import_id = $1),
             files AS (DELETE FROM import_files WHERE import_id = $1 AND $3 = 'DONE')
        UPDATE imports SET status = $3, failure = $4, finished_at = now(), claimed_by = NULL, lease_until = NULL
         WHERE id = $1 AND ($2::text IS NULL OR claimed_by = $2) RETURNING {JOB_COLUMNS}
        """,  # noqa: S608
        import_id,
        runner,
        status.value,
        failure,
    )
    return job_from_row(row) if row else None


async def claim_keys(conn: Conn, import_id: int, keys: Mapping[str, int]) -> dict[str, int]:
    """Store keys with their first line; return those an earlier batch stored, with its line."""
    added = await conn.fetch(
        """
        INSERT INTO import_keys (import_id, key, line) SELECT $1, k, l FROM unnest($2::text[], $3::int[]) AS t (k, l)
        ON CONFLICT DO NOTHING RETURNING key
        """,
        import_id,
        list(keys),
        list(keys.values()),
    )
    if len(added) == len(keys):
        return {}
    new = {r["key"] for r in added}
    rows = await conn.fetch(
        "SELECT key, line FROM import_keys WHERE import_id = $1 AND key = ANY($2)",
        import_id,
        [k for k in keys if k not in new],
    )
    return {r["key"]: r["line"] for r in rows}


async def insert_errors(conn: Conn, import_id: int, errors: Sequence[RowError]) -> None:
    if not errors:
        return
    await conn.execute(
        """
        INSERT INTO import_errors (import_id, line, code, message)
        SELECT $1, l, c, m FROM unnest($2::int[], $3::text[], $4::text[]) AS t (l, c, m) ON CONFLICT DO NOTHING
        """,
        import_id,
        [e.line for e in errors],
        [e.code.value for e in errors],
        [e.message for e in errors],
    )


async def list_errors(conn: Executor, import_id: int, first: int | None, after_line: int) -> list[RowError]:
    rows = await conn.fetch(
        "SELECT line, code, message FROM import_errors WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3",
        import_id,
        after_line,
        first,
    )
    return [RowError(r["line"], r["message"], RuleCode(r["code"])) for r in rows]


async def lock_matches(
    conn: Conn, object_type: ObjectType, ids: Sequence[int], dedupe_values: Sequence[str]
) -> list[Record]:
    """Records a batch names by id or by (lower-case) dedupe value, locked in id order. Joins on
    unnest, so the plan probes the indexes whatever the table's statistics say."""
    table = TABLES[object_type]
    by_value = (
        f"""UNION SELECT c.id FROM unnest($2::text[]) AS v (value)
                   JOIN {table.name} c ON lower(c.{table.dedupe}) = v.value AND c.deleted_at IS NULL"""  # noqa: S608
        if table.dedupe
        else ""
    )
    rows = await conn.fetch(
        f"""
        WITH wanted AS (SELECT id FROM unnest($1::bigint[]) AS t (id) {by_value})
        SELECT {select_list(object_type)} FROM {table.name} r JOIN wanted w ON w.id = r.id
         WHERE r.deleted_at IS NULL ORDER BY r.id FOR UPDATE OF r
        """,  # noqa: S608 (names from TABLES)
        list(ids),
        *([list(dedupe_values)] if table.dedupe else []),
    )
    return [record_from_row(object_type, r) for r in rows]


async def users_by_email(conn: Executor, emails: Sequence[str]) -> dict[str, User]:
    rows = await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM users u WHERE lower(u.email) = ANY($1)",  # noqa: S608
        list(emails),
    )
    return {r["email"].lower(): user_from_row(r) for r in rows}


# What the database fills in for the columns an import leaves out (0002_records.sql); a new record
# is built here, not read back, so its history and events can be prepared while the INSERT runs.
NEW_DEFAULTS: Mapping[str, object] = {"currency": "USD"}


def new_record(object_type: ObjectType, record_id: int, write: Write, at: datetime) -> Record:
    values = {c: write.values.get(c, NEW_DEFAULTS.get(c)) for c in TABLES[object_type].columns}
    return Record(object_type, record_id, values, write.owner_id, {}, at, at, None, None, 1)


async def next_ids(conn: Conn, object_type: ObjectType, count: int) -> tuple[list[int], datetime]:
    """Ids for new records, and the transaction's now() (their created_at and updated_at)."""
    row = await conn.fetchrow(
        """
        SELECT now() AS at, ARRAY(SELECT nextval(q.seq) FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq) q,
                                  generate_series(1, $2)) AS ids
        """,
        TABLES[object_type].name,
        count,
    )
    assert row is not None
    return list(row["ids"]), row["at"]


async def insert_records(
    conn: Conn, object_type: ObjectType, ids: Sequence[int], writes: Sequence[Write]
) -> None:
    if writes:
        columns = COLUMNS[object_type]
        await conn.copy_records_to_table(
            TABLES[object_type].name,
            records=[
                (i, *(w.values[c] for c in columns), w.owner_id) for i, w in zip(ids, writes, strict=True)
            ],
            columns=("id", *columns, "owner_id"),
        )


async def update_records(conn: Conn, object_type: ObjectType, writes: Sequence[Write]) -> None:
    if not writes:
        return
    columns = [*COLUMNS[object_type], "owner_id"]
    casts = ", ".join(f"${i}::{SQL_TYPES.get(c, 'text')}[]" for i, c in enumerate(columns, 2))
    await conn.execute(
        f"""
        UPDATE {TABLES[object_type].name} r SET {", ".join(f"{c} = t.{c}" for c in columns)},
               version = r.version + 1, updated_at = now()
          FROM unnest($1::bigint[], {casts}) AS t (id, {", ".join(columns)}) WHERE r.id = t.id
        """,  # noqa: S608 (names from TABLES and domain.imports.COLUMNS)
        [w.before.id for w in writes if w.before is not None],
        *([w.values[c] for w in writes] for c in COLUMNS[object_type]),
        [w.owner_id for w in writes],
    )


async def get_viewer(conn: Executor, user_id: int) -> Viewer | None:
    row = await conn.fetchrow(
        f"""
        SELECT {USER_COLUMNS}, ARRAY(SELECT DISTINCT other.user_id FROM team_members mine
                 JOIN team_members other ON other.team_id = mine.team_id WHERE mine.user_id = u.id) AS teammate_ids
          FROM users u WHERE u.id = $1
        """,  # noqa: S608
        user_id,
    )
    return Viewer(user=user_from_row(row), teammate_ids=frozenset(row["teammate_ids"])) if row else None


async def find_importer(conn: Executor, email: str | None) -> User | None:
    """The user with this email, or without one the first active super admin."""
    row = await conn.fetchrow(
        f"""
        SELECT {USER_COLUMNS} FROM users u
         WHERE CASE WHEN $1::text IS NULL THEN u.is_super_admin AND u.active ELSE lower(u.email) = lower($1) END
         ORDER BY u.id LIMIT 1
        """,  # noqa: S608
        email,
    )
    return user_from_row(row) if row else None
