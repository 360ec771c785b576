"""The Event type every subscription yields, built from the outbox payload alone."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.events import StoredEvent
from resolvers.approvals import approval_from_snapshot
from resolvers.snapshots import deal_from_snapshot

from .approvals import DealApproval
from .notifications import Notification
from .records import Deal


@strawberry.type
class Event:
    sequence: str
    type: str
    notification: Notification | None = None
    deal: Deal | None = None
    approval: DealApproval | None = None
    record: JSON | None = strawberry.field(
        default=None,
        description="For contact/company/ticket events: {type, id, changes: {column: [old, new]}}.",
    )
    action: str | None = strawberry.field(default=None, description="For approval events: the action taken.")
    text: str | None = strawberry.field(
        default=None, description="The decision's message, reason or comment."
    )
    from_stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="For deal.moved: the stage the deal left."
    )

    @classmethod
    def from_stored(cls, event: StoredEvent) -> Event:
        payload = event.payload
        note = payload.get("notification")
        deal = payload.get("deal")
        from_stage = payload.get("from_stage_id")
        approval = None
        if payload.get("approval"):
            found, approver_ids = approval_from_snapshot(payload["approval"])
            approval = DealApproval(approval=found, approver_ids=approver_ids)
        return cls(
            approval=approval,
            action=payload.get("action"),
            record=payload.get("record"),
            text=payload.get("text"),
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
