"""Quotes on deals: drafting, publishing, approval, recall and the approval setting (seed 001)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from db import events as event_store
from db import idempotency
from db import quotes as quote_store
from db import records as record_store
from db import users as user_store
from db import workflows as workflow_store
from db.errors import NotFound
from db.pool import Conn
from domain import quotes as rules
from domain.codes import Refusal as DomainRefusal
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.quotes import LineItem, Quote, QuoteAction, QuoteSettings, QuoteStatus
from domain.records import ObjectType, Record
from domain.visibility import can_edit, visible_owner_ids
from domain.workflows import TriggerEvent

from . import workflows
from .context import Context
from .result import Ok, Problem, Refusal, Refused, Result, use_case

QUOTE_EVENT_PREFIX = "quote."
STATUS = frozenset({"status"})


@dataclass(frozen=True, slots=True)
class QuoteDraft:
    title: str
    line_items: tuple[LineItem, ...] = ()
    expires_at: datetime | None = None
    terms: str | None = None
    currency: str | None = None  # None: the deal's currency


def _check(fields: Mapping[str, Any]) -> None:
    """Refuse bad input (every problem at once) before anything is read or written."""
    found = rules.quote_problems(fields.get("title"), fields.get("terms"), fields.get("currency"))
    found += rules.line_item_problems(fields.get("line_items", ()))
    if found:
        raise Refusal(Refused(tuple(Problem(m, RuleCode.INVALID, tuple(f.split("."))) for f, m in found)))


async def _deal(conn: Conn, deal_id: int) -> Record:
    return (await record_store.get_records(conn, ObjectType.DEAL, [deal_id], None))[0]


@use_case
async def create_quote(
    ctx: Context, deal_id: int, draft: QuoteDraft, *, idempotency_key: str | None = None
) -> Result[Quote]:
    """A draft quote on a deal the viewer may edit; a deal out of scope reads as not found."""
    _check({"title": draft.title, "terms": draft.terms, "currency": draft.currency,
            "line_items": draft.line_items})  # fmt: skip
    async with ctx.pool.acquire() as conn, conn.transaction():
        if idempotency_key is not None:
            first = await idempotency.claim_key(conn, ctx.me.id, "create:QUOTE", idempotency_key)
            if first is not None:
                return Ok(await quote_store.lock_quote(conn, first, None, ctx.me.id))
        owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
        try:
            deal = await record_store.lock_record(conn, ObjectType.DEAL, deal_id, owners)
        except NotFound:
            raise Refusal.one(RuleCode.NOT_FOUND, f"deal {deal_id} not found", "dealId") from None
        if not can_edit(ctx.me, deal.owner_id):
            raise Refusal.one(RuleCode.FORBIDDEN, f"you may not edit deal {deal_id}", "dealId")
        quote = await quote_store.insert_quote(
            conn, deal_id=deal_id, title=draft.title.strip(), currency=draft.currency or str(deal.get("currency")),
            terms=draft.terms, expires_at=draft.expires_at, total=rules.totals(draft.line_items).total,
            created_by=ctx.me.id, public_token=secrets.token_urlsafe(24), items=draft.line_items,
        )  # fmt: skip
        if idempotency_key is not None:
            await idempotency.record_key(conn, ctx.me.id, "create:QUOTE", idempotency_key, quote.id)
        await event_store.append(conn, [quote_event("created", quote, deal, actor_id=ctx.me.id)])
    ctx.committed()
    return Ok(quote)


async def _lock(ctx: Context, conn: Conn, quote_id: int) -> tuple[Quote, Record]:
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    try:
        quote = await quote_store.lock_quote(conn, quote_id, owners, ctx.me.id)
    except NotFound:
        raise Refusal.one(RuleCode.NOT_FOUND, f"quote {quote_id} not found", "id") from None
    return quote, await _deal(conn, quote.deal_id)


def _check_editor(ctx: Context, quote: Quote, deal: Record) -> None:
    if not can_edit(ctx.me, deal.owner_id):
        raise Refusal.one(RuleCode.FORBIDDEN, f"you may not change quote {quote.id}", "id")


@use_case
async def update_quote(
    ctx: Context, quote_id: int, fields: Mapping[str, Any], expected_version: int | None = None
) -> Result[Quote]:
    """Edit a quote in DRAFT, CHANGES_REQUESTED or RECALLED (which makes it a draft again)."""
    _check(fields)
    async with ctx.pool.acquire() as conn, conn.transaction():
        quote, deal = await _lock(ctx, conn, quote_id)
        _check_editor(ctx, quote, deal)
        if expected_version is not None and expected_version != quote.version:
            raise Refusal.one(RuleCode.VERSION_CONFLICT, f"quote {quote_id} is at version {quote.version}, "
                         f"not {expected_version}", "expectedVersion")  # fmt: skip
        steps = _decide(ctx, quote, QuoteAction.EDIT, QuoteSettings())
        values = {k: v.strip() if k == "title" else v for k, v in fields.items() if k != "line_items"}
        if "line_items" in fields:
            await quote_store.replace_line_items(conn, quote_id, fields["line_items"])
            values["total"] = rules.totals(fields["line_items"]).total
        if steps:
            values["status"] = steps[-1].value
        after = await quote_store.update_quote(conn, quote_id, values)
        events = [quote_event("updated", after, deal, actor_id=ctx.me.id)]
        if steps:
            events.append(status_event(quote.status, after, deal, ctx.me.id, QuoteAction.EDIT))
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(after)


def _decide(
    ctx: Context, quote: Quote, action: QuoteAction, settings: QuoteSettings, notes: str | None = None
) -> tuple[QuoteStatus, ...]:
    outcome = rules.decide(
        quote.status, action, actor_id=ctx.me.id, approver_id=quote.approver_id,
        approval_required=settings.approval_required, notes=notes,
    )  # fmt: skip
    if isinstance(outcome, DomainRefusal):
        raise Refusal.of(outcome, "id")
    return outcome


@use_case
async def act(ctx: Context, quote_id: int, action: QuoteAction, text: str | None = None) -> Result[Quote]:
    """Publish, approve (and publish), request changes or recall: one transaction per action."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        quote, deal = await _lock(ctx, conn, quote_id)
        if action in (QuoteAction.PUBLISH, QuoteAction.RECALL):
            _check_editor(ctx, quote, deal)
        settings = await quote_store.get_settings(conn)
        steps = _decide(ctx, quote, action, settings, text)
        values: dict[str, Any] = {"status": steps[-1].value}
        if steps[-1] is QuoteStatus.PENDING_APPROVAL:
            await _check_approver(conn, settings.approver_id)
            values |= {"approver_id": settings.approver_id, "change_notes": None}
        elif steps[-1] is QuoteStatus.CHANGES_REQUESTED:
            values["change_notes"] = (text or "").strip()
        elif steps[-1] is QuoteStatus.PUBLISHED:
            values |= {"published_at": datetime.now(UTC), "change_notes": None}
            values["approver_id"] = quote.approver_id if action is QuoteAction.APPROVE else None
        elif steps[-1] is QuoteStatus.RECALLED:
            values["published_at"] = None
        after = await quote_store.update_quote(conn, quote_id, values)
        events: list[NewEvent] = []
        previous = quote.status
        for step in steps:  # approving passes through APPROVED on its way to PUBLISHED
            shown = after if step is after.status else replace(after, status=step, published_at=None)
            events.append(status_event(previous, shown, deal, ctx.me.id, action, text))
            _, more = await workflows.enroll_quote(ctx, conn, shown, deal, created=False, changed=STATUS)
            events += more
            previous = step
        await event_store.append(conn, events)
        after = (await quote_store.get_quotes(conn, [quote_id], None, ctx.me.id))[0]
    ctx.committed()
    return Ok(after)


async def _check_approver(conn: Conn, approver_id: int | None) -> None:
    approver = await user_store.list_users(conn, [approver_id] if approver_id else [])
    if not approver or not approver[0].active:
        raise Refusal.one(RuleCode.INACTIVE_USER, "The quote approver is deactivated: a super admin must "
                     "choose another before quotes can be sent for approval.", "id")  # fmt: skip


@use_case
async def set_approval_settings(
    ctx: Context, required: bool, approver_id: int | None
) -> Result[QuoteSettings]:
    """Seed 001: one approver; on installs (or re-enables) the three automations, off disables them."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        previous = await quote_store.lock_settings(conn)
        users = await user_store.list_users(conn, [approver_id] if approver_id is not None else [])
        if approver_id is not None and not users:
            raise Refusal.one(RuleCode.NOT_FOUND, f"user {approver_id} not found", "approverId")
        problem = rules.settings_problem(required, users[0].active if users else None)
        if problem is not None:
            raise Refusal.of(problem, "id")
        settings = await quote_store.update_settings(conn, required, approver_id)
        await _install(ctx, conn, settings, previous)
    return Ok(settings)


async def get_settings(ctx: Context) -> QuoteSettings:
    return await quote_store.get_settings(ctx.pool)


def quote_event(kind: str, quote: Quote, deal: Record, **extra: Any) -> NewEvent:
    """quote.created, quote.updated, quote.status_changed: scoped like the deal; the approver of a
    quote entering or leaving PENDING_APPROVAL sees it whatever their scope."""
    pending = QuoteStatus.PENDING_APPROVAL.value in (quote.status.value, extra.get("from_status"))
    return NewEvent(
        type=f"{QUOTE_EVENT_PREFIX}{kind}", payload={"quote": rules.to_snapshot(quote), **extra},
        owner_id=deal.owner_id, audience=frozenset({quote.approver_id} if pending and quote.approver_id else ()),
        pipeline_id=deal.ref("pipeline_id"), deal_id=quote.deal_id, quote_id=quote.id,
    )  # fmt: skip


def status_event(
    before: QuoteStatus,
    quote: Quote,
    deal: Record,
    actor: int | None,
    action: QuoteAction,
    text: str | None = None,
) -> NewEvent:
    return quote_event("status_changed", quote, deal, from_status=before.value, to_status=quote.status.value,
                       actor_id=actor, action=action.value, text=text)  # fmt: skip


async def _install(ctx: Context, conn: Conn, settings: QuoteSettings, previous: QuoteSettings) -> None:
    """Install the approval workflows once (by system key); later, enable or disable them, and move
    actions still assigned to the previous approver over to the new one."""
    on = settings.approval_required
    for spec in rules.approval_automations(settings.approver_id or 0):
        found = await workflow_store.get_by_system_key(conn, spec.system_key)
        if found is None:
            if on:
                await workflow_store.insert_workflow(
                    conn, name=spec.name, object_type="QUOTE", trigger_event=TriggerEvent.PROPERTY_CHANGED,
                    trigger_property="status", filter_groups=spec.filter_groups, actions=spec.actions,
                    enabled=True, created_by=ctx.me.id, system_key=spec.system_key,
                )  # fmt: skip
            continue
        if found.enabled != on:
            await workflow_store.set_enabled(conn, found.id, on)
        old = (previous.approver_id,)
        for action in found.actions:
            if on and action.owner_ids == old and settings.approver_id not in (None, *old):
                await workflow_store.update_action(
                    conn, action.id, owner_ids=[settings.approver_id or 0], team_id=None, overwrite=None,
                    title=None, value=None, body=None,
                )  # fmt: skip
