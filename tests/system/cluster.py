"""Real `dealflow serve` processes and a Redis of our own, each in its own process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://app.example.com"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def spawn(args: list[str], *, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A process in a new session (its own process group), its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a few seconds; the whole process group either way."""
    if process.poll() is None:
        kill_group(process, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.wait(5)
    kill_group(process)  # anything the process left in its group


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9, the process group with it."""
        kill_group(self.process)
        self.process.wait(5)


@dataclass
class Cluster:
    """`dealflow serve` processes on one database; every one is killed at teardown."""

    dsn: str
    folder: Path
    servers: list[Server] = field(default_factory=list)

    async def start(self, name: str, broadcast_url: str, extra_env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log = self.folder / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "BROADCAST_URL": broadcast_url,
            "DEALFLOW_ENV": "production",
            "ALLOWED_ORIGINS": ORIGIN,
            "DATABASE_POOL_SIZE": "6",
            **(extra_env or {}),
        }
        process = spawn([sys.executable, "-m", "dealflow.cli", "serve"], env=env, log=log)
        server = Server(name, port, process, log)
        self.servers.append(server)
        await self._wait_healthy(server)
        return server

    async def _wait_healthy(self, server: Server) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} exited:\n{server.log_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(server.url + "/healthz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{server.name} did not start:\n{server.log_text()[-3000:]}")
                await asyncio.sleep(0.1)

    def stop_all(self) -> None:
        for server in self.servers:
            stop(server.process)


class RedisServer:
    """A redis-server of our own on a fixed port, so it can be killed and started again there."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = spawn([*args, "--dir", str(self.folder)], log=self.folder / "redis.log")
        for _ in range(100):
            if listening(self.port):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.process.wait(5)
            self.process = None
