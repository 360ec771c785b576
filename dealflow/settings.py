"""Configuration from environment variables, with defaults that need no set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _origins(raw: str | None) -> tuple[str, ...]:
    return tuple(o.strip() for o in (raw or "").split(",") if o.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    broadcast_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = 8000
    env: str = "production"
    data_dir: Path = Path(".dealflow")
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 536_870_912  # multipart requests: an import's file, streamed (DESIGN 3)
    request_timeout_seconds: float = 30.0
    pool_max_size: int = 20
    smtp_url: str | None = None

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            broadcast_url=env.get("BROADCAST_URL") or "memory://",
            host=env.get("HOST") or "127.0.0.1",
            port=int(env.get("PORT") or 8000),
            env=env.get("DEALFLOW_ENV") or "production",
            data_dir=Path(env.get("DEALFLOW_DATA_DIR") or ".dealflow"),
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES") or 1_048_576),
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES") or 536_870_912),
            request_timeout_seconds=float(env.get("REQUEST_TIMEOUT_SECONDS") or 30),
            pool_max_size=int(env.get("DATABASE_POOL_SIZE") or 20),
            smtp_url=env.get("SMTP_URL") or None,
        )
