"""The Event type every subscription yields, built from the outbox payload alone."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.events import StoredEvent
from resolvers.records import deal_from_snapshot

from .notifications import Notification
from .records import Deal


@strawberry.type
class Event:
    sequence: str
    type: str
    notification: Notification | None = None
    deal: Deal | None = None
    from_stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="For deal.moved: the stage the deal left."
    )

    @classmethod
    def from_stored(cls, event: StoredEvent) -> Event:
        payload = event.payload
        note = payload.get("notification")
        deal = payload.get("deal")
        from_stage = payload.get("from_stage_id")
        return cls(
            deal=Deal(record=deal_from_snapshot(deal)) if deal else None,
            from_stage_id=strawberry.ID(str(from_stage)) if from_stage else None,
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
