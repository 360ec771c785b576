"""What workflow actions do to a quote: a task on its deal, a notification, a quote property, a deal move."""

from __future__ import annotations

from dataclasses import replace

from db import engagements as engagement_store
from db import quotes as quote_store
from db import records as record_store
from db.engagements import EngagementType
from db.pool import Conn
from domain import quotes as rules
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.limits import BadInput, parse_id
from domain.quotes import Quote
from domain.records import ChangeSource, ObjectType, Record
from domain.workflows import QUOTE_DEAL_STAGE, Action, ActionType

from . import writes
from .context import Context
from .engagements import MAX_ENGAGEMENTS_PER_RECORD, split_at_cap
from .notifications import notify
from .result import Refusal, Refused


async def act_on_quote(
    ctx: Context, conn: Conn, action: Action, quote: Quote, deal: Record
) -> tuple[str, Quote, list[NewEvent]]:
    """One action of a QUOTE workflow. Tasks and notifications without owners go to the quote's creator."""
    users = list(action.owner_ids) or [quote.created_by]
    if action.type is ActionType.CREATE_TASK:
        body = rules.render(action.body, quote) or None
        await _task(ctx, conn, deal, users[0], rules.render(action.title, quote), body)
        return f"task for user {users[0]}", quote, []
    if action.type is ActionType.SEND_NOTIFICATION:
        message = rules.render(action.value or action.title, quote)
        events = await notify(conn, users, kind=f"QUOTE_{quote.status.value}", message=message,
                              deal_id=deal.id, quote_id=quote.id, email=message)  # fmt: skip
        return f"notified {users}", quote, events
    if action.type is ActionType.SET_PROPERTY and action.property == QUOTE_DEAL_STAGE:
        done, events = await _move_deal(ctx, conn, deal, action.value)
        return done, quote, events
    if action.type is ActionType.SET_PROPERTY:
        after = await _set_property(ctx, conn, quote, action)
        return f"{action.property} set to {action.value}", after, []
    raise Refusal(Refused.one(RuleCode.INVALID, f"{action.type} does not apply to quotes"))


async def _task(ctx: Context, conn: Conn, deal: Record, assignee: int, title: str, body: str | None) -> None:
    """A task on the quote's deal (DESIGN 3: left unassociated once the deal holds the most)."""
    refs = [(ObjectType.DEAL, deal.id)]
    associated, _ = split_at_cap(
        refs, await engagement_store.count_engagements(conn, refs, MAX_ENGAGEMENTS_PER_RECORD)
    )
    await engagement_store.insert_engagement(
        conn, type=EngagementType.TASK, title=title, body=body, email_address=None, assignee_id=assignee,
        created_by=ctx.me.id, refs=associated,
    )  # fmt: skip
    if associated:
        await engagement_store.touch_records(conn, {ObjectType.DEAL: [deal.id]}, contacted=False)


async def _set_property(ctx: Context, conn: Conn, quote: Quote, action: Action) -> Quote:
    """A quote's custom property (`properties.<name>`), recorded in its history."""
    name = (action.property or "").removeprefix("properties.")
    old = quote.properties.get(name)
    if not name or old == action.value:
        return quote
    properties = {k: v for k, v in {**quote.properties, name: action.value}.items() if v is not None}
    after = await quote_store.update_quote(conn, quote.id, {"properties": properties})
    await quote_store.insert_history(
        conn, quote.id, f"properties.{name}", None if old is None else str(old), action.value,
        source=ChangeSource.WORKFLOW, changed_by=ctx.me.id,
    )  # fmt: skip
    return replace(after, status=quote.status)


async def _move_deal(ctx: Context, conn: Conn, deal: Record, value: str | None) -> tuple[str, list[NewEvent]]:
    """Seed 001: "update the deal stage when a quote is signed", through the deal's one move path, so
    the approval gate applies; a refused move raises, and is logged as this action's failure."""
    try:
        stage = parse_id(value or "", (), ("Stage",))
    except BadInput:
        raise Refusal(
            Refused.one(RuleCode.INVALID, f"{QUOTE_DEAL_STAGE} needs a stage id, not {value!r}")
        ) from None
    locked = await record_store.lock_record(conn, ObjectType.DEAL, deal.id, None)
    if locked.get("stage_id") == stage:
        return f"deal {deal.id} already in stage {stage}", []
    _, events = await writes.change_record(
        ctx, conn, locked, {"stage_id": stage}, source=ChangeSource.WORKFLOW
    )
    return f"deal {deal.id} moved to stage {stage}", events
