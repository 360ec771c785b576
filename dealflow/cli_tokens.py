"""`dealflow tokens`: list, create and revoke a user's API tokens from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from db import events as event_store
from db import tokens as token_store
from db import users as user_store
from db.errors import NotFound
from domain.events import session_changed
from domain.records import ApiToken, User

from .cli_env import environment_help, fail, load_settings, migrated_pool, out

tokens = typer.Typer(
    help="List, create and revoke API tokens. A token is shown once, when it is created; only its hash is stored.",
    no_args_is_help=True,
)

EmailOption = Annotated[str, typer.Option("--email", help="The user's email (any case).", show_default=False)]
DB_HELP = environment_help("DATABASE_URL", "DEALFLOW_DATA_DIR")


async def _user(pool: asyncpg.Pool, email: str) -> User:
    user = await user_store.find_user_by_email(pool, email)
    if user is None:
        raise fail("tokens", f"no user with email {email}")
    return user


@tokens.command("list", epilog=DB_HELP)
def list_tokens(email: EmailOption) -> None:
    """The user's tokens, oldest first: id, name, created, last used, expiry, revocation (never the secret)."""
    settings = load_settings()

    async def run() -> list[ApiToken]:
        async with migrated_pool(settings) as pool:
            return await token_store.list_tokens(pool, [(await _user(pool, email)).id])

    found = asyncio.run(run())
    table = Table(title=f"API tokens of {email}", title_justify="left")
    for column in ("id", "name", "created", "last used", "expires", "revoked"):
        table.add_column(column)
    for t in found:
        table.add_row(str(t.id), t.name, _when(t.created_at), _when(t.last_used_at), _when(t.expires_at),
                      _when(t.revoked_at))  # fmt: skip
    out.print(table)


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}" if at else "-"


@tokens.command("create", epilog=DB_HELP)
def create_token(
    email: EmailOption,
    name: Annotated[str, typer.Option("--name", help="What the token is for, shown in lists.")] = "cli",
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, help="Expire after this many days (default: never)."),
    ] = None,
) -> None:
    """A new token for the user, printed as the last line of stdout (shown once)."""
    settings = load_settings()
    if not name.strip():
        raise fail("tokens create", "a token needs a name")
    expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None

    async def run() -> str:
        async with migrated_pool(settings) as pool, pool.acquire() as conn, conn.transaction():
            user = await _user(pool, email)
            _, secret = await token_store.insert_api_token(conn, user.id, name.strip(), expires_at)
            return secret

    token = asyncio.run(run())
    print(token, flush=True)


@tokens.command("revoke", epilog=DB_HELP)
def revoke_token(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The id `tokens list` shows.")],
) -> None:
    """Revoke a token by its id: requests with it are refused, and its open WebSockets closed (4403)."""
    settings = load_settings()

    async def run() -> bool:
        async with migrated_pool(settings) as pool, pool.acquire() as conn, conn.transaction():
            try:
                token = await token_store.revoke_api_token(conn, token_id, None)
            except NotFound:
                return False
            await event_store.append(conn, [session_changed(token_ids=frozenset({token.id}))])
            return True

    if not asyncio.run(run()):
        raise fail("tokens revoke", f"no token with id {token_id}")
    out.print(f"revoked token {token_id}", markup=False)
