"""Workflows, their actions, rotation counts and the enrollment log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from domain.workflows import Action, ActionType, Outcome, Run, TriggerEvent, Workflow

from .errors import NotFound
from .pool import Conn, Executor

WORKFLOW_COLUMNS = (
    "id, name, object_type, trigger_event, trigger_property, filter_groups, enabled, system_key"
)
ACTION_COLUMNS = (
    "id, workflow_id, position, type, property, value, owner_ids, team_id, overwrite, title, body"
)


def action_from_row(row: asyncpg.Record) -> Action:
    return Action(
        id=row["id"], position=row["position"], type=ActionType(row["type"]), property=row["property"],
        value=row["value"], owner_ids=tuple(row["owner_ids"]), team_id=row["team_id"],
        overwrite=row["overwrite"], title=row["title"], body=row["body"],
    )  # fmt: skip


async def _with_actions(conn: Executor, rows: Sequence[asyncpg.Record]) -> list[Workflow]:
    if not rows:
        return []
    actions = await conn.fetch(
        f"SELECT {ACTION_COLUMNS} FROM workflow_actions WHERE workflow_id = ANY($1) ORDER BY workflow_id, position",  # noqa: S608
        [r["id"] for r in rows],
    )
    by_workflow: dict[int, list[Action]] = {}
    for a in actions:
        by_workflow.setdefault(a["workflow_id"], []).append(action_from_row(a))
    return [
        Workflow(
            id=r["id"],
            name=r["name"],
            object_type=r["object_type"],
            trigger_event=TriggerEvent(r["trigger_event"]),
            trigger_property=r["trigger_property"],
            filter_groups=r["filter_groups"],
            enabled=r["enabled"],
            system_key=r["system_key"],
            actions=tuple(by_workflow.get(r["id"], ())),
        )
        for r in rows
    ]


async def list_workflows(
    conn: Executor, *, object_type: str | None = None, enabled_only: bool = False
) -> list[Workflow]:
    rows = await conn.fetch(
        f"""
        SELECT {WORKFLOW_COLUMNS} FROM workflows
         WHERE ($1::text IS NULL OR object_type = $1) AND (NOT $2 OR enabled) ORDER BY id
        """,  # noqa: S608
        object_type,
        enabled_only,
    )
    return await _with_actions(conn, rows)


async def get_workflow(conn: Executor, workflow_id: int) -> Workflow:
    rows = await conn.fetch(f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = $1", workflow_id)  # noqa: S608
    if not rows:
        raise NotFound("workflow", workflow_id)
    return (await _with_actions(conn, rows))[0]


async def get_by_system_key(conn: Executor, key: str) -> Workflow | None:
    rows = await conn.fetch(f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE system_key = $1", key)  # noqa: S608
    return (await _with_actions(conn, rows))[0] if rows else None


async def insert_workflow(
    conn: Conn,
    *,
    name: str,
    object_type: str,
    trigger_event: TriggerEvent,
    trigger_property: str | None,
    filter_groups: list[list[dict[str, object]]],
    actions: Sequence[Mapping[str, Any]],
    enabled: bool,
    created_by: int | None,
    system_key: str | None = None,
) -> Workflow:
    workflow_id: int = await conn.fetchval(
        """
        INSERT INTO workflows (name, object_type, trigger_event, trigger_property, filter_groups, enabled,
                               created_by, system_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
        """,
        name,
        object_type,
        trigger_event.value,
        trigger_property,
        filter_groups,
        enabled,
        created_by,
        system_key,
    )
    await conn.executemany(
        """
        INSERT INTO workflow_actions (workflow_id, position, type, property, value, owner_ids, team_id, overwrite,
                                      title, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        [
            (workflow_id, i, a["type"], a.get("property"), a.get("value"), list(a.get("owner_ids") or []),
             a.get("team_id"), bool(a.get("overwrite")), a.get("title"), a.get("body"))
            for i, a in enumerate(actions)
        ],
    )  # fmt: skip
    return await get_workflow(conn, workflow_id)


async def set_enabled(conn: Conn, workflow_id: int, enabled: bool) -> Workflow:
    status = await conn.execute(
        "UPDATE workflows SET enabled = $2, updated_at = now() WHERE id = $1", workflow_id, enabled
    )
    if status.endswith(" 0"):
        raise NotFound("workflow", workflow_id)
    return await get_workflow(conn, workflow_id)


async def lock_action(conn: Conn, action_id: int) -> Action:
    row = await conn.fetchrow(
        f"SELECT {ACTION_COLUMNS} FROM workflow_actions WHERE id = $1 FOR UPDATE",  # noqa: S608
        action_id,
    )
    if row is None:
        raise NotFound("workflow action", action_id)
    return action_from_row(row)


async def update_action(
    conn: Conn, action_id: int, *, owner_ids: Sequence[int] | None, team_id: int | None, overwrite: bool | None,
    title: str | None, value: str | None, body: str | None,
) -> Action:  # fmt: skip
    row = await conn.fetchrow(
        f"""
        UPDATE workflow_actions SET owner_ids = coalesce($2, owner_ids), team_id = CASE WHEN $2::bigint[] IS NULL
               AND $3::bigint IS NULL THEN team_id ELSE $3 END, overwrite = coalesce($4, overwrite),
               title = coalesce($5, title), value = coalesce($6, value), body = coalesce($7, body)
         WHERE id = $1 RETURNING {ACTION_COLUMNS}
        """,  # noqa: S608
        action_id,
        None if owner_ids is None else list(owner_ids),
        team_id,
        overwrite,
        title,
        value,
        body,
    )
    if row is None:
        raise NotFound("workflow action", action_id)
    return action_from_row(row)


async def lock_counts(conn: Conn, action_id: int, user_ids: Sequence[int]) -> dict[int, int]:
    """The action's counts for these owners (0 for new ones), row-locked: concurrent enrollments queue here."""
    await conn.execute(
        """
        INSERT INTO rotation_counts (action_id, user_id) SELECT $1, unnest($2::bigint[])
        ON CONFLICT DO NOTHING
        """,
        action_id,
        list(user_ids),
    )
    rows = await conn.fetch(
        "SELECT user_id, count FROM rotation_counts WHERE action_id = $1 AND user_id = ANY($2) ORDER BY user_id FOR UPDATE",
        action_id,
        list(user_ids),
    )
    return {r["user_id"]: r["count"] for r in rows}


async def increment_count(conn: Conn, action_id: int, user_id: int) -> None:
    await conn.execute(
        "UPDATE rotation_counts SET count = count + 1 WHERE action_id = $1 AND user_id = $2",
        action_id,
        user_id,
    )


async def reset_counts(conn: Conn, action_id: int) -> None:
    await conn.execute("DELETE FROM rotation_counts WHERE action_id = $1", action_id)


async def list_counts(conn: Executor, action_id: int) -> list[tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT user_id, count FROM rotation_counts WHERE action_id = $1 ORDER BY user_id", action_id
    )
    return [(r["user_id"], r["count"]) for r in rows]


async def log_enrollment(
    conn: Conn, workflow_id: int, object_type: str, object_id: int, outcomes: Sequence[Outcome]
) -> None:
    await conn.execute(
        "INSERT INTO workflow_enrollments (workflow_id, object_type, object_id, outcome) VALUES ($1, $2, $3, $4)",
        workflow_id,
        object_type,
        object_id,
        [o.to_json() for o in outcomes],
    )


async def list_runs(
    conn: Executor, workflow_ids: Sequence[int], first: int, cursor: int | None = None, backward: bool = False
) -> list[Run]:
    """The latest runs of each workflow, newest first (`first` per workflow, below a run id); `backward`:
    the runs above the id, oldest first."""
    op, order = (">", "ASC") if backward else ("<", "DESC")
    rows = await conn.fetch(
        f"""
        SELECT r.* FROM unnest($1::bigint[]) AS w (id), LATERAL (
            SELECT e.id, e.workflow_id, e.object_type, e.object_id, e.outcome, e.enrolled_at
              FROM workflow_enrollments e
             WHERE e.workflow_id = w.id AND ($3::bigint IS NULL OR e.id {op} $3)
             ORDER BY e.id {order} LIMIT $2) AS r
        """,  # noqa: S608 (the direction from constants)
        list(workflow_ids),
        first,
        cursor,
    )
    return [
        Run(r["id"], r["workflow_id"], r["object_type"], r["object_id"],
            tuple(Outcome.from_json(o) for o in r["outcome"]), r["enrolled_at"])
        for r in rows
    ]  # fmt: skip


async def count_runs(conn: Executor, workflow_id: int) -> int:
    found: int = await conn.fetchval(
        "SELECT count(*) FROM workflow_enrollments WHERE workflow_id = $1", workflow_id
    )
    return found
