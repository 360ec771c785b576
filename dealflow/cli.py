"""The `dealflow` command: serve, migrate, create-user, seed-demo, import."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from db.errors import Duplicate
from db.migrate import migrate
from db.pool import create_pool
from domain.records import ObjectType, Scope

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


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .seed import DemoExists, SeedFailed, SeedSummary, seed_demo

    dsn = _dsn(settings)

    async def run() -> SeedSummary:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=4)
        try:
            return await seed_demo(pool, seed=args.seed)
        finally:
            await pool.close()

    try:
        summary = asyncio.run(run())
    except (DemoExists, SeedFailed, Duplicate) as exc:
        print(f"dealflow seed-demo: {exc}", file=sys.stderr)
        return 1
    print(
        f"seeded {len(summary.tokens)} users, {len(summary.pipeline_ids)} pipelines, {summary.companies} companies,"
        f" {summary.contacts} contacts, {summary.deals} deals; sent for approval (the first approved, the"
        f" second sent back for changes): deals {', '.join(map(str, summary.pending_deal_ids))}",
        file=sys.stderr,
    )
    print("demo users and their API tokens (shown once):", file=sys.stderr)
    for email, token in summary.tokens.items():
        print(f"  {email:<32} {token}  {summary.roles.get(email, '')}", file=sys.stderr)
    print(
        'the super admin\'s token follows; in GraphiQL, Headers: {"Authorization": "Bearer <token>"}',
        file=sys.stderr,
    )
    print(summary.admin_token, flush=True)  # the super admin's token, always the last line of stdout
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from collections.abc import AsyncIterator

    from broadcaster import Broadcast

    from db.imports import find_importer
    from domain.imports import ImportJob, ImportStatus
    from domain.records import Viewer
    from resolvers import imports
    from resolvers.context import Context, Services
    from resolvers.mailer import Mailer
    from resolvers.result import Ok
    from subscriptions.bus import EventBus
    from subscriptions.relay import Relay

    def bar(job: ImportJob) -> None:
        total = job.rows_total or 0
        share = job.rows_processed / total if total else 1.0
        filled = "#" * int(share * 30)
        print(f"\r{job.object_type.value.lower()}: [{filled:.<30}] {job.rows_processed:,}/{total:,} rows {share:4.0%}",
              end="", file=sys.stderr, flush=True)  # fmt: skip

    async def read(path: str) -> AsyncIterator[bytes]:
        with open(path, "rb") as f:  # noqa: ASYNC230 (a chunk at a time, in a thread)
            while chunk := await asyncio.to_thread(f.read, imports.CHUNK_BYTES):
                yield chunk

    async def run() -> int:
        dsn = _dsn(settings)
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=4)
        try:
            user = await find_importer(pool, args.as_email)
            if user is None:
                print(f"dealflow import: no user {args.as_email or '(no super admin yet)'}", file=sys.stderr)
                return 1
            bus = EventBus(Broadcast("memory://"))  # a running server's relay publishes the events
            services = Services(pool=pool, bus=bus, relay=Relay(pool, bus), mailer=Mailer(pool, None))
            runner = imports.ImportRunner(services)
            ctx = Context(services=services, viewer=Viewer(user=user))
            started = await imports.start_import(
                ctx, ObjectType(args.object), read(args.file), claimed_by=runner.name
            )
            if not isinstance(started, Ok):
                print(f"dealflow import: {started.problems[0].message}", file=sys.stderr)
                return 1
            job = await runner.work(started.value, on_progress=bar)
            print(file=sys.stderr)
            for line in imports.summary(job, await imports.list_errors(ctx, job, None, 0)):
                print(line)
            return 0 if job.status is ImportStatus.DONE else 1
        finally:
            await pool.close()

    if not os.path.isfile(args.file):
        print(f"dealflow import: no file {args.file}", file=sys.stderr)
        return 1
    return asyncio.run(run())


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
    sd = sub.add_parser(
        "seed-demo", help="fill a demo account; prints the super admin's API token as the last line"
    )
    sd.add_argument(
        "--seed", type=int, default=1, help="random seed (default 1): the same seed, the same data"
    )
    sd.set_defaults(run=cmd_seed_demo)
    im = sub.add_parser("import", help="import a CSV file of one object type, with a progress bar")
    im.add_argument("object", type=str.upper, choices=[t.value for t in ObjectType], metavar="OBJECT")
    im.add_argument("file", metavar="FILE.csv")
    im.add_argument(
        "--as", dest="as_email", metavar="EMAIL", help="the acting user (default: the first super admin)"
    )
    im.set_defaults(run=cmd_import)
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
