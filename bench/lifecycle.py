"""Company-to-contact lifecycle sync at scale: a company with 5,000 primary contacts changes stage.

Measures the whole use case (resolvers.records.update_record on the company, in one transaction:
lock, update, history, the set-based sync of every contact with its history rows, and one outbox
event per contact) against a baseline in the same run: the bare single UPDATE of those contacts,
the least any implementation must do. Counts the SQL statements the use case sends.

    .venv/bin/python bench/lifecycle.py [--contacts 5000] [--rounds 5]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, and written to bench/results/lifecycle.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg
from common import database_kind, fresh_database, machine, now_iso, postgres_server, write_results

from db.pool import QUERY_OBSERVERS, create_pool
from db.users import insert_user
from domain.records import ObjectType, Viewer
from resolvers.context import Context, Services
from resolvers.records import Change, update_record
from resolvers.result import Ok

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lifecycle.json"
STAGES = ["LEAD", "MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD", "OPPORTUNITY", "CUSTOMER", "EVANGELIST"]


class Quiet:
    """Stands in for the relay and mailer: the benchmark measures the transaction, not delivery."""

    def wake(self) -> None:
        pass


async def seed(pool: asyncpg.Pool, contacts: int) -> tuple[int, Viewer]:
    async with pool.acquire() as conn, conn.transaction():
        user = await insert_user(conn, email="bench@example.com", name="Bench")
        company_id: int = await conn.fetchval(
            "INSERT INTO companies (name, domain, lifecycle_stage) VALUES ('Big', 'big.example', 'SUBSCRIBER') RETURNING id"
        )
        await conn.execute(
            """
            WITH c AS (INSERT INTO contacts (email, lifecycle_stage)
                       SELECT 'c' || g || '@big.example', 'SUBSCRIBER' FROM generate_series(1, $1) g RETURNING id)
            INSERT INTO contact_companies (contact_id, company_id, is_primary) SELECT id, $2, true FROM c
            """,
            contacts,
            company_id,
        )
    return company_id, Viewer(user=user)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with postgres_server() as server:
        async with fresh_database(server) as dsn:
            return await measure(args, dsn)


async def measure(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    statements: list[str] = []
    QUERY_OBSERVERS.append(statements.append)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    company_id, viewer = await seed(pool, args.contacts)
    ctx = Context(services=Services(pool=pool, bus=None, relay=Quiet(), mailer=Quiet()), viewer=viewer)  # type: ignore[arg-type]
    use_case: list[float] = []
    baseline: list[float] = []
    events = 0
    for round_ in range(args.rounds):
        stage = STAGES[round_ % len(STAGES)]
        await pool.execute("UPDATE contacts SET lifecycle_stage = 'SUBSCRIBER'")
        await pool.execute("UPDATE companies SET lifecycle_stage = 'SUBSCRIBER'")
        head = await pool.fetchval("SELECT sequence FROM event_head")
        statements.clear()
        started = time.perf_counter()
        result = await update_record(ctx, Change(ObjectType.COMPANY, company_id, {"lifecycle_stage": stage}))
        use_case.append(time.perf_counter() - started)
        assert isinstance(result, Ok), result
        sent = len(statements)
        events = await pool.fetchval("SELECT sequence FROM event_head") - head
        moved = await pool.fetchval("SELECT count(*) FROM contacts WHERE lifecycle_stage = $1", stage)
        assert moved == args.contacts, (moved, args.contacts)
        await pool.execute("UPDATE contacts SET lifecycle_stage = 'SUBSCRIBER'")
        started = time.perf_counter()
        await pool.execute(
            """UPDATE contacts c SET lifecycle_stage = $2 FROM contact_companies cc
                WHERE cc.company_id = $1 AND cc.is_primary AND cc.contact_id = c.id""",
            company_id,
            stage,
        )
        baseline.append(time.perf_counter() - started)
    await pool.close()
    return {
        "benchmark": "lifecycle",
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "contacts": args.contacts,
        "rounds": args.rounds,
        "use_case_median_s": round(statistics.median(use_case), 4),
        "use_case_max_s": round(max(use_case), 4),
        "baseline_update_median_s": round(statistics.median(baseline), 4),
        "ratio_use_case_to_baseline": round(statistics.median(use_case) / statistics.median(baseline), 2),
        "events_emitted": events,
        "statements_sent": sent,
        "target": "under 1 s; one statement per batch, not one per contact",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    summary = asyncio.run(run(parser.parse_args()))
    write_results(RESULTS, summary)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
