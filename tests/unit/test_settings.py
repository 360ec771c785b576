"""Settings from environment variables: defaults, parsing, and one readable line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealflow.settings import VARIABLES, Settings, SettingsError


def test_no_environment_gives_the_documented_defaults() -> None:
    s = Settings.from_env({})
    assert (s.database_url, s.broadcast_url, s.host, s.port, s.env) == (
        None, "memory://", "127.0.0.1", 8000, "production",
    )  # fmt: skip
    assert (s.data_dir, s.allowed_origins, s.smtp_url, s.smtp_from) == (
        Path(".dealflow"), (), None, "dealflow@localhost",
    )  # fmt: skip
    assert (s.max_body_bytes, s.request_timeout_seconds, s.pool_max_size) == (1_048_576, 30.0, 20)
    assert not s.dev


def test_every_variable_is_read_under_its_documented_name() -> None:
    s = Settings.from_env({
        "DATABASE_URL": "postgresql://db/x", "BROADCAST_URL": "redis://r/0", "HOST": "0.0.0.0",
        "PORT": "9001", "DEALFLOW_ENV": "dev", "DEALFLOW_DATA_DIR": "/tmp/d",
        "ALLOWED_ORIGINS": " https://a.example , https://b.example,", "MAX_BODY_BYTES": "10",
        "REQUEST_TIMEOUT_SECONDS": "2.5", "DATABASE_POOL_SIZE": "3",
        "SMTP_URL": "smtp+starttls://u:p@mail:587", "SMTP_FROM": "Sales <sales@example.com>",
        "MAX_UPLOAD_BYTES": "20", "OUTBOX_HORIZON_DAYS": "7", "NOTIFICATION_HORIZON_DAYS": "8",
        "EMAIL_HORIZON_DAYS": "9", "PRUNE_INTERVAL_SECONDS": "60", "WEBHOOK_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_GIVE_UP_HOURS": "2", "WEBHOOK_TIMEOUT_SECONDS": "3", "APP_URL": "https://app.example.com/",
        "RATE_LIMIT_POINTS": "100", "RATE_LIMIT_WINDOW_SECONDS": "10",
    })  # fmt: skip
    assert s.model_dump() == {
        "database_url": "postgresql://db/x", "broadcast_url": "redis://r/0", "host": "0.0.0.0", "port": 9001,
        "env": "dev", "data_dir": Path("/tmp/d"), "allowed_origins": ("https://a.example", "https://b.example"),
        "max_body_bytes": 10, "request_timeout_seconds": 2.5, "pool_max_size": 3,
        "smtp_url": "smtp+starttls://u:p@mail:587", "smtp_from": "Sales <sales@example.com>",
        "max_upload_bytes": 20, "outbox_horizon_days": 7.0, "notification_horizon_days": 8.0,
        "email_horizon_days": 9.0, "prune_interval_seconds": 60.0, "webhook_retry_base_seconds": 1.0,
        "webhook_give_up_hours": 2.0, "webhook_timeout_seconds": 3.0, "app_url": "https://app.example.com",
        "rate_limit_points": 100, "rate_limit_window_seconds": 10,
    }  # fmt: skip
    assert s.dev
    assert set(VARIABLES) == {f.validation_alias for f in Settings.model_fields.values()}


def test_an_empty_variable_counts_as_unset() -> None:
    assert Settings.from_env({"PORT": "", "DATABASE_URL": "", "HOST": ""}) == Settings()


def test_settings_built_in_code_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "1234")
    assert Settings(env="production").port == 8000
    assert Settings.from_env().port == 1234  # from_env reads os.environ when given nothing


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "abc"}, "PORT='abc': input should be a valid integer"),
        ({"PORT": "70000"}, "PORT='70000': input should be less than or equal to 65535"),
        ({"DEALFLOW_ENV": "prod"}, "DEALFLOW_ENV='prod': input should be 'dev' or 'production'"),
        ({"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE='0': input should be greater than or equal to 1"),
        ({"SMTP_URL": "mail.example.com"}, "SMTP_URL='mail.example.com': must start with smtp://"),
        ({"SMTP_FROM": "dealflow"}, "SMTP_FROM='dealflow': must be an email address"),
    ],
)
def test_a_bad_value_is_refused_with_its_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PORT": "abc", "DATABASE_POOL_SIZE": "x"})
    assert "PORT='abc'" in str(caught.value)
    assert "DATABASE_POOL_SIZE='x'" in str(caught.value)
