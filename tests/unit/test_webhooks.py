"""Webhook policy: Standard Webhooks signatures, type matching, retry backoff, allowed destinations."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from domain.events import StoredEvent
from domain.webhooks import (
    event_body,
    forbidden_address,
    gives_up,
    like_patterns,
    matches,
    new_secret,
    retry_delay,
    signed_headers,
    url_problem,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored(sequence: int, type: str = "deal.created") -> StoredEvent:
    return StoredEvent(sequence, type, {"deal": {"id": 3}}, 7, frozenset(), 1, 3, None, None)


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret = new_secret(bytes(range(32)))
    body = event_body(stored(41), NOW)
    headers = signed_headers(secret, 41, int(datetime.now(UTC).timestamp()), body)
    payload = Webhook(secret).verify(body, headers)
    assert headers["webhook-id"] == "evt_41" and payload["sequence"] == "41"
    assert payload["data"]["deal"] == {"id": 3} and payload["type"] == "deal.created"


def test_the_same_event_always_carries_the_same_webhook_id() -> None:
    secret = new_secret(b"k" * 32)
    body = event_body(stored(9), NOW)
    assert (
        signed_headers(secret, 9, 100, body)["webhook-id"]
        == signed_headers(secret, 9, 200, body)["webhook-id"]
    )


@pytest.mark.parametrize(
    ("wanted", "event_type", "expected"),
    [
        (["deal.created"], "deal.created", True),
        (["deal.created"], "deal.moved", False),
        (["deal.*"], "deal.moved", True),
        (["deal.*"], "dealx.moved", False),
        (["*"], "quote.signed", True),
        (["contact_x"], "contactYx", False),
    ],
)
def test_event_types_match_exactly_or_by_prefix_in_python_and_sql_alike(
    wanted: list[str], event_type: str, expected: bool
) -> None:
    assert matches(wanted, event_type) is expected
    assert all(p.endswith("%") or "%" not in p for p in like_patterns(wanted))


@pytest.mark.parametrize(
    ("attempts", "jitter", "seconds"),
    [
        (1, 1.0, 5.0),
        (1, 0.0, 2.5),
        (2, 1.0, 10.0),
        (3, 1.0, 20.0),
        (4, 0.5, 30.0),
        (20, 1.0, 3600.0),
        (20, 0.0, 1800.0),
    ],
)
def test_retries_back_off_exponentially_with_jitter_up_to_an_hour(
    attempts: int, jitter: float, seconds: float
) -> None:
    assert retry_delay(attempts, jitter) == pytest.approx(seconds)


def test_retries_stop_once_the_first_attempt_is_72_hours_old() -> None:
    assert not gives_up(NOW, NOW + timedelta(hours=71, minutes=59))
    assert gives_up(NOW, NOW + timedelta(hours=72))


@pytest.mark.parametrize(
    ("url", "dev", "ok"),
    [
        ("https://hooks.example.com/x", False, True),
        ("http://hooks.example.com/x", False, False),
        ("http://127.0.0.1:9000/x", True, True),
        ("https://192.168.1.5/x", False, False),
        ("ftp://hooks.example.com/x", True, False),
        ("https://:443/x", False, False),
    ],
)
def test_urls_are_https_in_production_and_may_be_http_in_dev(url: str, dev: bool, ok: bool) -> None:
    assert (url_problem(url, dev=dev) is None) is ok


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_loopback_link_local_and_private_destinations_are_forbidden(address: str, forbidden: bool) -> None:
    assert forbidden_address(ipaddress.ip_address(address)) is forbidden
