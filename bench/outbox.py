"""What the outbox append costs writers: 32 concurrent transactions with and without it.

Each transaction is the shape of a small mutation: lock and update one deal-sized row of its own
(`UPDATE ... RETURNING`), then, in the **outbox** variant, append one event with
`db.events.append`, the production function, while a stamper gives committed events their
sequences every 5 ms as the relays do (`db.events.stamp`; before migration 0016 the append took
the single `event_head` row's lock and held it to the end of its commit instead, which
`bench/compare.py --base <commit> outbox.py` measures). The **baseline** runs the same
transactions without the append. Rounds alternate baseline and outbox, `--seconds` each, and the
report gives transactions/s of each and the ratio outbox / baseline per round and its median: the
share of the writers' throughput that appending to the outbox costs under `--writers` writers.

    .venv/bin/python bench/outbox.py [--writers 32] [--seconds 5] [--rounds 3]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, and written to bench/results/outbox.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from common import (
    RESULTS_DIR,
    database_kind,
    fresh_database,
    machine,
    now_iso,
    postgres_server,
    write_results,
)

from db import events as event_store
from db.pool import create_pool
from domain.events import NewEvent

RESULTS = RESULTS_DIR / "outbox.json"
SETUP = """
CREATE TABLE bench_rows (id bigint PRIMARY KEY, name text NOT NULL, version integer NOT NULL DEFAULT 0,
                         updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_rows (id, name) SELECT g, 'row ' || g FROM generate_series(1, $WRITERS) g;
"""


async def writer(pool: asyncpg.Pool, row: int, outbox: bool, until: float) -> int:
    done = 0
    while time.monotonic() < until:
        async with pool.acquire() as conn, conn.transaction():
            version = await conn.fetchval(
                "UPDATE bench_rows SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version",
                row,
            )
            if outbox:
                payload = {"dealId": str(row), "version": version}
                await event_store.append(conn, [NewEvent("deal.updated", payload, owner_id=None)])
        done += 1
    return done


async def stamper(pool: asyncpg.Pool, until: float) -> None:
    """What the relays do beside the writers: stamp what committed, as often as commits wake them."""
    while time.monotonic() < until:
        await event_store.stamp(pool)
        await asyncio.sleep(0.005)


async def phase(pool: asyncpg.Pool, writers: int, seconds: float, outbox: bool) -> float:
    until = time.monotonic() + seconds
    started = time.monotonic()
    writing = asyncio.gather(*(writer(pool, i + 1, outbox, until) for i in range(writers)))
    stamping = stamper(pool, until) if outbox and hasattr(event_store, "stamp") else asyncio.sleep(0)
    counts, _ = await asyncio.gather(writing, stamping)
    return sum(counts) / (time.monotonic() - started)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rounds: list[dict[str, float]] = []
    with postgres_server() as server:
        async with fresh_database(server) as dsn:
            pool = await create_pool(dsn, min_size=args.writers, max_size=args.writers)
            try:
                await pool.execute(SETUP.replace("$WRITERS", str(args.writers)))
                await phase(pool, args.writers, 1.0, True)  # warm-up: connections, plans
                for i in range(args.rounds):
                    base = await phase(pool, args.writers, args.seconds, False)
                    with_outbox = await phase(pool, args.writers, args.seconds, True)
                    rounds.append({"baseline_tps": round(base, 1), "outbox_tps": round(with_outbox, 1)})
                    print(
                        f"round {i + 1}: baseline {base:8.1f}/s  outbox {with_outbox:8.1f}/s", file=sys.stderr
                    )
            finally:
                await pool.close()
    ratios = [r["outbox_tps"] / r["baseline_tps"] for r in rounds]
    return {
        "benchmark": "outbox",
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "writers": args.writers,
        "seconds": args.seconds,
        "rounds": rounds,
        "median_ratio_outbox_over_baseline": round(statistics.median(ratios), 3),
        "append_cost": round(1 - statistics.median(ratios), 3),
        "threshold": "the ordering of the outbox must not cost writers more than 30%",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--writers", type=int, default=32, help="concurrent writing transactions (default 32)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per phase (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="baseline/outbox pairs (default 3)")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = p.parse_args()
    summary = asyncio.run(bench(args))
    write_results(args.out, summary)
    print(
        f"{args.writers} writers: outbox / baseline = {summary['median_ratio_outbox_over_baseline']}"
        f" (appending costs {summary['append_cost']:.0%} of the writers' throughput)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
