"""Engagements on records (DESIGN 3): logging them under the per-record cap, tasks and their completion."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from db import engagements as engagement_store
from db import records as record_store
from db import users as user_store
from db.engagements import Engagement, EngagementType, RecordRef
from db.errors import NotFound
from db.pool import Conn
from domain.codes import RuleCode
from domain.records import ObjectType
from domain.validation import EMAIL
from domain.visibility import can_edit, visible_owner_ids

from .context import Context
from .result import Ok, Problem, Refusal, Refused, Result, use_case

MAX_ENGAGEMENTS_PER_RECORD = 10_000
MAX_RECORDS_PER_ENGAGEMENT = 100
# A call, an email or a meeting is contact made; a note or a task is not.
CONTACTING = frozenset({EngagementType.CALL, EngagementType.EMAIL, EngagementType.MEETING})


@dataclass(frozen=True, slots=True)
class NewEngagement:
    type: EngagementType
    title: str | None = None
    body: str | None = None
    records: Sequence[RecordRef] = ()
    assignee_id: int | None = None
    email_address: str | None = None


@dataclass(frozen=True, slots=True)
class Logged:
    engagement: Engagement
    associated: tuple[RecordRef, ...]
    skipped: tuple[RecordRef, ...]


def _text(value: str | None) -> str | None:
    value = value.strip() if value is not None else None
    return value or None


def problems(new: NewEngagement) -> list[Problem]:
    """What is wrong with a new engagement's fields, before anything is read or written."""
    found: list[tuple[str, str]] = []
    title, body = _text(new.title), _text(new.body)
    if new.type is EngagementType.TASK and title is None:
        found.append(("title", "a task needs a title"))
    if new.type is EngagementType.NOTE and body is None:
        found.append(("body", "a note needs a body"))
    email = _text(new.email_address)
    if new.type is EngagementType.EMAIL and email is None:
        found.append(("emailAddress", "an email engagement needs the email address it belongs to"))
    elif new.type is not EngagementType.EMAIL and email is not None:
        found.append(("emailAddress", "only email engagements carry an email address"))
    elif email is not None and not EMAIL.match(email):
        found.append(("emailAddress", f"{email!r} is not a valid email address"))
    if new.type is not EngagementType.TASK and new.assignee_id is not None:
        found.append(("assigneeId", "only tasks have an assignee"))
    if len(set(new.records)) > MAX_RECORDS_PER_ENGAGEMENT:
        found.append(("recordIds", f"at most {MAX_RECORDS_PER_ENGAGEMENT} records per engagement"))
    return [Problem(message, RuleCode.INVALID, (field,)) for field, message in found]


def split_at_cap(
    refs: Sequence[RecordRef], counts: Mapping[RecordRef, int]
) -> tuple[list[RecordRef], list[RecordRef]]:
    """Records that take one more engagement, and those already holding MAX_ENGAGEMENTS_PER_RECORD."""
    associated = [r for r in refs if counts.get(r, 0) < MAX_ENGAGEMENTS_PER_RECORD]
    skipped = [r for r in refs if counts.get(r, 0) >= MAX_ENGAGEMENTS_PER_RECORD]
    return associated, skipped


def by_type(refs: Sequence[RecordRef]) -> dict[ObjectType, list[int]]:
    grouped: dict[ObjectType, list[int]] = defaultdict(list)
    for object_type, record_id in refs:
        grouped[object_type].append(record_id)
    return grouped


async def check_assignee(conn: Conn, assignee_id: int) -> None:
    try:
        assignee = await user_store.get_user(conn, assignee_id)
    except NotFound:
        raise Refusal.one(RuleCode.NOT_FOUND, f"user {assignee_id} not found", "assigneeId") from None
    if not assignee.active:
        raise Refusal.one(RuleCode.INACTIVE_USER, f"user {assignee_id} is deactivated", "assigneeId")


async def lock_editable(ctx: Context, conn: Conn, refs: Sequence[RecordRef]) -> None:
    """Lock the records in one global order (type, then id), so concurrent loggers cannot deadlock;
    a record out of view scope is not found, one in view but out of edit scope is forbidden (DESIGN 2)."""
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    for object_type, ids in sorted(by_type(refs).items()):
        kind = object_type.value.lower()
        found = await engagement_store.lock_records(conn, object_type, ids, owners)
        missing = sorted(set(ids) - set(found))
        if missing:
            raise Refusal.one(RuleCode.NOT_FOUND, f"{kind} {missing[0]} not found", "recordIds")
        barred = sorted(i for i, owner in found.items() if not can_edit(ctx.me, owner))
        if barred:
            raise Refusal.one(
                RuleCode.FORBIDDEN, f"you may not log engagements on {kind} {barred[0]}", "recordIds"
            )


@use_case
async def create_engagement(ctx: Context, new: NewEngagement) -> Result[Logged]:
    """Log an engagement; a record already at the cap is left out (and untouched), not refused."""
    found = problems(new)
    if found:
        return Refused(tuple(found))
    refs = sorted(set(new.records))
    email = _text(new.email_address)
    assignee_id = new.assignee_id
    if new.type is EngagementType.TASK and assignee_id is None:
        assignee_id = ctx.me.id
    async with ctx.pool.acquire() as conn, conn.transaction():
        if assignee_id is not None:
            await check_assignee(conn, assignee_id)
        await lock_editable(ctx, conn, refs)
        counts = await engagement_store.count_engagements(conn, refs, MAX_ENGAGEMENTS_PER_RECORD)
        associated, skipped = split_at_cap(refs, counts)
        engagement = await engagement_store.insert_engagement(
            conn,
            type=new.type,
            title=_text(new.title),
            body=_text(new.body),
            email_address=email.lower() if email else None,
            assignee_id=assignee_id,
            created_by=ctx.me.id,
            refs=associated,
        )
        if associated:
            await engagement_store.touch_records(conn, by_type(associated), contacted=new.type in CONTACTING)
    return Ok(Logged(engagement, tuple(associated), tuple(skipped)))


@use_case
async def set_task_done(ctx: Context, task_id: int, done: bool) -> Result[Engagement]:
    """Only the task's assignee or a super admin completes (or reopens) a task."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        try:
            task = await engagement_store.lock_task(conn, task_id)
        except NotFound:
            raise Refusal.one(RuleCode.NOT_FOUND, f"task {task_id} not found", "id") from None
        if task.assignee_id != ctx.me.id and not ctx.me.user.is_super_admin:
            if not may_see_tasks_of(ctx, task.assignee_id):
                raise Refusal.one(RuleCode.NOT_FOUND, f"task {task_id} not found", "id")
            raise Refusal.one(RuleCode.FORBIDDEN, "only the task's assignee may complete it", "id")
        updated = await engagement_store.update_task_done(conn, task_id, done)
    return Ok(updated)


def may_see_tasks_of(ctx: Context, assignee_id: int | None) -> bool:
    """Tasks are visible like the records their assignee owns: own, teammates' (TEAM) or all (ALL)."""
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    return owners is None or (assignee_id is not None and assignee_id in owners)


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Engagement]  # up to first + 1: one more than the page says there is a next page
    count: Callable[[], Awaitable[int]]


async def list_tasks(
    ctx: Context, assignee_id: int | None, *, first: int, cursor: int | None, backward: bool = False
) -> TaskPage:
    """An assignee's tasks, newest first (default: the viewer's); none for an assignee out of scope."""
    assignee = ctx.me.id if assignee_id is None else assignee_id
    if not may_see_tasks_of(ctx, assignee):

        async def none() -> int:
            return 0

        return TaskPage([], none)
    tasks = await engagement_store.list_tasks(
        ctx.pool, assignee, cursor=cursor, limit=first + 1, backward=backward
    )

    async def count() -> int:
        return await engagement_store.count_tasks(ctx.pool, assignee)

    return TaskPage(tasks, count)


async def record_engagements(
    ctx: Context, object_type: ObjectType, record_id: int, first: int
) -> list[Engagement]:
    """A visible record's engagements, newest first; a contact also shows the emails sent to its address
    that the viewer's scope covers by their author or a record they were logged on (DESIGN 3)."""
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    found = await record_store.get_records(ctx.pool, object_type, [record_id], owners)
    if not found:
        return []
    email = found[0].get("email") if object_type is ObjectType.CONTACT else None
    return await engagement_store.list_record_engagements(
        ctx.pool, object_type, record_id, str(email) if email else None, first, owners
    )
