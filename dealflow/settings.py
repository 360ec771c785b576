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
    outbox_horizon_days: float = 30.0
    notification_horizon_days: float = 90.0
    email_horizon_days: float = 30.0
    prune_interval_seconds: float = 300.0
    webhook_retry_base_seconds: float = 5.0
    webhook_give_up_hours: float = 72.0
    webhook_timeout_seconds: float = 15.0
    app_url: str | None = None  # the front-end's base URL: links such as Quote.approvalUrl point there
    rate_limit_points: int = 10_000
    rate_limit_window_seconds: int = 60

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
            outbox_horizon_days=float(env.get("OUTBOX_HORIZON_DAYS") or 30),
            notification_horizon_days=float(env.get("NOTIFICATION_HORIZON_DAYS") or 90),
            email_horizon_days=float(env.get("EMAIL_HORIZON_DAYS") or 30),
            prune_interval_seconds=float(env.get("PRUNE_INTERVAL_SECONDS") or 300),
            webhook_retry_base_seconds=float(env.get("WEBHOOK_RETRY_BASE_SECONDS") or 5),
            webhook_give_up_hours=float(env.get("WEBHOOK_GIVE_UP_HOURS") or 72),
            webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS") or 15),
            app_url=(env.get("APP_URL") or "").rstrip("/") or None,
            rate_limit_points=int(env.get("RATE_LIMIT_POINTS") or 10_000),
            rate_limit_window_seconds=int(env.get("RATE_LIMIT_WINDOW_SECONDS") or 60),
        )
