"""The `dealflow` command: serve, migrate, create-user."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from db.errors import Duplicate
from db.migrate import migrate
from db.pool import create_pool
from domain.records import Scope

from .embedded_pg import database_url
from .settings import Settings


def _dsn(settings: Settings) -> str:
    return database_url(settings.database_url, settings.data_dir)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    # The embedded server (when DATABASE_URL is unset) is started here, before uvicorn, so it
    # outlives the app's shutdown; this process's atexit hook stops it after uvicorn returns.
    dsn = _dsn(settings)
    app = create_app(settings, dsn)
    print(
        f"dealflow serving on http://{settings.host}:{settings.port}/graphql ({settings.env})",
        flush=True,
    )
    # uvicorn catches SIGINT/SIGTERM, shuts down gracefully, restores our handlers and raises the
    # signal again: SIGINT becomes KeyboardInterrupt and SIGTERM SystemExit (see main), so atexit
    # hooks run either way.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ws_per_message_deflate=False,
        log_level="info" if settings.dev else "warning",
        access_log=settings.dev,
    )
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate(_dsn(settings)))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    from db import users as user_store

    dsn = _dsn(settings)

    async def run() -> str:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn, conn.transaction():
                user = await user_store.insert_user(
                    conn,
                    email=args.email,
                    name=args.name,
                    is_super_admin=args.super_admin,
                    can_approve_deals=args.approver,
                    view_scope=Scope(args.view_scope),
                    edit_scope=Scope(args.edit_scope),
                )
                token = await user_store.insert_token(conn, user.id)
            print(f"created user {user.id} <{user.email}>", file=sys.stderr)
            return token
        finally:
            await pool.close()

    try:
        token = asyncio.run(run())
    except Duplicate as exc:
        print(f"dealflow create-user: {exc}", file=sys.stderr)
        return 1
    print(token, flush=True)  # the token, always the last line of stdout
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dealflow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve /graphql and /healthz").set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    cu = sub.add_parser("create-user", help="create a user; prints an API token as the last line")
    cu.add_argument("--email", required=True)
    cu.add_argument("--name", required=True)
    cu.add_argument("--super-admin", action="store_true")
    cu.add_argument("--approver", action="store_true", help="grant canApproveDeals")
    cu.add_argument("--view-scope", choices=[s.value for s in Scope], default="ALL")
    cu.add_argument("--edit-scope", choices=[s.value for s in Scope], default="ALL")
    cu.set_defaults(run=cmd_create_user)
    return p


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    # SIGTERM's default action ends the process without atexit hooks, which would leave the
    # embedded PostgreSQL running; turn it into SystemExit (Ctrl-C is KeyboardInterrupt already).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)
    try:
        code: int = args.run(settings, args)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    return code


if __name__ == "__main__":
    sys.exit(main())
