"""A workflow's run log: each enrolled record and what each action did to it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import workflows as workflow_store
from domain.ids import record_kind
from domain.workflows import Outcome
from domain.workflows import Run as DomainRun

from .info import Info
from .node_ids import node_id
from .pagination import Connection, Window, connection


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

    @strawberry.field(description="The run's global id.")
    def id(self) -> strawberry.ID:
        return node_id("WorkflowRun", self.run.id)

    @strawberry.field(description="The enrolled record's type (QUOTE for quote workflows).")
    def object_type(self) -> str:
        return self.run.object_type

    @strawberry.field(description="The enrolled record's (or quote's) global id.")
    def object_id(self) -> strawberry.ID:
        kind = "Quote" if self.run.object_type == "QUOTE" else record_kind(self.run.object_type)
        return node_id(kind, self.run.object_id)

    @strawberry.field(description="When the record enrolled.")
    def enrolled_at(self) -> datetime:
        return self.run.enrolled_at

    @strawberry.field(description="Each action's outcome, in the workflow's order.")
    def outcomes(self) -> list[ActionOutcome]:
        return [ActionOutcome(outcome=o) for o in self.run.outcomes]


async def runs_page(info: Info, workflow_id: int, at: Window) -> Connection[WorkflowRun]:
    rows = await workflow_store.list_runs(
        info.context.pool, [workflow_id], at.size + 1, at.cursor_id, at.backward
    )

    async def count() -> int:
        return await workflow_store.count_runs(info.context.pool, workflow_id)

    return connection(rows, at, lambda r: WorkflowRun(run=r), lambda r: [r.id], count)
