"""Configuration from environment variables, with defaults that need no set-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class SettingsError(ValueError):
    """An environment variable holds a value dealflow cannot use; the message names it, one line each."""


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls, case_sensitive=True, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in self._environ.items() if v != ""}


class Settings(BaseSettings):
    """Built by `from_env` from the environment; built directly (in tests), it reads no environment."""

    model_config = SettingsConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    broadcast_url: str = Field("memory://", validation_alias="BROADCAST_URL")
    host: str = Field("127.0.0.1", validation_alias="HOST")
    port: int = Field(8000, ge=0, le=65535, validation_alias="PORT")
    env: Literal["dev", "production"] = Field("production", validation_alias="DEALFLOW_ENV")
    data_dir: Path = Field(Path(".dealflow"), validation_alias="DEALFLOW_DATA_DIR")
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="ALLOWED_ORIGINS")
    max_body_bytes: int = Field(1_048_576, gt=0, validation_alias="MAX_BODY_BYTES")
    # multipart requests: an import's file, streamed (DESIGN 3)
    max_upload_bytes: int = Field(536_870_912, gt=0, validation_alias="MAX_UPLOAD_BYTES")
    request_timeout_seconds: float = Field(30.0, gt=0, validation_alias="REQUEST_TIMEOUT_SECONDS")
    pool_max_size: int = Field(20, ge=1, validation_alias="DATABASE_POOL_SIZE")
    smtp_url: str | None = Field(None, validation_alias="SMTP_URL")
    smtp_from: str = Field("dealflow@localhost", validation_alias="SMTP_FROM")
    outbox_horizon_days: float = Field(30.0, gt=0, validation_alias="OUTBOX_HORIZON_DAYS")
    notification_horizon_days: float = Field(90.0, gt=0, validation_alias="NOTIFICATION_HORIZON_DAYS")
    email_horizon_days: float = Field(30.0, gt=0, validation_alias="EMAIL_HORIZON_DAYS")
    prune_interval_seconds: float = Field(300.0, gt=0, validation_alias="PRUNE_INTERVAL_SECONDS")
    webhook_retry_base_seconds: float = Field(5.0, gt=0, validation_alias="WEBHOOK_RETRY_BASE_SECONDS")
    webhook_give_up_hours: float = Field(72.0, gt=0, validation_alias="WEBHOOK_GIVE_UP_HOURS")
    webhook_timeout_seconds: float = Field(15.0, gt=0, validation_alias="WEBHOOK_TIMEOUT_SECONDS")
    # the front-end's base URL: links such as Quote.approvalUrl point there
    app_url: str | None = Field(None, validation_alias="APP_URL")
    rate_limit_points: int = Field(10_000, ge=1, validation_alias="RATE_LIMIT_POINTS")
    rate_limit_window_seconds: int = Field(60, ge=1, validation_alias="RATE_LIMIT_WINDOW_SECONDS")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("app_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("smtp://", "smtps://", "smtp+starttls://")):
            raise ValueError("must start with smtp://, smtps:// or smtp+starttls://")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError(
                "must be an email address, such as dealflow@example.com or 'Dealflow <d@example.com>'"
            )
        return value

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment comes in through from_env only

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from environ (default os.environ); SettingsError names every bad variable."""
        values = _Environment(cls, os.environ if environ is None else environ)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError("; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: Any) -> str:
    name = ".".join(str(p) for p in error["loc"]) or "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{name}={error['input']!r}: {message[0].lower()}{message[1:]}"


# Every variable `from_env` reads, with what it means: the CLI's help and the README list these.
VARIABLES: Mapping[str, str] = {
    "DATABASE_URL": "PostgreSQL DSN; unset: an embedded PostgreSQL in $DEALFLOW_DATA_DIR/pg",
    "DEALFLOW_DATA_DIR": "where the embedded PostgreSQL keeps its data (default .dealflow)",
    "BROADCAST_URL": "pub/sub between processes: memory:// (default), postgres://… or redis://…",
    "HOST": "address to listen on (default 127.0.0.1)",
    "PORT": "port to listen on (default 8000)",
    "DEALFLOW_ENV": "dev (GraphiQL, detailed errors) or production (default)",
    "ALLOWED_ORIGINS": "comma-separated browser origins allowed to call the API",
    "MAX_BODY_BYTES": "larger request bodies get 413 (default 1048576)",
    "REQUEST_TIMEOUT_SECONDS": "a longer GraphQL request gets 504 (default 30)",
    "DATABASE_POOL_SIZE": "maximum connections in each process's pool (default 20)",
    "SMTP_URL": "smtp://user:pass@host:port (or smtps://, smtp+starttls://); unset: emails are logged",
    "SMTP_FROM": "the From address of emails (default dealflow@localhost)",
    "MAX_UPLOAD_BYTES": "larger multipart uploads (import files) get 413 (default 536870912)",
    "OUTBOX_HORIZON_DAYS": "outbox events older than this are pruned, never past a webhook's cursor (default 30)",
    "NOTIFICATION_HORIZON_DAYS": "read notifications older than this are pruned (default 90)",
    "EMAIL_HORIZON_DAYS": "sent emails older than this are pruned (default 30)",
    "PRUNE_INTERVAL_SECONDS": "how often each process prunes (default 300)",
    "WEBHOOK_RETRY_BASE_SECONDS": "first retry delay of a failed webhook delivery, doubling (default 5)",
    "WEBHOOK_GIVE_UP_HOURS": "how long a webhook event is retried before the endpoint is failing (default 72)",
    "WEBHOOK_TIMEOUT_SECONDS": "total time for one webhook request (default 15)",
    "APP_URL": "the front end's base URL, for links such as Quote.approvalUrl (default unset)",
    "RATE_LIMIT_POINTS": "each token's budget of operation cost per window (default 10000)",
    "RATE_LIMIT_WINDOW_SECONDS": "the rate limit's window (default 60)",
}
