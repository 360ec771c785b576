"""Webhooks (DESIGN 9): Standard Webhooks signing, event-type matching, retry policy, allowed destinations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .events import StoredEvent

SECRET_PREFIX = "whsec_"
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 3600.0
GIVE_UP_SECONDS = 72 * 3600.0
MAX_EVENT_TYPES = 50
MAX_URL_LENGTH = 2000

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_secret(key: bytes) -> str:
    """A secret in the Standard Webhooks form: whsec_ and the base64 of the key bytes."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def message_id(sequence: int) -> str:
    """The same event always carries the same webhook-id, so receivers can drop duplicates."""
    return f"evt_{sequence}"


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, sequence: int, timestamp: int, body: bytes) -> dict[str, str]:
    msg_id = message_id(sequence)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def event_body(event: StoredEvent, created_at: datetime) -> bytes:
    """The event as the outbox stores it: nothing read from current data."""
    data: dict[str, Any] = {
        "id": message_id(event.sequence),
        "type": event.type,
        "sequence": str(event.sequence),
        "timestamp": created_at.isoformat(),
        "data": {
            "owner_id": event.owner_id,
            "pipeline_id": event.pipeline_id,
            "deal_id": event.deal_id,
            "quote_id": event.quote_id,
            "import_id": event.import_id,
            **event.payload,
        },
    }
    return json.dumps(data, separators=(",", ":"), default=str).encode()


def matches(event_types: tuple[str, ...] | list[str], event_type: str) -> bool:
    """An endpoint's types match exactly, or by prefix with a trailing `*` (`deal.*`, or `*` for all)."""
    for wanted in event_types:
        if wanted.endswith("*"):
            if event_type.startswith(wanted[:-1]):
                return True
        elif wanted == event_type:
            return True
    return False


def like_patterns(event_types: tuple[str, ...] | list[str]) -> list[str]:
    """The same matching as `matches`, as SQL LIKE patterns (with `\\` escapes)."""
    patterns = []
    for wanted in event_types:
        escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns.append(escaped[:-1] + "%" if escaped.endswith("*") else escaped)
    return patterns


def event_types_problem(event_types: list[str]) -> str | None:
    if not event_types:
        return "Give at least one event type (e.g. deal.created, or deal.* for every deal event)."
    if len(event_types) > MAX_EVENT_TYPES:
        return f"At most {MAX_EVENT_TYPES} event types."
    for wanted in event_types:
        body = wanted.removesuffix("*")
        if "*" in body or not all(c.isalnum() or c in "._-" for c in body) or len(wanted) > 100:
            return f"{wanted!r} is not an event type: letters, digits, '.', '_', '-' and a final '*'."
    return None


def url_problem(url: str, *, dev: bool) -> str | None:
    """HTTPS only in production; HTTP too in dev. The host's addresses are checked when sending."""
    if len(url) > MAX_URL_LENGTH:
        return f"The URL is longer than {MAX_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return "The URL is not valid."
    allowed = ("https", "http") if dev else ("https",)
    if parts.scheme not in allowed:
        return "The URL must use https." if not dev else "The URL must use http or https."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "The URL must not carry credentials."
    if not dev:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None
        if forbidden_address(literal):
            return "The URL points at a loopback, link-local or private address."
    return None


def forbidden_address(address: Address) -> bool:
    """Addresses a production server must not call for a webhook (server-side request forgery)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def retry_delay(attempts: int, jitter: float, base: float = RETRY_BASE_SECONDS) -> float:
    """Seconds before the next try after `attempts` failures: base·2^(attempts-1), at most an hour,
    scaled by jitter in [0, 1) to between half and all of it, so failing receivers are not hit in step."""
    full = min(base * 2.0 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    return full * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def gives_up(first_attempt_at: datetime, now: datetime, window: float = GIVE_UP_SECONDS) -> bool:
    """Retries stop once the first try of an event is `window` seconds (72 hours) old."""
    return (now - first_attempt_at).total_seconds() >= window


def success(status_code: int) -> bool:
    return 200 <= status_code < 300
