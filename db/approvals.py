"""Approval processes, deal approvals, their votes, history and comments."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.pipelines import Gate
from domain.records import (
    ApprovalProcess,
    ApprovalStatus,
    ApprovalStatusChange,
    ApprovalVote,
    Comment,
    DealApproval,
    Mode,
    ObjectType,
    Pipeline,
    Record,
    User,
)

from .pipelines import STAGE_COLUMNS, stage_from_values
from .pool import Conn, Executor
from .records import COMMON, TABLES, record_from_row, select_list
from .users import USER_RECORD, user_from_values

PROCESS_COLUMNS = """p.id, p.pipeline_id, p.approval_stage_id, p.mode, p.note, p.enabled,
    ARRAY(SELECT a.user_id FROM approval_process_approvers a WHERE a.process_id = p.id ORDER BY a.position)
    AS approver_ids"""
APPROVAL_FIELDS = """a.id, a.deal_id, a.process_id, a.status, a.blocker_code, a.reason, a.next_step,
    a.created_at, a.updated_at, a.note, a.submitted_by,
    ARRAY(SELECT x.user_id FROM approval_process_approvers x WHERE x.process_id = a.process_id ORDER BY x.position)
    AS approver_ids"""
# An approval with its votes in one row: the votes as an array of anonymous records (asyncpg: tuples,
# read as ApprovalVote), in deciding order.
VOTE_RECORD = "ROW(v.approver_id, v.action, v.text, v.decided_at)"
VOTE_ORDER = "ORDER BY v.decided_at, v.approver_id"
APPROVAL_COLUMNS = f"""{APPROVAL_FIELDS},
    ARRAY(SELECT {VOTE_RECORD} FROM approval_votes v WHERE v.approval_id = a.id {VOTE_ORDER}) AS votes"""  # noqa: S608


# The process's approvers as users, by id: what deciding needs to know of them (active, permitted).
APPROVERS = f"""ARRAY(SELECT {USER_RECORD} FROM users u JOIN approval_process_approvers x ON x.user_id = u.id
                  WHERE x.process_id = p.id ORDER BY u.id)"""  # noqa: S608


def process_from_row(row: asyncpg.Record) -> ApprovalProcess:
    return ApprovalProcess(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        approval_stage_id=row["approval_stage_id"],
        mode=Mode(row["mode"]),
        note=row["note"],
        enabled=row["enabled"],
        approver_ids=tuple(row["approver_ids"]),
    )


async def get_processes(conn: Executor, pipeline_ids: Sequence[int]) -> list[ApprovalProcess]:
    rows = await conn.fetch(
        f"SELECT {PROCESS_COLUMNS} FROM approval_processes p WHERE p.pipeline_id = ANY($1) AND p.enabled",  # noqa: S608
        list(pipeline_ids),
    )
    return [process_from_row(r) for r in rows]


# What a move decides on (resolvers.deals.place), in one statement: the pipeline of the target stage
# with all its stages, and that pipeline's approval gate: its enabled process, share-locked so a
# concurrent disable waits for (or precedes) the move, the deal's latest approval status under it,
# whether the deal is exempt and, for a move to the approval stage, the approvers.
MOVE_LOAD = f"""
SELECT pl.id, pl.label,
       ARRAY(SELECT ROW({", ".join(f"s.{c}" for c in STAGE_COLUMNS.split(", "))}) FROM stages s
              WHERE s.pipeline_id = pl.id ORDER BY s.display_order) AS stages,
       g.*
  FROM stages st JOIN pipelines pl ON pl.id = st.pipeline_id
  LEFT JOIN LATERAL (
        SELECT {PROCESS_COLUMNS},
               (SELECT a.status FROM deal_approvals a WHERE a.deal_id = $2 AND a.process_id = p.id
                 ORDER BY a.id DESC LIMIT 1) AS latest_status,
               EXISTS (SELECT 1 FROM approval_exempt_deals e WHERE e.process_id = p.id AND e.deal_id = $2)
               AS exempt,
               CASE WHEN p.approval_stage_id = $1 THEN {APPROVERS} END AS approvers
          FROM approval_processes p WHERE p.pipeline_id = pl.id AND p.enabled FOR SHARE OF p) g ON true
 WHERE st.id = $1
"""  # noqa: S608 (constant fragments)


async def share_gate(conn: Conn, stage_id: int, deal_id: int | None) -> tuple[Pipeline, Gate] | None:
    """(the target stage's pipeline, its gate for this deal), as MOVE_LOAD says; None if no such stage."""
    row = await conn.fetchrow(MOVE_LOAD, stage_id, deal_id)
    if row is None:
        return None
    pipeline = Pipeline(id=row[0], label=row[1], stages=tuple(stage_from_values(v) for v in row[2]))
    gate = dict(list(row.items())[3:])  # by position: the gate's columns repeat names (id, pipeline_id)
    if gate["id"] is None:
        return pipeline, Gate()
    status = gate["latest_status"]
    approvers = tuple(map(user_from_values, gate["approvers"] or ()))
    process = process_from_row(gate)  # type: ignore[arg-type]
    return pipeline, Gate(process, ApprovalStatus(status) if status else None, gate["exempt"], approvers)


async def lock_process(conn: Conn, pipeline_id: int) -> ApprovalProcess | None:
    row = await conn.fetchrow(
        f"SELECT {PROCESS_COLUMNS} FROM approval_processes p WHERE p.pipeline_id = $1 AND p.enabled FOR UPDATE",  # noqa: S608
        pipeline_id,
    )
    return process_from_row(row) if row else None


async def lock_pipeline(conn: Conn, pipeline_id: int) -> bool:
    """Serialise process changes and stage reordering of one pipeline."""
    found = await conn.fetchval("SELECT id FROM pipelines WHERE id = $1 FOR UPDATE", pipeline_id)
    return found is not None


async def insert_stage_at(conn: Conn, pipeline_id: int, position: int, label: str, probability: float) -> int:
    await conn.execute(
        "UPDATE stages SET display_order = display_order + 1 WHERE pipeline_id = $1 AND display_order >= $2",
        pipeline_id,
        position,
    )
    stage_id: int = await conn.fetchval(
        """
        INSERT INTO stages (pipeline_id, label, display_order, probability, kind, is_approval_stage)
        VALUES ($1, $2, $3, $4, 'OPEN', true) RETURNING id
        """,
        pipeline_id,
        label,
        position,
        probability,
    )
    return stage_id


async def move_stage(conn: Conn, pipeline_id: int, stage_id: int, position: int) -> None:
    """Put a stage at position (0-based) and renumber the others densely around it."""
    await conn.execute(
        """
        WITH ordered AS (
            SELECT id, row_number() OVER (ORDER BY display_order) - 1 AS n
              FROM stages WHERE pipeline_id = $1 AND id <> $2),
        placed AS (
            SELECT id, CASE WHEN n >= $3 THEN n + 1 ELSE n END AS n FROM ordered
            UNION ALL SELECT $2, $3)
        UPDATE stages s SET display_order = placed.n FROM placed WHERE s.id = placed.id
        """,
        pipeline_id,
        stage_id,
        position,
    )


async def update_stage(conn: Conn, stage_id: int, label: str | None, probability: float | None) -> None:
    await conn.execute(
        "UPDATE stages SET label = coalesce($2, label), probability = coalesce($3, probability) WHERE id = $1",
        stage_id,
        label,
        probability,
    )


async def insert_process(
    conn: Conn, pipeline_id: int, stage_id: int, mode: str, note: str, approver_ids: Sequence[int]
) -> int:
    process_id: int = await conn.fetchval(
        """
        INSERT INTO approval_processes (pipeline_id, approval_stage_id, mode, note) VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        pipeline_id,
        stage_id,
        mode,
        note,
    )
    await set_approvers(conn, process_id, approver_ids)
    return process_id


async def set_approvers(conn: Conn, process_id: int, approver_ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM approval_process_approvers WHERE process_id = $1", process_id)
    await conn.execute(
        """
        INSERT INTO approval_process_approvers (process_id, user_id, position)
        SELECT $1, u, o FROM unnest($2::bigint[]) WITH ORDINALITY AS t (u, o)
        """,
        process_id,
        list(approver_ids),
    )


async def update_process(conn: Conn, process_id: int, mode: str | None, note: str | None) -> None:
    await conn.execute(
        "UPDATE approval_processes SET mode = coalesce($2, mode), note = coalesce($3, note) WHERE id = $1",
        process_id,
        mode,
        note,
    )


async def disable_process(conn: Conn, process: ApprovalProcess) -> None:
    await conn.execute(
        "UPDATE approval_processes SET enabled = false, disabled_at = now() WHERE id = $1", process.id
    )
    await conn.execute("UPDATE stages SET is_approval_stage = false WHERE id = $1", process.approval_stage_id)


async def insert_exemptions(conn: Conn, process_id: int, pipeline_id: int) -> None:
    """Seed 000: every deal already in the pipeline, in whatever stage, is not subject to the process."""
    await conn.execute(
        """
        INSERT INTO approval_exempt_deals (process_id, deal_id)
        SELECT $1, d.id FROM deals d WHERE d.pipeline_id = $2 AND d.deleted_at IS NULL
        """,
        process_id,
        pipeline_id,
    )


def approval_from_row(r: asyncpg.Record) -> DealApproval:
    return DealApproval(
        id=r["id"],
        deal_id=r["deal_id"],
        process_id=r["process_id"],
        status=ApprovalStatus(r["status"]),
        blocker_code=r["blocker_code"],
        reason=r["reason"],
        next_step=r["next_step"],
        votes=tuple(ApprovalVote(*vote) for vote in r["votes"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        approver_ids=tuple(r["approver_ids"]),
        note=r["note"],
        submitted_by=r["submitted_by"],
    )


# A decision's load (resolvers.approvals): the deal, locked; its pipeline's enabled process,
# share-locked, with its approvers; under a process, the deal's latest approval, locked. One statement,
# locking in the order every path does (deal, process, approval): each lateral part runs after the one
# it names, and the approval's only where a process was found.
DECISION_LOAD = f"""
SELECT d.*, pr.*, ap.*
  FROM (SELECT {select_list(ObjectType.DEAL)} FROM deals r WHERE r.id = $1 AND r.deleted_at IS NULL FOR UPDATE) d
  LEFT JOIN LATERAL (
        SELECT {PROCESS_COLUMNS}, {APPROVERS} AS approvers
          FROM approval_processes p WHERE p.pipeline_id = d.pipeline_id AND p.enabled FOR SHARE OF p) pr ON true
  LEFT JOIN LATERAL (
        SELECT {APPROVAL_COLUMNS} FROM deal_approvals a
         WHERE a.deal_id = d.id AND pr.id IS NOT NULL ORDER BY a.id DESC LIMIT 1 FOR UPDATE) ap ON true
"""  # noqa: S608 (constant fragments)


async def lock_for_decision(
    conn: Conn, deal_id: int
) -> tuple[Record, tuple[ApprovalProcess, tuple[User, ...]] | None, DealApproval | None] | None:
    """(the deal, its process with its approvers or None, its latest approval or None), locked as
    DECISION_LOAD says; None if there is no such deal."""
    row = await conn.fetchrow(DECISION_LOAD, deal_id)
    if row is None:
        return None
    deal = record_from_row(ObjectType.DEAL, row)
    items = list(row.items())  # by position: the three parts share column names (id, note, …)
    approvers_at = next(i for i, (name, _) in enumerate(items) if name == "approvers")
    process = dict(items[len(COMMON) + len(TABLES[ObjectType.DEAL].columns) : approvers_at + 1])
    approval = dict(items[approvers_at + 1 :])
    found = (process_from_row(process), tuple(map(user_from_values, process["approvers"])))  # type: ignore[arg-type]
    return (
        deal,
        found if process["id"] is not None else None,
        approval_from_row(approval) if approval["id"] is not None else None,  # type: ignore[arg-type]
    )


async def latest_approvals(conn: Executor, deal_ids: Sequence[int]) -> list[DealApproval]:
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT ON (a.deal_id) {APPROVAL_COLUMNS} FROM deal_approvals a
         WHERE a.deal_id = ANY($1) ORDER BY a.deal_id, a.id DESC
        """,  # noqa: S608
        list(deal_ids),
    )
    return [approval_from_row(r) for r in rows]


async def insert_started(
    conn: Conn,
    deal_id: int,
    process_id: int,
    status: str,
    blocker: tuple[str, str, str] | None,
    actor_id: int | None,
    note: str,
) -> DealApproval:
    """A new approval (submitted by the actor, with the process's note) and its first history row."""
    row = await conn.fetchrow(
        f"""
        WITH a AS (
            INSERT INTO deal_approvals (deal_id, process_id, status, blocker_code, reason, next_step,
                                        note, submitted_by)
            VALUES ($1, $2, $3, $4, $5, $6, $8, $7) RETURNING *
        ), h AS (
            INSERT INTO approval_history (approval_id, status, actor_id) SELECT a.id, a.status, $7 FROM a
        )
        SELECT {APPROVAL_COLUMNS} FROM a
        """,  # noqa: S608
        deal_id,
        process_id,
        status,
        *(blocker or (None, None, None)),
        actor_id,
        note,
    )
    assert row is not None
    return approval_from_row(row)


async def save_decision(
    conn: Conn,
    approval: DealApproval,
    status: str,
    blocker: tuple[str, str, str] | None,
    *,
    vote: tuple[int, str, str | None] | None,
    clear_votes: bool,
    actor_id: int,
    resubmitted_note: str | None = None,
) -> DealApproval:
    """An approval's new status with its vote (or its votes cleared), a history row and the deal's
    status, in one statement; a resubmission also records its submitter and the note as it is now."""
    row = await conn.fetchrow(
        f"""
        WITH cleared AS (DELETE FROM approval_votes WHERE approval_id = $1 AND $10),
        voted AS (
            INSERT INTO approval_votes (approval_id, approver_id, action, text)
            SELECT $1, $7, $8, $9 WHERE $7::bigint IS NOT NULL
            RETURNING approver_id, action, text, decided_at),
        a AS (
            UPDATE deal_approvals SET status = $2, blocker_code = $3, reason = $4, next_step = $5,
                   updated_at = now(), note = coalesce($12, note),
                   submitted_by = CASE WHEN $12::text IS NULL THEN submitted_by ELSE $11 END
             WHERE id = $1 RETURNING *),
        h AS (INSERT INTO approval_history (approval_id, status, actor_id) SELECT a.id, a.status, $11 FROM a),
        d AS (UPDATE deals SET latest_approval_status = $2 WHERE id = $6)
        SELECT {APPROVAL_FIELDS},
               -- the votes as the statement leaves them (its own changes are invisible to a subquery)
               ARRAY(SELECT {VOTE_RECORD}
                       FROM (SELECT k.approver_id, k.action, k.text, k.decided_at FROM approval_votes k
                              WHERE k.approval_id = a.id AND NOT $10
                             UNION ALL SELECT * FROM voted) v
                     {VOTE_ORDER}) AS votes
          FROM a
        """,  # noqa: S608
        approval.id,
        status,
        *(blocker or (None, None, None)),
        approval.deal_id,
        *(vote or (None, None, None)),
        clear_votes,
        actor_id,
        resubmitted_note,
    )
    assert row is not None
    return approval_from_row(row)


async def insert_history(conn: Conn, approval_ids: Sequence[int], status: str, actor_id: int | None) -> None:
    await conn.execute(
        "INSERT INTO approval_history (approval_id, status, actor_id) SELECT unnest($1::bigint[]), $2, $3",
        list(approval_ids),
        status,
        actor_id,
    )


async def set_deal_status(conn: Conn, deal_ids: Sequence[int], status: str) -> None:
    await conn.execute(
        "UPDATE deals SET latest_approval_status = $2 WHERE id = ANY($1)", list(deal_ids), status
    )


async def cancel_open(conn: Conn, process_id: int) -> list[DealApproval]:
    """Every approval of the process that is not already CANCELLED becomes CANCELLED."""
    rows = await conn.fetch(
        f"""
        UPDATE deal_approvals a SET status = 'CANCELLED', blocker_code = NULL, updated_at = now()
         WHERE a.process_id = $1 AND a.status <> 'CANCELLED'
        RETURNING {APPROVAL_COLUMNS}
        """,  # noqa: S608
        process_id,
    )
    return [approval_from_row(r) for r in rows]


async def list_history(conn: Executor, approval_ids: Sequence[int]) -> list[ApprovalStatusChange]:
    rows = await conn.fetch(
        "SELECT approval_id, status, actor_id, at FROM approval_history WHERE approval_id = ANY($1) ORDER BY id",
        list(approval_ids),
    )
    return [ApprovalStatusChange(r["approval_id"], r["status"], r["actor_id"], r["at"]) for r in rows]


async def insert_comment(conn: Conn, approval_id: int, author_id: int, body: str) -> Comment:
    row = await conn.fetchrow(
        """
        INSERT INTO approval_comments (approval_id, author_id, body) VALUES ($1, $2, $3)
        RETURNING id, approval_id, author_id, body, created_at
        """,
        approval_id,
        author_id,
        body,
    )
    assert row is not None
    return Comment(**dict(row))


async def list_comments(conn: Executor, approval_ids: Sequence[int]) -> list[Comment]:
    rows = await conn.fetch(
        """
        SELECT id, approval_id, author_id, body, created_at FROM approval_comments
         WHERE approval_id = ANY($1) ORDER BY id
        """,
        list(approval_ids),
    )
    return [Comment(**dict(r)) for r in rows]


async def get_approvals(conn: Executor, ids: Sequence[int]) -> list[DealApproval]:
    rows = await conn.fetch(
        f"SELECT {APPROVAL_COLUMNS} FROM deal_approvals a WHERE a.id = ANY($1)",  # noqa: S608
        list(ids),
    )
    return [approval_from_row(r) for r in rows]
