"""Users, teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from domain.records import Scope, Team, TeamMember, User, Viewer

from .errors import Duplicate, NotFound
from .pool import Conn, Executor

TOKEN_PREFIX = "df_"

USER_COLUMNS = (
    "u.id, u.email, u.name, u.active, u.is_super_admin, u.can_approve_deals,"
    " u.view_scope, u.edit_scope, u.created_at"
)
USER_NAMES = tuple(c.strip().removeprefix("u.") for c in USER_COLUMNS.split(","))


# A user as one value inside another statement's row (an array of them: approvers), read by user_from_values.
USER_RECORD = f"ROW({USER_COLUMNS})"


def user_from_values(values: tuple[object, ...]) -> User:
    """A user from USER_RECORD's anonymous record (asyncpg: a tuple in USER_COLUMNS' order)."""
    return user_from_row(dict(zip(USER_NAMES, values, strict=True)))  # type: ignore[arg-type]


def user_from_row(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        active=row["active"],
        is_super_admin=row["is_super_admin"],
        can_approve_deals=row["can_approve_deals"],
        view_scope=Scope(row["view_scope"]),
        edit_scope=Scope(row["edit_scope"]),
        created_at=row["created_at"],
    )


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def insert_user(
    conn: Conn,
    *,
    email: str,
    name: str,
    is_super_admin: bool = False,
    can_approve_deals: bool = False,
    view_scope: Scope = Scope.ALL,
    edit_scope: Scope = Scope.ALL,
) -> User:
    row = await conn.fetchrow(
        f"""
        INSERT INTO users AS u (email, name, is_super_admin, can_approve_deals, view_scope, edit_scope)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT ((lower(email))) DO NOTHING
        RETURNING {USER_COLUMNS}
        """,  # noqa: S608 (a constant column list)
        email,
        name,
        is_super_admin,
        can_approve_deals,
        view_scope.value,
        edit_scope.value,
    )
    if row is None:
        existing = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", email)
        raise Duplicate("user", "email", existing)
    assert row is not None
    return user_from_row(row)


async def update_user(
    conn: Conn,
    user_id: int,
    *,
    active: bool | None,
    can_approve_deals: bool | None,
    view_scope: Scope | None,
    edit_scope: Scope | None,
) -> User:
    row = await conn.fetchrow(
        f"""
        UPDATE users AS u
           SET active = coalesce($2, active),
               can_approve_deals = coalesce($3, can_approve_deals),
               view_scope = coalesce($4, view_scope),
               edit_scope = coalesce($5, edit_scope)
         WHERE id = $1
        RETURNING {USER_COLUMNS}
        """,  # noqa: S608
        user_id,
        active,
        can_approve_deals,
        view_scope.value if view_scope else None,
        edit_scope.value if edit_scope else None,
    )
    if row is None:
        raise NotFound("user", user_id)
    return user_from_row(row)


async def insert_token(
    conn: Conn, user_id: int, name: str = "default", expires_at: datetime | None = None
) -> str:
    token = new_token()
    await conn.execute(
        "INSERT INTO api_tokens (user_id, token_hash, name, expires_at) VALUES ($1, $2, $3, $4)",
        user_id,
        hash_token(token),
        name,
        expires_at,
    )
    return token


async def revoke_token(conn: Conn, token: str) -> bool:
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
    )
    return status.endswith(" 1")


async def find_user_by_email(conn: Executor, email: str) -> User | None:
    row = await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users u WHERE lower(u.email) = lower($1)",  # noqa: S608
        email,
    )
    return user_from_row(row) if row else None


# A token authenticates while it is neither revoked nor expired and its user is active.
VIEWER_SELECT = f"""
        SELECT {USER_COLUMNS}, t.id AS token_id, t.expires_at AS token_expires_at,
               ARRAY(SELECT DISTINCT other.user_id
                       FROM team_members mine
                       JOIN team_members other ON other.team_id = mine.team_id
                      WHERE mine.user_id = u.id) AS teammate_ids
          FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.revoked_at IS NULL AND u.active AND (t.expires_at IS NULL OR t.expires_at > now())"""  # noqa: S608


def viewer_from_row(row: asyncpg.Record) -> Viewer:
    return Viewer(
        user=user_from_row(row),
        teammate_ids=frozenset(row["teammate_ids"]),
        token_id=row["token_id"],
        token_expires_at=row["token_expires_at"],
    )


async def get_viewer_by_token(conn: Executor, token: str) -> Viewer | None:
    row = await conn.fetchrow(VIEWER_SELECT + " AND t.token_hash = $1", hash_token(token))
    return None if row is None else viewer_from_row(row)


async def list_viewers_by_token_ids(conn: Executor, token_ids: Sequence[int]) -> list[Viewer]:
    rows = await conn.fetch(VIEWER_SELECT + " AND t.id = ANY($1)", list(token_ids))
    return [viewer_from_row(r) for r in rows]


async def get_user(conn: Executor, user_id: int) -> User:
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)  # noqa: S608
    if row is None:
        raise NotFound("user", user_id)
    return user_from_row(row)


async def list_users(conn: Executor, ids: Sequence[int] | None = None) -> list[User]:
    rows = await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM users u WHERE $1::bigint[] IS NULL OR u.id = ANY($1) ORDER BY u.id",  # noqa: S608
        ids,
    )
    return [user_from_row(r) for r in rows]


async def insert_team(conn: Conn, name: str) -> Team:
    row = await conn.fetchrow(
        "INSERT INTO teams (name) VALUES ($1) ON CONFLICT ((lower(name))) DO NOTHING RETURNING id, name", name
    )
    if row is None:
        existing = await conn.fetchval("SELECT id FROM teams WHERE lower(name) = lower($1)", name)
        raise Duplicate("team", "name", existing)
    return Team(id=row["id"], name=row["name"])


async def get_team(conn: Executor, team_id: int) -> Team:
    row = await conn.fetchrow("SELECT id, name FROM teams WHERE id = $1", team_id)
    if row is None:
        raise NotFound("team", team_id)
    return Team(id=row["id"], name=row["name"])


async def clear_primary_teams(conn: Conn, user_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE team_members SET is_primary = false WHERE user_id = ANY($1) AND is_primary",
        list(user_ids),
    )


async def insert_team_members(conn: Conn, team_id: int, user_ids: Sequence[int], *, primary: bool) -> None:
    await conn.execute(
        """
        INSERT INTO team_members (team_id, user_id, is_primary)
        SELECT $1, unnest($2::bigint[]), $3
        ON CONFLICT (team_id, user_id) DO UPDATE SET is_primary = excluded.is_primary
        """,
        team_id,
        list(user_ids),
        primary,
    )


async def list_team_members(conn: Executor, team_ids: Sequence[int]) -> list[TeamMember]:
    rows = await conn.fetch(
        "SELECT team_id, user_id, is_primary FROM team_members WHERE team_id = ANY($1) ORDER BY user_id",
        list(team_ids),
    )
    return [TeamMember(team_id=r["team_id"], user_id=r["user_id"], is_primary=r["is_primary"]) for r in rows]


async def list_teams_of_users(conn: Executor, user_ids: Sequence[int]) -> list[tuple[int, Team]]:
    rows = await conn.fetch(
        """
        SELECT m.user_id, t.id, t.name FROM team_members m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id = ANY($1) ORDER BY m.is_primary DESC, t.id
        """,
        list(user_ids),
    )
    return [(r["user_id"], Team(id=r["id"], name=r["name"])) for r in rows]


async def list_teams(conn: Executor, ids: Sequence[int]) -> list[Team]:
    rows = await conn.fetch("SELECT id, name FROM teams WHERE id = ANY($1)", list(ids))
    return [Team(id=r["id"], name=r["name"]) for r in rows]
