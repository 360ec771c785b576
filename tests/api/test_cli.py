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


async def test_version_prints_the_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    code, out, err = await dealflow("--version", dsn="postgresql://unused", data_dir=tmp_path)
    assert (code, out.strip()) == (0, f"dealflow {version('dealflow')}"), err


async def test_serve_help_lists_its_options_and_every_environment_variable(tmp_path: Path) -> None:
    from dealflow.settings import VARIABLES

    code, out, err = await dealflow("serve", "--help", dsn="postgresql://unused", data_dir=tmp_path)
    assert code == 0, err
    assert "--host" in out and "--port" in out
    missing = [name for name in VARIABLES if name not in out]
    assert not missing, f"serve --help does not mention {missing}"


async def test_migrate_help_lists_the_database_variables(tmp_path: Path) -> None:
    code, out, err = await dealflow("migrate", "--help", dsn="postgresql://unused", data_dir=tmp_path)
    assert code == 0, err
    assert "DATABASE_URL" in out and "DEALFLOW_DATA_DIR" in out


async def test_a_bad_setting_is_one_readable_line_and_exit_code_2(db_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": db_dsn, "DEALFLOW_DATA_DIR": str(tmp_path), "PORT": "abc"}
    code, out, err = await dealflow("migrate", env=env)
    assert code == 2
    assert err.strip() == (
        "dealflow: bad setting: PORT='abc': input should be a valid integer, unable to parse string as an integer"
    )
    assert out == ""


async def test_create_user_refuses_an_invalid_email_with_exit_code_2_and_creates_nothing(
    db_dsn: str, tmp_path: Path
) -> None:
    code, out, err = await dealflow(
        "create-user", "--email", "notanemail", "--name", "N", dsn=db_dsn, data_dir=tmp_path / "data"
    )
    assert code == 2
    assert out == ""
    assert "'notanemail' is not an email address" in err
    assert "Traceback" not in err
    code, _, err = await dealflow(
        "create-user", "--email", "n@example.com", "--name", "N", "--view-scope", "MINE",
        dsn=db_dsn, data_dir=tmp_path / "data",
    )  # fmt: skip
    assert code == 2
    assert "Invalid value for '--view-scope'" in err
    conn = await asyncpg.connect(db_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
    finally:
        await conn.close()


async def test_create_user_takes_scopes_and_approver_in_any_case(db_dsn: str, tmp_path: Path) -> None:
    code, out, err = await dealflow(
        "create-user", "--email", "team@example.com", "--name", "T", "--approver",
        "--view-scope", "team", "--edit-scope", "OWNED", dsn=db_dsn, data_dir=tmp_path / "data",
    )  # fmt: skip
    assert code == 0, err
    conn = await asyncpg.connect(db_dsn)
    try:
        viewer = await user_store.get_viewer_by_token(conn, out.strip().splitlines()[-1])
    finally:
        await conn.close()
    assert viewer is not None
    assert (viewer.user.view_scope, viewer.user.edit_scope, viewer.user.can_approve_deals) == (
        "TEAM",
        "OWNED",
        True,
    )


async def test_tokens_are_listed_created_and_revoked_from_the_command_line(
    db_dsn: str, tmp_path: Path
) -> None:
    where = {"dsn": db_dsn, "data_dir": tmp_path / "data"}
    _, out, _ = await dealflow("create-user", "--email", "tok@example.com", "--name", "Tok", **where)
    first = out.strip().splitlines()[-1]
    code, out, err = await dealflow(
        "tokens", "create", "--email", "TOK@example.com", "--name", "ci", "--expires-days", "30", **where
    )
    assert code == 0, err
    second = out.strip().splitlines()[-1]
    assert second.startswith("df_") and second != first
    code, out, err = await dealflow("tokens", "list", "--email", "tok@example.com", **where)
    assert code == 0, err
    assert "default" in out and "ci" in out, out
    conn = await asyncpg.connect(db_dsn)
    try:
        tokens = await conn.fetch(
            "SELECT id, name, expires_at IS NOT NULL AS expires FROM api_tokens ORDER BY id"
        )
    finally:
        await conn.close()
    assert [(r["id"], r["name"], r["expires"]) for r in tokens] == [(1, "default", False), (2, "ci", True)]
    assert first not in out and second not in out  # only hashes are stored; a token is shown once

    code, out, err = await dealflow("tokens", "revoke", "1", **where)
    assert (code, out.strip()) == (0, "revoked token 1"), err
    code, _, err = await dealflow("tokens", "revoke", "999", **where)
    assert code == 1
    assert "no token with id 999" in err
    conn = await asyncpg.connect(db_dsn)
    try:
        assert await user_store.get_viewer_by_token(conn, first) is None
        assert await user_store.get_viewer_by_token(conn, second) is not None
    finally:
        await conn.close()
    code, _, err = await dealflow("tokens", "list", "--email", "nobody@example.com", **where)
    assert code == 1
    assert "no user with email nobody@example.com" in err


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
    port = free_port()
    env |= {"DEALFLOW_DATA_DIR": str(data), "DEALFLOW_ENV": "production"}
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
            sys.executable, "-m", "dealflow.cli", "serve", "--port", str(port), cwd=ROOT, env=env, start_new_session=True,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
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
