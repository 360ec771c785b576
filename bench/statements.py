"""Statements in the transaction of createDeal, moveDeal into the approval stage and approveDeal.

Counted per connection with an asyncpg query logger, from the request's BEGIN to its outbox append,
without asyncpg's one-off type introspection. Run from a checkout's root (any commit):
    DATABASE_URL=postgresql://… .venv/bin/python bench/statements.py
"""

import asyncio
import os
import re
import sys

sys.path.insert(0, os.getcwd())
import httpx

from db.pool import create_pool
from tests.api.test_approvals import APPROVE, setup
from tests.api.test_records import CREATE_DEAL, MOVE_DEAL
from tests.harness import (
    Harness,
    clone_database,
    create_template,
    drop_database,
    dsn_for,
    live_server,
    server_dsn,
)

NOISE = re.compile(r"typeinfo_tree|set_config\('jit'|current_setting\('jit'\)")


async def main():
    tpl = f"stmts_tpl_{os.getpid()}"
    await create_template(tpl)
    name = await clone_database(tpl)
    dsn = dsn_for(server_dsn(), name)
    log = []
    import db.pool as pool_module

    original = pool_module.init_connection

    async def init(conn):
        await original(conn)
        key = id(conn)
        conn.add_query_logger(lambda r: log.append((key, r.query)))

    pool_module.init_connection = init
    pool = await create_pool(dsn, min_size=1, max_size=5)
    try:
        async with live_server(dsn) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            app = Harness(pool=pool, server=server, http=http)
            s = await setup(app)

            async def count(label, coro):
                # warm: one call first so per-connection introspection is excluded
                log.clear()
                result = await coro
                entries = [(c, q) for c, q in log if not NOISE.search(q)]
                conn_id = next(c for c, q in entries if "INSERT INTO events" in q)
                stmts = [q for c, q in entries if c == conn_id]
                end = next(i for i, q in enumerate(stmts) if "INSERT INTO events" in q)
                begin = max(i for i, q in enumerate(stmts[:end]) if q.strip().upper().startswith("BEGIN"))
                tx = stmts[begin + 1 : end + 1]
                writes = [q for q in tx if re.search(r"UPDATE\s+deals\b", q)]
                print(f"{label}: {len(tx)} statements in its transaction, deal row updated {len(writes)}x")
                return result

            inp = {
                "name": "D",
                "amount": "10",
                "pipelineId": s.pipeline["id"],
                "stageId": s.stages["Appointment scheduled"],
                "ownerId": str(s.owner.user_id),
            }
            await s.admin(CREATE_DEAL, {"input": inp})
            d = await count("createDeal", s.admin(CREATE_DEAL, {"input": inp}))
            deal_id = d["createDeal"]["deal"]["id"]
            d2 = (await s.admin(CREATE_DEAL, {"input": inp}))["createDeal"]["deal"]["id"]
            await s.owner(MOVE_DEAL, {"input": {"dealId": d2, "stageId": s.stages["Pending approval"]}})
            await count(
                "moveDeal into the approval stage",
                s.owner(MOVE_DEAL, {"input": {"dealId": deal_id, "stageId": s.stages["Pending approval"]}}),
            )
            await s.approvers[0](APPROVE, {"i": {"dealId": d2}})
            d3 = (await s.admin(CREATE_DEAL, {"input": inp}))["createDeal"]["deal"]["id"]
            await s.owner(MOVE_DEAL, {"input": {"dealId": d3, "stageId": s.stages["Pending approval"]}})
            await count("approveDeal", s.approvers[0](APPROVE, {"i": {"dealId": deal_id}}))
    finally:
        await pool.close()
        await drop_database(name)
        await drop_database(tpl)


asyncio.run(main())
