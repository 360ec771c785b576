"""What every `dealflow` command needs: its settings (a bad value ends it with exit 2) and a database pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import typer
from rich.console import Console

from db.migrate import migrate
from db.pool import create_pool

from .embedded_pg import database_url
from .settings import VARIABLES, Settings, SettingsError

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

USAGE_ERROR = 2  # click's exit code for bad options; bad settings are bad input too


def load_settings() -> Settings:
    """Settings from the environment; a bad value is one readable line and exit code 2."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        err.print(f"dealflow: bad setting: {exc}", markup=False)
        raise typer.Exit(USAGE_ERROR) from None


def fail(command: str, message: str, code: int = 1) -> typer.Exit:
    """Print `dealflow COMMAND: message` to stderr; raise the returned Exit."""
    err.print(f"dealflow {command}: {message}", markup=False)
    return typer.Exit(code)


def dsn(settings: Settings) -> str:
    """DATABASE_URL, else the embedded server shared by every dealflow command (started if needed)."""
    return database_url(settings.database_url, settings.data_dir)


@contextlib.asynccontextmanager
async def migrated_pool(settings: Settings, max_size: int = 2) -> AsyncIterator[asyncpg.Pool]:
    url = dsn(settings)
    await migrate(url)
    pool = await create_pool(url, min_size=1, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


def environment_help(*names: str) -> str:
    """A help epilog listing environment variables with their meaning (all of them without names)."""
    chosen = names or tuple(VARIABLES)
    lines = "\n".join(f"* **{n}**: {VARIABLES[n]}" for n in chosen)
    return f"Environment variables read:\n\n{lines}"
