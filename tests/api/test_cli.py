"""The `dealflow` command as a user runs it: a real process, the database from DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx

from db import users as user_store

ROOT = Path(__file__).resolve().parents[2]


async def dealflow(
    *args: str, dsn: str | None = None, data_dir: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run `dealflow ARGS` (as `python -m dealflow.cli`); DATABASE_URL=dsn unless env is given."""
    if env is None:
        assert dsn is not None and data_dir is not None
        env = {**os.environ, "DATABASE_URL": dsn, "DEALFLOW_DATA_DIR": str(data_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dealflow.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_create_user_prints_a_working_token_as_its_last_line(db_dsn: str, tmp_path: Path) -> None:
    code, out, err = await dealflow(
        "create-user", "--email", "Ada@Example.com", "--name", "Ada", "--super-admin",
        dsn=db_dsn, data_dir=tmp_path / "data",
    )  # fmt: skip
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    conn = await asyncpg.connect(db_dsn)
    try:
        viewer = await user_store.get_viewer_by_token(conn, token)
    finally:
        await conn.close()
    assert viewer is not None, f"the last line {token!r} is not a working token"
    assert viewer.user.email == "Ada@Example.com"
    assert viewer.user.name == "Ada"
    assert viewer.user.is_super_admin
    assert not viewer.user.can_approve_deals


async def test_create_user_with_a_taken_email_fails_without_a_token(db_dsn: str, tmp_path: Path) -> None:
    args = ("create-user", "--email", "bo@example.com", "--name", "Bo")
    first, _, _ = await dealflow(*args, dsn=db_dsn, data_dir=tmp_path / "data")
    code, out, err = await dealflow(*args, dsn=db_dsn, data_dir=tmp_path / "data")
    assert first == 0
    assert code == 1
    assert out == ""
    assert "already exists" in err
    assert "Traceback" not in err


async def test_database_url_set_starts_no_embedded_server(db_dsn: str, tmp_path: Path) -> None:
    code, out, err = await dealflow("migrate", dsn=db_dsn, data_dir=tmp_path / "data")
    assert code == 0, err
    assert out.strip() == "applied 0 migration(s)"
    assert not (tmp_path / "data").exists()


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the embedded server running on pgdata, or None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_command_beside_serve_shares_its_embedded_server_and_ctrl_c_stops_both() -> None:
    data = Path(tempfile.mkdtemp(prefix="df-cli-"))  # short: the server's socket lives in it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"DEALFLOW_DATA_DIR": str(data), "PORT": str(free_port()), "DEALFLOW_ENV": "production"}
    pgdata = data / "pg"
    serve: asyncio.subprocess.Process | None = None
    try:
        # A first command starts the embedded server and, being its only user, stops it on exit.
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dealflow.cli", "migrate", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(migrate.communicate(), timeout=60)
        assert migrate.returncode == 0, err.decode()
        assert postmaster_pid(pgdata) is None
        # A process killed without its atexit hook leaves its pid behind; it must not keep the
        # server alive for ever.
        (pgdata / ".handle_pids.json").write_text(json.dumps([migrate.pid]))

        serve = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dealflow.cli", "serve", cwd=ROOT, env=env, start_new_session=True,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{env['PORT']}"
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            for _ in range(300):
                assert serve.returncode is None, "serve exited"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            server_pid = postmaster_pid(pgdata)
            assert server_pid is not None

            code, out, err = await dealflow(
                "create-user", "--email", "cy@example.com", "--name", "Cy", env=env
            )
            assert code == 0, err
            assert postmaster_pid(pgdata) == server_pid, "create-user stopped or replaced the server"
            token = out.strip().splitlines()[-1]
            response = await http.post(
                "/graphql", json={"query": "{ viewer { id } }"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["data"]["viewer"]["id"]

        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert await asyncio.wait_for(serve.wait(), timeout=30) in (0, 128 + signal.SIGINT)
        assert postmaster_pid(pgdata) is None, "the embedded server outlived serve"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        if serve is not None and serve.returncode is None:
            serve.kill()
            await serve.wait()
        pid = postmaster_pid(pgdata)
        if pid is not None:
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
            for _ in range(100):
                if postmaster_pid(pgdata) is None:
                    break
                await asyncio.sleep(0.1)
        shutil.rmtree(data, ignore_errors=True)
