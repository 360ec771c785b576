"""Engagement and Task types, a record's engagements, tasks, createEngagement and setTaskDone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.tools import merge_types

from db.engagements import Engagement as DomainEngagement
from domain.codes import RuleCode
from domain.limits import BadInput
from domain.records import ObjectType
from resolvers import engagements as use_cases
from resolvers.engagements import NewEngagement

from .enums import EngagementType
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id
from .pagination import AFTER, BEFORE, FIRST, LAST, Connection, connection, page_size, window
from .search import SearchQueries
from .users import User, load_user


def numeric_id(value: strawberry.ID, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadInput(RuleCode.BAD_ID, f"{field} {value!r} is not a valid id") from None


@strawberry.type(description="A note, task, call, email or meeting logged on records.")
class Engagement(Node):
    id: strawberry.ID = strawberry.field(
        description="The engagement's global id; a task's is its Task id, which node(id) answers as a Task."
    )
    type: EngagementType = strawberry.field(description="What kind of engagement it is.")
    title: str | None = strawberry.field(description="A short title; null when none (tasks have one).")
    body: str | None = strawberry.field(
        description="The text: the note, the email body, the call summary; null when none."
    )
    email_address: str | None = strawberry.field(
        description="For emails: the address it was sent to or received from; null otherwise."
    )
    done: bool = strawberry.field(description="For tasks: whether the task is done; false for other types.")
    created_at: datetime = strawberry.field(description="When it was logged.")
    assignee_id: strawberry.Private[int | None]
    created_by_id: strawberry.Private[int | None]

    @strawberry.field(description="For tasks: who should do it; null otherwise.")
    async def assignee(self, info: Info) -> User | None:
        return await load_user(info, self.assignee_id)

    @strawberry.field(description="Who logged it; null when logged by the system.")
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info, self.created_by_id)

    @classmethod
    def from_domain(cls, e: DomainEngagement) -> Engagement:
        return cls(
            id=node_id("Task" if e.type is EngagementType.TASK else "Engagement", e.id),  # one id per object
            type=e.type,
            title=e.title,
            body=e.body,
            email_address=e.email_address,
            done=e.done,
            created_at=e.created_at,
            assignee_id=e.assignee_id,
            created_by_id=e.created_by,
        )


@strawberry.type(description="A to-do for a user, logged on records.")
class Task(Node):
    id: strawberry.ID = strawberry.field(description="The task's global id.")
    title: str = strawberry.field(description="What to do.")
    body: str | None = strawberry.field(description="Details; null when none.")
    done: bool = strawberry.field(description="Whether the task is done.")
    created_at: datetime = strawberry.field(description="When the task was created.")
    assignee_id: strawberry.Private[int | None]

    @strawberry.field(description="Who should do it.")
    async def assignee(self, info: Info) -> User | None:
        return await load_user(info, self.assignee_id)

    @classmethod
    def from_domain(cls, e: DomainEngagement) -> Task:
        return cls(
            id=node_id("Task", e.id),
            title=e.title or "",
            body=e.body,
            done=e.done,
            created_at=e.created_at,
            assignee_id=e.assignee_id,
        )


@strawberry.input(description="A record, by object type and id.")
class RecordRefInput:
    object_type: ObjectType = strawberry.field(description="The record's object type.")
    id: strawberry.ID = strawberry.field(description="The record's id.")


@strawberry.input(description="A new engagement and the records it is about.")
class CreateEngagementInput:
    type: EngagementType = strawberry.field(description="What kind of engagement it is.")
    body: str | None = strawberry.field(
        default=None, description="The text of the note, email, call or meeting."
    )
    title: str | None = strawberry.field(default=None, description="A short title; tasks need one.")
    record_ids: list[RecordRefInput] = strawberry.field(
        description="The records to log it on.", default_factory=list
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Tasks only; a task without one is assigned to its creator."
    )
    email_address: str | None = strawberry.field(
        default=None, description="Emails only (required): the address the email belongs to."
    )


@strawberry.type(description="The result of createEngagement.")
class CreateEngagementPayload:
    engagement: Engagement | None = strawberry.field(
        description="The new engagement; null when nothing was done (see userErrors)."
    )
    associated_count: int = strawberry.field(description="Records the engagement was associated with.")
    skipped_count: int = strawberry.field(
        description="Records left out because they already hold the most engagements a record may have."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="A task and whether it is done.")
class SetTaskDoneInput:
    id: strawberry.ID = strawberry.field(description="The task's id.")
    done: bool = strawberry.field(description="True to complete it, false to reopen it.")


@strawberry.type(description="The result of setTaskDone.")
class SetTaskDonePayload:
    task: Task | None = strawberry.field(
        description="The task as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class EngagementQueries:
    @strawberry.field(description="An assignee's tasks, newest first (default: the viewer's).")
    async def tasks(
        self,
        info: Info,
        assignee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Whose tasks; left out, the viewer's.")
        ] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Task]:
        at = window(first, after, last, before)
        page = await use_cases.list_tasks(
            info.context,
            numeric_id(assignee_id, "assigneeId") if assignee_id is not None else None,
            first=at.size,
            cursor=at.cursor_id,
            backward=at.backward,
        )
        return connection(page.tasks, at, Task.from_domain, lambda t: [t.id], page.count)

    @strawberry.field(
        description="A record's engagements, newest first; a contact's include every email "
        "engagement sent to its address. Empty for a record the viewer cannot see."
    )
    async def engagements(
        self,
        info: Info,
        object_type: Annotated[ObjectType, strawberry.argument(description="The record's object type.")],
        record_id: Annotated[strawberry.ID, strawberry.argument(description="The record's id.")],
        first: Annotated[
            int, strawberry.argument(description="How many engagements to return, at most.")
        ] = 50,
    ) -> list[Engagement]:
        found = await use_cases.record_engagements(
            info.context, object_type, numeric_id(record_id, "recordId"), page_size(first)
        )
        return [Engagement.from_domain(e) for e in found]


@strawberry.type
class EngagementMutations:
    @strawberry.mutation(
        description="Log a note, email, call, meeting or task on one or more records; the payload counts the records it was associated with and those skipped."
    )
    async def create_engagement(
        self,
        info: Info,
        input: Annotated[
            CreateEngagementInput,
            strawberry.argument(description="The engagement's type, body and the records it is about."),
        ],
    ) -> CreateEngagementPayload:
        new = NewEngagement(
            type=input.type,
            title=input.title,
            body=input.body,
            records=[(r.object_type, numeric_id(r.id, "recordIds")) for r in input.record_ids],
            assignee_id=numeric_id(input.assignee_id, "assigneeId") if input.assignee_id else None,
            email_address=input.email_address,
        )
        result = await use_cases.create_engagement(info.context, new)
        logged = value_or_none(result, lambda x: x)
        return CreateEngagementPayload(
            engagement=Engagement.from_domain(logged.engagement) if logged else None,
            associated_count=len(logged.associated) if logged else 0,
            skipped_count=len(logged.skipped) if logged else 0,
            user_errors=user_errors(result),
        )

    @strawberry.mutation(description="Complete or reopen a task: its assignee or a super admin only.")
    async def set_task_done(
        self,
        info: Info,
        input: Annotated[
            SetTaskDoneInput, strawberry.argument(description="The task and whether it is done.")
        ],
    ) -> SetTaskDonePayload:
        result = await use_cases.set_task_done(info.context, numeric_id(input.id, "id"), input.done)
        return SetTaskDonePayload(
            task=value_or_none(result, Task.from_domain), user_errors=user_errors(result)
        )


# The Query root takes one class from this area: engagement reads and search (schema/search.py).
ActivityQueries = merge_types("ActivityQueries", (EngagementQueries, SearchQueries))
