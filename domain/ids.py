"""Global ids (DESIGN 10): one opaque id per object, "<Type>:<number>" in unpadded urlsafe base64."""

from __future__ import annotations

import base64
import binascii
import re

# The GraphQL type names an id can name: what a client gets back as `__typename` from node(id).
KINDS = frozenset(
    {
        "Contact",
        "Company",
        "Deal",
        "Ticket",
        "User",
        "Team",
        "Pipeline",
        "Stage",
        "Quote",
        "Engagement",
        "Task",
        "Notification",
        "Workflow",
        "WorkflowAction",
        "WorkflowRun",
        "Webhook",
        "WebhookDelivery",
        "ApiToken",
        "PropertyDefinition",
        "ApprovalProcess",
        "DealApproval",
        "Comment",
        "Import",
    }
)
# Types that share one id space: a task is an engagement, so either name finds it.
SAME_OBJECT = {"Task": "Engagement", "Engagement": "Task"}
RECORD_KINDS = {"CONTACT": "Contact", "COMPANY": "Company", "DEAL": "Deal", "TICKET": "Ticket"}
GLOBAL_MAX = 120  # characters: the longest kind and a bigint, encoded, with room to spare
_DECODED = re.compile(r"([A-Za-z]{1,40}):([1-9][0-9]{0,18})")
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def global_id(kind: str, number: int) -> str:
    """The opaque id of object `number` of type `kind`."""
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a type with global ids")
    return base64.urlsafe_b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")


def record_kind(object_type: str) -> str:
    """The type name of a CRM record's object type (CONTACT -> Contact)."""
    return RECORD_KINDS[str(object_type)]


def decode_global_id(value: str) -> tuple[str, int] | None:
    """(kind, number) of a global id; None for anything this module did not encode."""
    if not 0 < len(value) <= GLOBAL_MAX or not _ALPHABET.fullmatch(value):
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    found = _DECODED.fullmatch(text)
    if found is None or found.group(1) not in KINDS:
        return None
    kind, number = found.group(1), int(found.group(2))
    if global_id(kind, number) != value:  # one spelling per id: no padding, no stray bits
        return None
    return kind, number


def kind_matches(kind: str, expected: tuple[str, ...]) -> bool:
    """Whether an id of type `kind` may stand where one of `expected` is asked for."""
    return not expected or kind in expected or SAME_OBJECT.get(kind) in expected
