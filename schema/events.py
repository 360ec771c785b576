"""The Event type every subscription yields, built from the outbox payload alone."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.codes import RuleCode
from domain.events import StoredEvent
from domain.ids import RECORD_KINDS, global_id, record_kind
from domain.limits import BadInput, parse_number
from domain.quotes import from_snapshot as quote_from_snapshot
from domain.records import ObjectType, Scope
from domain.visibility import can_see
from resolvers.approvals import approval_from_snapshot
from resolvers.loaders import record_loader
from resolvers.snapshots import deal_from_snapshot

from .approvals import DealApproval
from .info import Info
from .node_ids import node_id
from .notifications import Notification
from .quotes import Quote, quote_loader
from .records import Deal

DEAL_DELETED = "deal.deleted"


async def deal_visible_now(info: Info, deal_id: int) -> bool:
    """Whether the viewer may see the deal now (DESIGN 2: visibility is decided at read time, so a
    replayed event never shows a record to someone who can no longer see it). ALL sees every deal
    without a query; others through the scope-checked loader, batched per event."""
    me = info.context.me
    if me.user.view_scope is Scope.ALL:
        return True
    return await record_loader(info.context, ObjectType.DEAL).load(deal_id) is not None


@strawberry.type(
    description="Something that happened, delivered by a subscription; which fields are set depends on its type."
)
class Event:
    """An outbox event. Its records are the event's snapshots, shown only to a viewer who may see
    them at read time; their related records load through the scope-checked loaders."""

    sequence: str = strawberry.field(
        description="The event's position in the event log; pass it as after to resume from here."
    )
    type: str = strawberry.field(
        description="What happened, for example deal.moved, approval.approved or a record type's created, updated or deleted."
    )
    notification: Notification | None = strawberry.field(
        default=None, description="For notification events: the notification."
    )
    stored_deal: strawberry.Private[Deal | None] = None
    stored_approval: strawberry.Private[DealApproval | None] = None
    stored_quote: strawberry.Private[Quote | None] = None
    deal_id: strawberry.Private[int | None] = None  # the deal an event without its snapshot is about
    record: JSON | None = strawberry.field(
        default=None,
        description="For contact/company/ticket events: {type, id, changes: {column: [old, new]}}; id is the record's global id.",
    )
    action: str | None = strawberry.field(default=None, description="For approval events: the action taken.")
    text: str | None = strawberry.field(
        default=None, description="The decision's message, reason or comment."
    )
    from_stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="For deal.moved: the stage the deal left."
    )

    @strawberry.field(
        description="The deal the event is about, as it was then; null when none or not visible to the viewer now."
    )
    async def deal(self, info: Info) -> Deal | None:
        found = self.stored_deal
        if found is None:  # an approval or quote event: its deal as it is now, if in scope now
            if self.deal_id is None:
                return None
            record = await record_loader(info.context, ObjectType.DEAL).load(self.deal_id)
            return Deal(record=record) if record is not None else None
        if self.type == DEAL_DELETED:  # gone now: its last state decides
            return found if can_see(info.context.me, found.record.owner_id) else None
        return found if await deal_visible_now(info, found.record.id) else None

    @strawberry.field(description="For approval events: the approval, as it was then.")
    async def approval(self, info: Info) -> DealApproval | None:
        found = self.stored_approval
        if found is None or not await deal_visible_now(info, found.approval.deal_id):
            return None
        return found

    @strawberry.field(description="For quote events: the quote, as it was then.")
    async def quote(self, info: Info) -> Quote | None:
        found = self.stored_quote
        if found is None:
            return None
        if info.context.me.user.view_scope is Scope.ALL:
            return found
        return found if await quote_loader(info.context).load(found.quote.id) is not None else None

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
        quote = payload.get("quote")
        return cls(
            stored_approval=approval,
            stored_quote=Quote.from_domain(quote_from_snapshot(quote)) if quote else None,
            action=payload.get("action"),
            record=shown_record(payload.get("record")),
            text=payload.get("text"),
            stored_deal=Deal(record=deal_from_snapshot(deal)) if deal else None,
            from_stage_id=node_id("Stage", from_stage) if from_stage else None,
            deal_id=event.deal_id,
            sequence=str(event.sequence),
            type=event.type,
            notification=Notification(
                id=node_id("Notification", note["id"]),
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


def shown_record(record: Any) -> Any:
    """A record event's {type, id, changes} with the record's global id, as every answer shows ids."""
    if not isinstance(record, dict) or str(record.get("type")) not in RECORD_KINDS:
        return record
    number = record.get("id")
    if not isinstance(number, int):
        return record
    return {**record, "id": global_id(record_kind(str(record["type"])), number)}


EVENT_CACHE_SIZE = 1024
_built: OrderedDict[int, tuple[StoredEvent, Event]] = OrderedDict()


def event_for(stored: StoredEvent) -> Event:
    """One `Event` per stored event per process (an LRU by sequence), so every subscriber's stream
    yields the same object and shared per-event execution (schema/fanout.py) can recognise it.
    A cached entry is reused only for the same stored event (identical, or equal when replayed)."""
    found = _built.get(stored.sequence)
    if found is not None and (found[0] is stored or found[0] == stored):
        _built.move_to_end(stored.sequence)
        return found[1]
    event = Event.from_stored(stored)
    _built[stored.sequence] = (stored, event)
    _built.move_to_end(stored.sequence)
    if len(_built) > EVENT_CACHE_SIZE:
        _built.popitem(last=False)
    return event


def parse_after(after: str | None) -> int | None:
    """An event sequence to resume after: digits within a bigint, else BAD_CURSOR (DESIGN 3)."""
    if after is None:
        return None
    if after == "0":
        return 0
    number = parse_number(after)
    if number is None:
        shown = after if len(after) <= 40 else after[:40] + "…"
        raise BadInput(RuleCode.BAD_CURSOR, f"after must be an event sequence, not {shown!r}", ("after",))
    return number
