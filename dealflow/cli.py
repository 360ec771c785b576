"""The `dealflow` command: serve, migrate, create-user, tokens, seed-demo, import."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from db.errors import Duplicate
from db.migrate import migrate as apply_migrations
from domain.records import ObjectType, Scope
from domain.validation import EMAIL

from .cli_env import dsn, environment_help, err, fail, load_settings, migrated_pool
from .cli_tokens import tokens
from .heap import freeze_start_up

app = typer.Typer(
    name="dealflow",
    help="dealflow: an open GraphQL API for sales pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(tokens, name="tokens")
DB_HELP = environment_help("DATABASE_URL", "DEALFLOW_DATA_DIR")


def _version(shown: bool) -> None:
    if shown:
        print(f"dealflow {version('dealflow')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """dealflow: an open GraphQL API for sales pipelines. Settings come from environment variables."""


@app.command(epilog=environment_help())
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: $HOST or 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port to listen on [default: $PORT or 8000].")
    ] = None,
) -> None:
    """Serve /graphql (HTTP and WebSocket), /healthz and shared quotes; migrates the database first."""
    import uvicorn

    from .app import create_app
    from .ws_protocol import UVICORN_OPTIONS

    settings = load_settings()
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": settings.port if port is None else port}
    )
    # The embedded server (when DATABASE_URL is unset) is started here, before uvicorn, so it
    # outlives the app's shutdown; this process's atexit hook stops it after uvicorn returns.
    app = create_app(settings, dsn(settings))
    freeze_start_up()
    print(f"dealflow serving on http://{settings.host}:{settings.port}/graphql ({settings.env})", flush=True)
    # uvicorn catches SIGINT/SIGTERM, shuts down gracefully, restores our handlers and raises the
    # signal again: SIGINT becomes KeyboardInterrupt and SIGTERM SystemExit (see main), so atexit
    # hooks run either way.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info" if settings.dev else "warning",
        access_log=settings.dev,
        **UVICORN_OPTIONS,
    )


@app.command(epilog=DB_HELP)
def migrate() -> None:
    """Apply the migrations not applied yet (db/migrations/*.sql, in order, under an advisory lock)."""
    applied = asyncio.run(apply_migrations(dsn(load_settings())))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise typer.BadParameter(f"{value!r} is not an email address (like ada@example.com)")
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("must not be empty")
    return value.strip()


ScopeOption = typer.Option(case_sensitive=False, help="ALL, TEAM or OWNED.")


@app.command("create-user", epilog=DB_HELP)
def create_user(
    email: Annotated[str, typer.Option(callback=_email, help="The user's email.", show_default=False)],
    name: Annotated[str, typer.Option(callback=_name, help="The user's name.", show_default=False)],
    super_admin: Annotated[bool, typer.Option("--super-admin", help="May do everything.")] = False,
    approver: Annotated[bool, typer.Option("--approver", help="Grant canApproveDeals.")] = False,
    view_scope: Annotated[Scope, ScopeOption] = Scope.ALL,
    edit_scope: Annotated[Scope, ScopeOption] = Scope.ALL,
) -> None:
    """Create a user; prints a new API token as the last line of stdout (shown once)."""
    from db import users as user_store

    settings = load_settings()

    async def run() -> str:
        async with migrated_pool(settings) as pool, pool.acquire() as conn, conn.transaction():
            user = await user_store.insert_user(
                conn, email=email, name=name, is_super_admin=super_admin, can_approve_deals=approver,
                view_scope=view_scope, edit_scope=edit_scope,
            )  # fmt: skip
            token = await user_store.insert_token(conn, user.id)
        err.print(f"created user {user.id} <{user.email}>", markup=False)
        return token

    try:
        token = asyncio.run(run())
    except Duplicate as exc:
        raise fail("create-user", str(exc)) from None
    print(token, flush=True)  # the token, always the last line of stdout


@app.command("seed-demo", epilog=DB_HELP)
def seed_demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data.")] = 1,
) -> None:
    """Fill a demo account; prints the super admin's API token as the last line of stdout."""
    from .seed import DemoExists, SeedFailed, SeedSummary
    from .seed import seed_demo as seed_data

    settings = load_settings()

    async def run() -> SeedSummary:
        async with migrated_pool(settings, max_size=4) as pool:
            return await seed_data(pool, seed=seed)

    try:
        summary = asyncio.run(run())
    except (DemoExists, SeedFailed, Duplicate) as exc:
        raise fail("seed-demo", str(exc)) from None
    err.print(
        f"seeded {len(summary.tokens)} users, {len(summary.pipeline_ids)} pipelines, {summary.companies} companies,"
        f" {summary.contacts} contacts, {summary.deals} deals; sent for approval (the first approved, the"
        f" second sent back for changes): deals {', '.join(map(str, summary.pending_deal_ids))}",
        markup=False,
    )
    err.print("demo users and their API tokens (shown once):")
    for email, token in summary.tokens.items():
        err.print(f"  {email:<32} {token}  {summary.roles.get(email, '')}", markup=False)
    err.print(
        'the super admin\'s token follows; in GraphiQL, Headers: {"Authorization": "Bearer <token>"}',
        markup=False,
    )
    print(summary.admin_token, flush=True)  # the super admin's token, always the last line of stdout


@app.command("import", epilog=DB_HELP)
def import_file(
    object_type: Annotated[
        ObjectType,
        typer.Argument(metavar="OBJECT", case_sensitive=False, help="CONTACT, COMPANY, DEAL or TICKET."),
    ],
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE.csv", exists=True, dir_okay=False, readable=True, help="The CSV file."),
    ],
    as_email: Annotated[
        str | None,
        typer.Option("--as", metavar="EMAIL", help="The acting user [default: the first super admin]."),
    ] = None,
) -> None:
    """Import a CSV file of one object type with a progress bar; exits 1 when any row failed."""
    from .cli_import import run_import

    code = run_import(load_settings(), object_type, file, as_email)
    if code:
        raise typer.Exit(code)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # SIGTERM's default action ends the process without atexit hooks, which would leave the
    # embedded PostgreSQL running; turn it into SystemExit (Ctrl-C is KeyboardInterrupt already).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)
    try:  # typer prints usage errors (exit 2), and turns Ctrl-C into exit 130
        app(args=list(sys.argv[1:] if argv is None else argv), prog_name="dealflow")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
