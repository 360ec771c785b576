"""`dealflow tokens`: list, create and revoke a user's API tokens from the command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from db import users as user_store
from domain.records import User

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
    """The user's tokens, newest last: id, when created, whether revoked (never the token itself)."""
    settings = load_settings()

    async def run() -> list[user_store.TokenInfo]:
        async with migrated_pool(settings) as pool:
            return await user_store.list_tokens(pool, (await _user(pool, email)).id)

    found = asyncio.run(run())
    table = Table(title=f"API tokens of {email}", title_justify="left")
    for column in ("id", "created", "revoked"):
        table.add_column(column)
    for t in found:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M:%S}" if t.revoked_at else "-"
        table.add_row(str(t.id), f"{t.created_at:%Y-%m-%d %H:%M:%S}", revoked)
    out.print(table)


@tokens.command("create", epilog=DB_HELP)
def create_token(email: EmailOption) -> None:
    """A new token for the user, printed as the last line of stdout (shown once)."""
    settings = load_settings()

    async def run() -> str:
        async with migrated_pool(settings) as pool, pool.acquire() as conn, conn.transaction():
            return await user_store.insert_token(conn, (await _user(pool, email)).id)

    token = asyncio.run(run())
    print(token, flush=True)


@tokens.command("revoke", epilog=DB_HELP)
def revoke_token(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The id `tokens list` shows.")],
) -> None:
    """Revoke a token by its id: requests with it are refused from now on."""
    settings = load_settings()

    async def run() -> bool:
        async with migrated_pool(settings) as pool, pool.acquire() as conn:
            return await user_store.revoke_token_id(conn, token_id)

    if not asyncio.run(run()):
        raise fail("tokens revoke", f"no active token with id {token_id}")
    out.print(f"revoked token {token_id}", markup=False)
