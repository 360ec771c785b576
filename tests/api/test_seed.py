"""`dealflow seed-demo`: a demo account with a living board, consistent with what the app writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from db import users as user_store
from db.pool import create_pool
from dealflow.seed import ADMIN_EMAIL, DemoExists, make_companies, make_contacts, seed_demo
from tests.api.test_cli import dealflow


async def counts(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, int]:
    row = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM contacts) AS contacts,
               (SELECT count(*) FROM companies) AS companies,
               (SELECT count(*) FROM deals) AS deals,
               (SELECT count(*) FROM pipelines) AS pipelines,
               (SELECT count(*) FROM users) AS users,
               (SELECT count(*) FROM teams) AS teams,
               (SELECT count(*) FROM approval_processes WHERE enabled) AS processes,
               (SELECT count(*) FROM deal_approvals WHERE status = 'PENDING') AS pending
        """
    )
    assert row is not None
    return dict(row)


async def test_seed_demo_fills_a_demo_account_consistently(db_dsn: str) -> None:
    pool = await create_pool(db_dsn, min_size=1, max_size=4)
    try:
        summary = await seed_demo(pool, seed=3)
        found = await counts(pool)
        assert found["contacts"] == 200
        assert found["companies"] == 50
        assert found["deals"] == 300
        assert found["pipelines"] == 2
        assert found["teams"] == 2
        assert found["processes"] == 1
        assert found["pending"] >= 1

        viewer = await user_store.get_viewer_by_token(pool, summary.admin_token)
        assert viewer is not None and viewer.user.email == ADMIN_EMAIL and viewer.user.is_super_admin

        # Each contact has exactly one primary company; each deal a company and 1 to 3 contacts.
        assert await pool.fetchval("SELECT count(*) FROM contact_companies WHERE is_primary") == 200
        per_deal = await pool.fetch(
            "SELECT d.id, count(dc.contact_id) AS n FROM deals d LEFT JOIN deal_contacts dc ON dc.deal_id = d.id"
            " GROUP BY d.id"
        )
        assert {r["n"] for r in per_deal} <= {1, 2, 3}
        assert await pool.fetchval("SELECT count(DISTINCT deal_id) FROM deal_companies") == 300
        # The approval process has two approvers, mode ANY; pending deals sit in its stage and their
        # approvers were notified, through the same code paths as the API (events, history).
        process = await pool.fetchrow(
            "SELECT p.mode, p.approval_stage_id, (SELECT count(*) FROM approval_process_approvers a"
            " WHERE a.process_id = p.id) AS approvers FROM approval_processes p"
        )
        assert process is not None and process["mode"] == "ANY" and process["approvers"] == 2
        in_gate = await pool.fetchval(
            "SELECT count(*) FROM deals WHERE stage_id = $1 AND latest_approval_status = 'PENDING'",
            process["approval_stage_id"],
        )
        assert in_gate >= 1
        assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'approval.started'") == len(
            summary.pending_deal_ids
        )
        assert await pool.fetchval("SELECT count(*) FROM notifications WHERE kind = 'APPROVAL_REQUESTED'") > 0
        assert await pool.fetchval("SELECT count(*) FROM property_history WHERE object_type = 'DEAL'") > 300

        # A second run refuses and changes nothing.
        with pytest.raises(DemoExists):
            await seed_demo(pool, seed=3)
        assert await counts(pool) == found
    finally:
        await pool.close()


async def test_seed_demo_command_prints_a_working_token_last_and_refuses_a_second_run(
    db_dsn: str, tmp_path: Path
) -> None:
    code, out, err = await dealflow("seed-demo", dsn=db_dsn, data_dir=tmp_path / "data")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    conn = await asyncpg.connect(db_dsn)
    try:
        viewer = await user_store.get_viewer_by_token(conn, token)
        assert viewer is not None, f"the last line {token!r} is not a working token"
        assert viewer.user.is_super_admin
        before = await counts(conn)
        code, out, err = await dealflow("seed-demo", dsn=db_dsn, data_dir=tmp_path / "data")
        assert code == 1
        assert out == ""
        assert "already" in err and "Traceback" not in err
        assert await counts(conn) == before
    finally:
        await conn.close()


def test_seed_data_is_the_same_for_the_same_seed() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def generate(seed: int) -> tuple[object, object]:
        rng = random.Random(seed)
        companies = make_companies(rng, [1, 2, 3], now)
        return companies, make_contacts(rng, companies, now)

    assert generate(7) == generate(7)
    assert generate(7) != generate(8)
