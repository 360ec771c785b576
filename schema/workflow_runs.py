"""A workflow's run log: each enrolled record and what each action did to it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import workflows as workflow_store
from domain.workflows import Outcome
from domain.workflows import Run as DomainRun

from .info import Info
from .pagination import Connection, connection, decode_cursor, page_size


@strawberry.type(description="What one action did to one enrolled record.")
class ActionOutcome:
    outcome: strawberry.Private[Outcome]

    @strawberry.field(
        description="The action's type: SET_PROPERTY, ROTATE_OWNER, CREATE_TASK or SEND_NOTIFICATION."
    )
    def action_type(self) -> str:
        return self.outcome.action_type.value

    @strawberry.field(
        description="False when a rule refused the action; the record was left unchanged by it."
    )
    def ok(self) -> bool:
        return self.outcome.ok

    @strawberry.field(description="The refusing rule's stable code (APPROVAL_REQUIRED, …), null when done.")
    def code(self) -> str | None:
        return self.outcome.code

    @strawberry.field(description="What the action did, or why it was refused.")
    def message(self) -> str:
        return self.outcome.message


@strawberry.type(description="One record's enrollment in a workflow.")
class WorkflowRun:
    run: strawberry.Private[DomainRun]

    @strawberry.field(description="The run's id, newest highest.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.run.id))

    @strawberry.field(description="The enrolled record's type (QUOTE for quote workflows).")
    def object_type(self) -> str:
        return self.run.object_type

    @strawberry.field(description="The enrolled record's id.")
    def object_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.run.object_id))

    @strawberry.field(description="When the record enrolled.")
    def enrolled_at(self) -> datetime:
        return self.run.enrolled_at

    @strawberry.field(description="Each action's outcome, in the workflow's order.")
    def outcomes(self) -> list[ActionOutcome]:
        return [ActionOutcome(outcome=o) for o in self.run.outcomes]


async def runs_page(
    info: Info, workflow_id: int, first: int | None, after: str | None
) -> Connection[WorkflowRun]:
    size = page_size(first)
    key = decode_cursor(after)
    before_id = int(key[0]) if key else None
    rows = await workflow_store.list_runs(info.context.pool, [workflow_id], size + 1, before_id)

    async def count() -> int:
        return await workflow_store.count_runs(info.context.pool, workflow_id)

    return connection(rows, size, lambda r: WorkflowRun(run=r), lambda r: [r.id], count)
