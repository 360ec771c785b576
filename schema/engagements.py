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
from .pagination import AFTER, FIRST, Connection, connection, id_cursor, page_size
from .search import SearchQueries
from .users import User, load_user


def numeric_id(value: strawberry.ID, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadInput(RuleCode.BAD_ID, f"{field} {value!r} is not a valid id") from None


@strawberry.type
class Engagement:
    id: strawberry.ID
    type: EngagementType
    title: str | None
    body: str | None
    email_address: str | None
    done: bool
    created_at: datetime
    assignee_id: strawberry.Private[int | None]
    created_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def assignee(self, info: Info) -> User | None:
        return await load_user(info, self.assignee_id)

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info, self.created_by_id)

    @classmethod
    def from_domain(cls, e: DomainEngagement) -> Engagement:
        return cls(
            id=strawberry.ID(str(e.id)),
            type=e.type,
            title=e.title,
            body=e.body,
            email_address=e.email_address,
            done=e.done,
            created_at=e.created_at,
            assignee_id=e.assignee_id,
            created_by_id=e.created_by,
        )


@strawberry.type
class Task:
    id: strawberry.ID
    title: str
    body: str | None
    done: bool
    created_at: datetime
    assignee_id: strawberry.Private[int | None]

    @strawberry.field
    async def assignee(self, info: Info) -> User | None:
        return await load_user(info, self.assignee_id)

    @classmethod
    def from_domain(cls, e: DomainEngagement) -> Task:
        return cls(
            id=strawberry.ID(str(e.id)),
            title=e.title or "",
            body=e.body,
            done=e.done,
            created_at=e.created_at,
            assignee_id=e.assignee_id,
        )


@strawberry.input
class RecordRefInput:
    object_type: ObjectType
    id: strawberry.ID


@strawberry.input
class CreateEngagementInput:
    type: EngagementType
    body: str | None = None
    title: str | None = None
    record_ids: list[RecordRefInput] = strawberry.field(default_factory=list)
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Tasks only; a task without one is assigned to its creator."
    )
    email_address: str | None = strawberry.field(
        default=None, description="Emails only (required): the address the email belongs to."
    )


@strawberry.type
class CreateEngagementPayload:
    engagement: Engagement | None
    associated_count: int = strawberry.field(description="Records the engagement was associated with.")
    skipped_count: int = strawberry.field(
        description="Records left out because they already hold the most engagements a record may have."
    )
    user_errors: list[UserError]


@strawberry.input
class SetTaskDoneInput:
    id: strawberry.ID
    done: bool


@strawberry.type
class SetTaskDonePayload:
    task: Task | None
    user_errors: list[UserError]


@strawberry.type
class EngagementQueries:
    @strawberry.field(description="An assignee's tasks, newest first (default: the viewer's).")
    async def tasks(
        self,
        info: Info,
        assignee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Whose tasks; left out, the viewer's.")
        ] = None,
        first: Annotated[int, FIRST] = 50,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Task]:
        size = page_size(first)
        page = await use_cases.list_tasks(
            info.context,
            numeric_id(assignee_id, "assigneeId") if assignee_id is not None else None,
            first=size,
            before_id=id_cursor(after),
        )
        return connection(page.tasks, size, Task.from_domain, lambda t: [t.id], page.count)

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
        description="Log a note, email, call, meeting or task on one or more records; records outside the viewer's scope are skipped and counted."
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
