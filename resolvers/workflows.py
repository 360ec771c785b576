"""Workflows: creating and enabling them, and running their actions on records that enroll (seed 003)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from db import engagements as engagement_store
from db import users as user_store
from db import workflows as workflow_store
from db.engagements import EngagementType
from db.pool import Conn
from domain import rotation
from domain.changes import read_only_refusal
from domain.codes import Refusal as DomainRefusal
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.filters import FilterError, find_property, parse_filter_groups, parse_value
from domain.lifecycle import LifecycleStage, manual_change_blocker
from domain.quotes import Quote
from domain.records import ChangeSource, ObjectType, Record
from domain.workflows import (
    QUOTE_CATALOG,
    Action,
    ActionType,
    Outcome,
    TriggerEvent,
    Workflow,
    action_problem,
    matches,
    triggered,
)

from . import writes
from .context import Context
from .notifications import notify
from .quote_actions import act_on_quote
from .result import Ok, Refusal, Refused, Result, use_case
from .snapshots import camel

RNG: random.Random = random.SystemRandom()  # ties between owners with the lowest count go at random


def changed_properties(before: Record | None, after: Record) -> frozenset[str]:
    """API names of the standard and custom properties a change touched."""
    if before is None:
        return frozenset()
    names = {camel(c) for c, v in after.values.items() if before.values.get(c) != v}
    if before.owner_id != after.owner_id:
        names.add("ownerId")
    keys = set(before.properties) | set(after.properties)
    names |= {f"properties.{k}" for k in keys if before.properties.get(k) != after.properties.get(k)}
    return frozenset(names)


def _catalog(object_type: str) -> Mapping[str, Any] | None:
    return QUOTE_CATALOG if object_type == "QUOTE" else None


def _values(record: Record) -> dict[str, object]:
    return {**record.values, "id": record.id, "owner_id": record.owner_id, "created_at": record.created_at,
            "updated_at": record.updated_at, "last_activity_date": record.last_activity_date,
            "last_contacted": record.last_contacted}  # fmt: skip


async def enroll(
    ctx: Context,
    conn: Conn,
    object_type: ObjectType,
    changes: Sequence[tuple[Record | None, Record]],
    source: ChangeSource,
) -> list[NewEvent]:
    """Run every enabled workflow whose trigger and filters match each change, actions in order.

    Changes made by workflows themselves do not enroll records again (no cascades or loops).
    """
    if source is ChangeSource.WORKFLOW or not changes:
        return []
    workflows = await workflow_store.list_workflows(conn, object_type=object_type.value, enabled_only=True)
    events: list[NewEvent] = []
    for workflow in workflows:
        groups = parse_filter_groups(object_type, workflow.filter_groups)
        for before, after in changes:
            if not triggered(workflow, before is None, changed_properties(before, after)):
                continue
            if not matches(groups, _values(after), after.properties):
                continue
            events += await run(ctx, conn, workflow, after)
    return events


async def enroll_quote(
    ctx: Context, conn: Conn, quote: Quote, deal: Record, *, created: bool, changed: frozenset[str]
) -> tuple[Quote, list[NewEvent]]:
    """The same engine for QUOTE workflows (the quote approval automations among them, seed 001):
    every enabled one whose trigger and filters match the quote's creation or change."""
    workflows = await workflow_store.list_workflows(conn, object_type="QUOTE", enabled_only=True)
    values = {"status": quote.status.value, "title": quote.title, "total": quote.totals.total}
    events: list[NewEvent] = []
    for workflow in workflows:
        if not triggered(workflow, created, changed):
            continue
        if not matches(
            parse_filter_groups("QUOTE", workflow.filter_groups, QUOTE_CATALOG), values, quote.properties
        ):
            continue
        current = quote

        async def act(action: Action) -> tuple[str, list[NewEvent]]:
            nonlocal current
            done, current, more = await act_on_quote(ctx, conn, action, current, deal)
            return done, more

        events += await _run(conn, workflow, "QUOTE", quote.id, act)
        quote = current
    return quote, events


async def run(ctx: Context, conn: Conn, workflow: Workflow, record: Record) -> list[NewEvent]:
    current = record

    async def act(action: Action) -> tuple[str, list[NewEvent]]:
        nonlocal current
        done, current, more = await _act(ctx, conn, action, current)
        return done, more

    return await _run(conn, workflow, record.type.value, record.id, act)


async def _run(
    conn: Conn,
    workflow: Workflow,
    object_type: str,
    object_id: int,
    act: Callable[[Action], Awaitable[tuple[str, list[NewEvent]]]],
) -> list[NewEvent]:
    """Each action in order; a refused action is logged as that action's failure and changes nothing."""
    events: list[NewEvent] = []
    outcomes: list[Outcome] = []
    for action in workflow.actions:
        try:
            done, more = await act(action)
        except Refusal as exc:
            problem = exc.refused.problems[0]
            outcomes.append(Outcome(action.type, ok=False, code=problem.code, message=problem.message))
            continue
        outcomes.append(Outcome(action.type, ok=True, message=done))
        events += more
    await workflow_store.log_enrollment(conn, workflow.id, object_type, object_id, outcomes)
    return events


async def _act(
    ctx: Context, conn: Conn, action: Action, record: Record
) -> tuple[str, Record, list[NewEvent]]:
    if action.type is ActionType.SET_PROPERTY:
        return await _set_property(ctx, conn, action, record)
    if action.type is ActionType.ROTATE_OWNER:
        return await _rotate(ctx, conn, action, record)
    if action.type is ActionType.CREATE_TASK:
        assignee = action.owner_ids[0] if action.owner_ids else record.owner_id
        await engagement_store.insert_engagement(
            conn, type=EngagementType.TASK, title=action.title, body=action.body, email_address=None,
            assignee_id=assignee, created_by=ctx.me.id, refs=[(record.type, record.id)],
        )  # fmt: skip
        return f"task for user {assignee}", record, []
    recipients = list(action.owner_ids) or ([record.owner_id] if record.owner_id else [])
    message = action.value or action.title or ""
    return f"notified {recipients}", record, await notify(conn, recipients, kind="WORKFLOW", message=message)


async def _write(
    ctx: Context, conn: Conn, before: Record, values: dict[str, Any], **owner: Any
) -> tuple[Record, list[NewEvent]]:
    """Through the one write path, as the source WORKFLOW (the gate and read-only rules apply)."""
    custom = {k.removeprefix("properties."): v for k, v in values.items() if k.startswith("properties.")}
    standard = {k: v for k, v in values.items() if not k.startswith("properties.")}
    return await writes.change_record(
        ctx, conn, before, standard, properties=custom or None, source=ChangeSource.WORKFLOW, **owner
    )


async def _set_property(
    ctx: Context, conn: Conn, action: Action, record: Record
) -> tuple[str, Record, list[NewEvent]]:
    assert action.property is not None
    prop = find_property(record.type, action.property)
    value = None if action.value in (None, "") else parse_value(prop, action.value or "")
    if prop.column == "owner_id":
        owner = await user_store.list_users(conn, [int(str(value))]) if value is not None else []
        if value is not None and (not owner or not owner[0].active):
            raise Refusal.one(RuleCode.INACTIVE_USER, f"user {value} cannot own records")
        after, events = await _write(ctx, conn, record, {}, owner_id=value)
        return f"owner set to {value}", after, events
    if prop.column == "lifecycle_stage" and _backwards(record.get("lifecycle_stage"), value):
        raise Refusal.one(
            RuleCode.LIFECYCLE_BACKWARDS, "lifecycle stage cannot move back without clearing it first"
        )
    column = f"properties.{prop.column}" if prop.kind.value == "CUSTOM" else prop.column
    after, events = await _write(ctx, conn, record, {column: value})
    return f"{action.property} set to {value}", after, events


def _backwards(current: object, new: object) -> bool:
    """Seed 004: a workflow moves a stage back only by clearing it first, like a person."""
    stage = LifecycleStage(str(current)) if current else None
    return manual_change_blocker(stage, LifecycleStage(str(new)) if new else None) is not None


async def eligible(conn: Conn, action: Action) -> tuple[int, ...]:
    chosen: list[Any] = list(action.owner_ids)
    if action.team_id is not None:
        chosen = await user_store.list_team_members(conn, [action.team_id])
    candidates = [c if isinstance(c, int) else c.user_id for c in chosen]
    active = {u.id for u in await user_store.list_users(conn, candidates) if u.active}
    return rotation.eligible_owners(chosen, active)


async def _rotate(
    ctx: Context, conn: Conn, action: Action, record: Record
) -> tuple[str, Record, list[NewEvent]]:
    if not rotation.should_rotate(record.owner_id, action.overwrite):
        return "skipped: already owned", record, []
    owners = await eligible(conn, action)
    if not owners:
        return "skipped: no active owner to rotate to", record, []
    counts = await workflow_store.lock_counts(conn, action.id, owners)
    owner_id = rotation.choose_owner(rotation.counts_for(owners, counts), RNG)
    await workflow_store.increment_count(conn, action.id, owner_id)
    after, events = await _write(ctx, conn, record, {}, owner_id=owner_id)
    return f"rotated to {owner_id}", after, events


def _settable(object_type: str, spec: Mapping[str, Any]) -> DomainRefusal | None:
    """A property a workflow may set: one the object type has, and not a system property (DESIGN 3,
    the same rule every writer meets)."""
    if spec.get("type") != ActionType.SET_PROPERTY or object_type == "QUOTE":
        return None
    try:
        prop = find_property(object_type, str(spec.get("property")))
    except ValueError as exc:
        return DomainRefusal(RuleCode.INVALID, str(exc))
    return read_only_refusal([prop.column], {prop.column: prop.name})


def _problem(message: str, *field: str) -> Refused:
    return Refused.one(RuleCode.INVALID, message, field or None)


@use_case
async def create_workflow(
    ctx: Context, *, name: str, object_type: str, trigger_event: TriggerEvent, trigger_property: str | None,
    filter_groups: list[list[dict[str, object]]], actions: Sequence[Mapping[str, Any]], enabled: bool,
    system_key: str | None = None,
) -> Result[Workflow]:  # fmt: skip
    try:
        parse_filter_groups(object_type, filter_groups, _catalog(object_type))
        if trigger_property is not None:
            find_property(object_type, trigger_property, _catalog(object_type))
    except FilterError as exc:
        return _problem(str(exc), "trigger", "filterGroups")
    except ValueError as exc:
        return _problem(str(exc), "trigger", "property")
    if not actions:
        return _problem("a workflow needs at least one action", "actions")
    for i, spec in enumerate(actions):
        problem = action_problem(
            Action(id=0, position=i, **{**spec, "owner_ids": tuple(spec.get("owner_ids") or ())}), object_type
        )
        if problem:
            return _problem(problem, "actions", str(i))
        unsettable = _settable(object_type, spec)
        if unsettable is not None:
            return Refused.one(unsettable.code, unsettable.message, ("actions", str(i), "property"))
    async with ctx.pool.acquire() as conn, conn.transaction():
        workflow = await workflow_store.insert_workflow(
            conn, name=name, object_type=object_type, trigger_event=trigger_event, trigger_property=trigger_property,
            filter_groups=filter_groups, actions=actions, enabled=enabled, created_by=ctx.me.id, system_key=system_key,
        )  # fmt: skip
    return Ok(workflow)


@use_case
async def set_enabled(ctx: Context, workflow_id: int, enabled: bool) -> Result[Workflow]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        workflow = await workflow_store.set_enabled(conn, workflow_id, enabled)
    return Ok(workflow)


@use_case
async def update_action(
    ctx: Context, action_id: int, *, owner_ids: Sequence[int] | None = None, team_id: int | None = None,
    overwrite: bool | None = None, title: str | None = None, value: str | None = None, body: str | None = None,
) -> Result[Action]:  # fmt: skip
    """Seed 003: adding or removing owners of a rotate action resets its counts."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        before_counts = dict(await workflow_store.list_counts(conn, action_id))
        old = await workflow_store.lock_action(conn, action_id)
        action = await workflow_store.update_action(
            conn,
            action_id,
            owner_ids=owner_ids,
            team_id=team_id,
            overwrite=overwrite,
            title=title,
            value=value,
            body=body,
        )
        if owner_ids is not None or team_id is not None:
            old_ids = list(old.owner_ids) or [-(old.team_id or 0)]  # a team stands in as its negated id
            new_ids = list(action.owner_ids) or [-(action.team_id or 0)]
            if rotation.counts_after_owner_list_change(old_ids, new_ids, before_counts) != before_counts:
                await workflow_store.reset_counts(conn, action_id)
    return Ok(action)
