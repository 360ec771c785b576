"""Deal approvals: the gate on every move, starting approvals, decisions and comments (seed 000)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from db import approvals as approval_store
from db import events as event_store
from db import pipelines as pipeline_store
from db.errors import NotFound
from db.pool import Conn
from domain import approvals as rules
from domain.approvals import Action, ApprovalState, ApprovalStatus, Transition, Vote
from domain.codes import Refusal as DomainRefusal
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.records import (
    ApprovalProcess,
    ApprovalVote,
    Comment,
    DealApproval,
    Pipeline,
    Record,
    User,
)
from domain.visibility import can_edit, can_see

from .context import Context
from .notifications import notify
from .result import Ok, Refusal, Refused, Result, use_case

APPROVAL_EVENT_PREFIX = "approval."
OPEN = frozenset({ApprovalStatus.PENDING, ApprovalStatus.CHANGES_REQUESTED})


async def save_start(
    ctx: Context, conn: Conn, deal: Record, process: ApprovalProcess, start: Transition
) -> list[NewEvent]:
    """A move into the approval stage was decided (domain.pipelines.decide_move): store the approval it
    started, with its history, notifications and emails; the deal row already carries its status."""
    state = start.state
    approval = await approval_store.insert_started(
        conn, deal.id, process.id, state.status.value, _blocker(state), ctx.me.id, process.note
    )
    return await _announce(conn, deal, process, approval.id, start, process.note)


def _blocker(state: ApprovalState) -> tuple[str, str, str] | None:
    b = state.blocker
    return None if b is None else (b.code.value, b.reason, b.next_step)


async def _persist(
    ctx: Context,
    conn: Conn,
    deal: Record,
    process: ApprovalProcess,
    approval: DealApproval,
    transition: Transition,
    *,
    vote: Vote | None,
    clear_votes: bool,
) -> tuple[DealApproval, list[NewEvent]]:
    state = transition.state
    saved = await approval_store.save_decision(
        conn, approval, state.status.value, _blocker(state) if vote is None else None,
        vote=(vote.approver_id, vote.action.value, vote.text) if vote else None,
        clear_votes=clear_votes, actor_id=ctx.me.id, resubmitted_note=process.note if clear_votes else None,
    )  # fmt: skip
    return saved, await _announce(conn, deal, process, approval.id, transition, process.note)


async def _announce(
    conn: Conn, deal: Record, process: ApprovalProcess, approval_id: int, transition: Transition, note: str
) -> list[NewEvent]:
    """The transition's events, and its notifications and emails (a request carries the note)."""
    snapshot = approval_snapshot(approval_id, deal, process, transition.state)
    events: list[NewEvent] = []
    notices: list[tuple[list[int], str, str, str | None]] = []
    for change in transition.events:
        events.append(change.to_new_event(snapshot, process.pipeline_id))
        if change.notify:
            kind, message = _message(
                change.type.value, change.action, str(deal.get("name")), change.to_status
            )
            text = change.text
            if change.type in (rules.EventType.STARTED, rules.EventType.RESUBMITTED):
                message, text = f"{message} Note: {note}", note
            notices.append((sorted(change.notify), kind, message, text))
    for users, kind, message, text in notices:
        events += await notify(
            conn, users, kind=kind, message=message, deal_id=deal.id, email=_email_body(message, text)
        )
    return events


def approval_snapshot(
    approval_id: int, deal: Record, process: ApprovalProcess, state: ApprovalState
) -> dict[str, Any]:
    blocker = state.blocker
    return {
        "at": datetime.now(UTC).isoformat(),
        "approver_ids": list(process.approver_ids),
        "votes": [
            {"approver_id": v.approver_id, "action": v.action.value, "text": v.text} for v in state.votes
        ],
        "id": approval_id,
        "deal_id": deal.id,
        "process_id": process.id,
        "note": process.note,
        "submitted_by": state.submitted_by,
        "pipeline_id": process.pipeline_id,
        "status": state.status.value,
        "reason": blocker.reason if blocker else None,
        "next_step": blocker.next_step if blocker else None,
    }


def _message(kind: str, action: Action | None, deal_name: str, status: ApprovalStatus) -> tuple[str, str]:
    if kind == rules.EventType.STARTED:
        return "APPROVAL_REQUESTED", f"Your approval is requested for deal '{deal_name}'."
    if kind == rules.EventType.RESUBMITTED:
        return "APPROVAL_RESUBMITTED", f"Deal '{deal_name}' was resubmitted for your approval."
    verb = {
        Action.APPROVE: "approved",
        Action.REJECT: "rejected",
        Action.REQUEST_CHANGES: "sent back for changes",
    }
    done = verb.get(action, status.value.lower()) if action else status.value.lower()
    return f"APPROVAL_{status.value}", f"Deal '{deal_name}' was {done} (approval now {status.value})."


def _email_body(message: str, text: str | None) -> str:
    return message + (f"\n\n{text}" if text else "")


async def _deal_for_approval(
    ctx: Context, conn: Conn, deal_id: int
) -> tuple[Record, ApprovalProcess, tuple[User, ...], DealApproval]:
    """Lock the deal, then share-lock its process (the order every path uses), then the approval:
    one statement (db.approvals.DECISION_LOAD)."""
    loaded = await approval_store.lock_for_decision(conn, deal_id)
    if loaded is None:
        raise _not_found(deal_id)
    deal, found, approval = loaded
    process, approvers = found if found else (None, ())
    current = process is not None and approval is not None and approval.process_id == process.id
    is_open = current and approval is not None and approval.status in OPEN
    # DESIGN 2: the approvers see the deal while its approval is open, and only then.
    audience = frozenset(process.approver_ids) if process is not None and is_open else frozenset()
    if not can_see(ctx.me, deal.owner_id, audience):
        raise _not_found(deal_id)
    if process is None or approval is None or not current:
        raise Refusal.one(RuleCode.NOT_FOUND, f"deal {deal_id} has no approval", "dealId")
    return deal, process, approvers, approval


def _not_found(deal_id: int) -> Refusal:
    return Refusal.one(RuleCode.NOT_FOUND, f"deal {deal_id} not found", "dealId")


@use_case
async def act(ctx: Context, deal_id: int, action: Action, text: str | None = None) -> Result[DealApproval]:
    """approve, reject, request changes, resubmit or restart: one transaction per decision."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        deal, process, approvers, approval = await _deal_for_approval(ctx, conn, deal_id)
        state = ApprovalState(
            deal_id, deal.owner_id, process.mode, tuple(approvers), approval.status,
            tuple(Vote(v.approver_id, Action(v.action), v.text) for v in approval.votes),
            submitted_by=approval.submitted_by,
        )  # fmt: skip
        if action is Action.RESTART:  # the cause may be fixed: approvers and owner are read anew
            if not can_edit(ctx.me, deal.owner_id):  # DESIGN 2: acting on the deal's behalf
                raise Refusal.one(RuleCode.FORBIDDEN, f"you may not edit deal {deal_id}", "dealId")
            state = replace(state, blocker=None)
        outcome = rules.decide(state, ctx.me.id, action, text)
        if isinstance(outcome, DomainRefusal):
            raise Refusal.of(outcome, "dealId")
        vote = (
            outcome.state.votes[-1]
            if action in (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES)
            else None
        )
        clear = action in (Action.RESUBMIT, Action.RESTART)
        saved, events = await _persist(
            ctx, conn, deal, process, approval, outcome, vote=vote, clear_votes=clear
        )
        if action is Action.RESUBMIT and text:
            await approval_store.insert_comment(conn, approval.id, ctx.me.id, text)
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(saved)


@use_case
async def comment(ctx: Context, deal_id: int, body: str) -> Result[Comment]:
    """Owner and approvers write to one thread; each comment notifies the other side."""
    if not body.strip():
        return Refused.one(RuleCode.INVALID, "a comment needs a body", ("body",))
    async with ctx.pool.acquire() as conn, conn.transaction():
        deal, process, _, approval = await _deal_for_approval(ctx, conn, deal_id)
        approvers = set(process.approver_ids)
        if ctx.me.id != deal.owner_id and ctx.me.id not in approvers:
            raise Refusal(
                Refused.one(
                    RuleCode.NOT_APPROVER, "only the deal owner and its approvers comment", ("dealId",)
                )
            )
        saved = await approval_store.insert_comment(conn, approval.id, ctx.me.id, body.strip())
        other_side = approvers if ctx.me.id == deal.owner_id else ({deal.owner_id} - {None})
        recipients = sorted(u for u in other_side if u is not None and u != ctx.me.id)
        message = f"New comment on the approval of deal '{deal.get('name')}'."
        events = await notify(
            conn, recipients, kind="APPROVAL_COMMENT", message=message, deal_id=deal_id, email=body.strip()
        )
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(saved)


async def pipeline_of(conn: Conn, pipeline_id: int) -> Pipeline:
    try:
        return await pipeline_store.get_pipeline(conn, pipeline_id)
    except NotFound:
        raise Refusal.one(RuleCode.NOT_FOUND, f"pipeline {pipeline_id} not found", "pipelineId") from None


def approval_from_snapshot(snapshot: dict[str, Any]) -> tuple[DealApproval, tuple[int, ...]]:
    """The approval an event carries, rebuilt without a query; with the process's approver ids."""
    at = datetime.fromisoformat(snapshot["at"]) if snapshot.get("at") else datetime.now(UTC)
    votes = tuple(
        ApprovalVote(v["approver_id"], v["action"], v["text"], at) for v in snapshot.get("votes", ())
    )
    approval = DealApproval(
        id=snapshot["id"], deal_id=snapshot["deal_id"], process_id=snapshot.get("process_id", 0),
        status=ApprovalStatus(snapshot["status"]), blocker_code=None, reason=snapshot.get("reason"),
        next_step=snapshot.get("next_step"), votes=votes, created_at=at, updated_at=at,
        approver_ids=tuple(snapshot.get("approver_ids", ())), note=snapshot.get("note"),
        submitted_by=snapshot.get("submitted_by"),
    )  # fmt: skip
    return approval, tuple(snapshot.get("approver_ids", ()))
