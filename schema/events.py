"""The Event type every subscription yields, built from the outbox payload alone."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.events import StoredEvent

from .notifications import Notification


@strawberry.type
class Event:
    sequence: str
    type: str
    notification: Notification | None = None

    @classmethod
    def from_stored(cls, event: StoredEvent) -> Event:
        payload = event.payload
        note = payload.get("notification")
        return cls(
            sequence=str(event.sequence),
            type=event.type,
            notification=Notification(
                id=strawberry.ID(str(note["id"])),
                kind=note["kind"],
                message=note["message"],
                read=note["read"],
                created_at=datetime.fromisoformat(note["created_at"]),
                deal_id=note["deal_id"],
                quote_id=note["quote_id"],
            )
            if note
            else None,
        )


def parse_after(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        value = int(after)
    except ValueError:
        raise ValueError(f"after must be an event sequence, not {after!r}") from None
    if value < 0:
        raise ValueError("after must not be negative")
    return value
