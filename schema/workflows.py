"""Workflows, rotate-action counts and assignOwner."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db import workflows as workflow_store
from domain.records import ChangeSource, ObjectType
from domain.workflows import Action as DomainAction
from domain.workflows import Workflow as DomainWorkflow
from resolvers import ownership
from resolvers import workflows as use_cases
from resolvers.loaders import user_loader

from .enums import ActionType, TriggerEvent
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .pagination import Connection
from .permissions import IsSuperAdmin
from .record_queries import FilterGroup, raw_groups
from .users import User
from .workflow_runs import WorkflowRun, runs_page


@strawberry.type(description="How many records a rotate-owner action assigned to one owner.")
class OwnerCount:
    owner_id: strawberry.Private[int]
    count: int = strawberry.field(description="How many records were assigned to them.")

    @strawberry.field(description="The owner.")
    async def owner(self, info: Info) -> User:
        user = await user_loader(info.context).load(self.owner_id)
        assert user is not None
        return User.from_domain(user)


@strawberry.type
class WorkflowAction:
    action: strawberry.Private[DomainAction]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.action.id))

    @strawberry.field
    def type(self) -> ActionType:
        return self.action.type

    @strawberry.field
    def property(self) -> str | None:
        return self.action.property

    @strawberry.field
    def value(self) -> str | None:
        return self.action.value

    @strawberry.field
    def owner_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(str(i)) for i in self.action.owner_ids]

    @strawberry.field
    def team_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.action.team_id)) if self.action.team_id else None

    @strawberry.field
    def overwrite(self) -> bool:
        return self.action.overwrite

    @strawberry.field
    def title(self) -> str | None:
        return self.action.title

    @strawberry.field
    def body(self) -> str | None:
        return self.action.body


@strawberry.type(description="A rotate-owner workflow action and its assignment counts.")
class RotateAction:
    id: strawberry.ID = strawberry.field(description="The action's id.")

    @strawberry.field(
        description="How many records this action has assigned to each owner; reset when its owners change."
    )
    async def counts(self, info: Info) -> list[OwnerCount]:
        rows = await workflow_store.list_counts(info.context.pool, int(self.id))
        return [OwnerCount(owner_id=u, count=n) for u, n in rows]


@strawberry.type
class Workflow:
    workflow: strawberry.Private[DomainWorkflow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.workflow.id))

    @strawberry.field
    def name(self) -> str:
        return self.workflow.name

    @strawberry.field
    def object_type(self) -> str:
        return self.workflow.object_type

    @strawberry.field
    def enabled(self) -> bool:
        return self.workflow.enabled

    @strawberry.field
    def system_key(self) -> str | None:
        return self.workflow.system_key

    @strawberry.field
    def trigger(self) -> JSON:
        return {  # type: ignore[return-value]
            "event": self.workflow.trigger_event.value,
            "property": self.workflow.trigger_property,
            "filterGroups": self.workflow.filter_groups,
        }

    @strawberry.field
    def actions(self) -> list[WorkflowAction]:
        return [WorkflowAction(action=a) for a in self.workflow.actions]

    @strawberry.field(
        description="The run log, newest first: each enrolled record and each action's outcome."
    )
    async def runs(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[WorkflowRun]:
        return await runs_page(info, self.workflow.id, first, after)


@strawberry.input
class TriggerInput:
    event: TriggerEvent
    property: str | None = None
    filter_groups: list[FilterGroup] | None = None


@strawberry.input
class ActionInput:
    type: ActionType
    property: str | None = None
    value: str | None = None
    owner_ids: list[strawberry.ID] | None = None
    team_id: strawberry.ID | None = None
    overwrite: bool = False
    title: str | None = None
    body: str | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "type": self.type, "property": self.property, "value": self.value,
            "owner_ids": [int(i) for i in self.owner_ids or []], "team_id": int(self.team_id) if self.team_id else None,
            "overwrite": self.overwrite, "title": self.title, "body": self.body,
        }  # fmt: skip


@strawberry.input
class CreateWorkflowInput:
    object_type: ObjectType
    trigger: TriggerInput
    actions: list[ActionInput]
    name: str = "Workflow"
    enabled: bool = True


@strawberry.input(description="A workflow on quotes: triggers on their creation or status changes.")
class CreateQuoteWorkflowInput:
    trigger: TriggerInput = strawberry.field(
        description="CREATED, or PROPERTY_CHANGED with property 'status'; filters on status, title and total."
    )
    actions: list[ActionInput] = strawberry.field(
        description="CREATE_TASK (on the quote's deal), SEND_NOTIFICATION, SET_PROPERTY of a 'properties.<name>', "
        "or SET_PROPERTY 'deal.stageId' with a stage id (moves the quote's deal through its approval gate)."
    )
    name: str = "Quote workflow"
    enabled: bool = True


@strawberry.input
class SetWorkflowEnabledInput:
    id: strawberry.ID
    enabled: bool


@strawberry.input
class UpdateWorkflowActionInput:
    id: strawberry.ID
    owner_ids: list[strawberry.ID] | None = None
    team_id: strawberry.ID | None = None
    overwrite: bool | None = None
    title: str | None = None
    value: str | None = None
    body: str | None = None


@strawberry.type
class WorkflowPayload:
    workflow: Workflow | None
    user_errors: list[UserError]


@strawberry.type
class WorkflowActionPayload:
    action: WorkflowAction | None
    user_errors: list[UserError]


@strawberry.input(description="Records and their new owner.")
class AssignOwnerInput:
    object_type: ObjectType = strawberry.field(description="The records' object type.")
    ids: list[strawberry.ID] = strawberry.field(description="The records' ids.")
    owner_id: strawberry.ID | None = strawberry.field(
        description="The new owner's user id; null removes the owner."
    )
    source: ChangeSource = strawberry.field(
        default=ChangeSource.API, description="Where the change comes from, recorded in the property history."
    )


@strawberry.type(description="The result of assignOwner.")
class AssignOwnerPayload:
    count: int = strawberry.field(description="How many records got the new owner.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class WorkflowQueries:
    @strawberry.field(
        permission_classes=[IsSuperAdmin],
        description="Every workflow, on records and on quotes (super admins only).",
    )
    async def workflows(self, info: Info) -> list[Workflow]:
        return [Workflow(workflow=w) for w in await workflow_store.list_workflows(info.context.pool)]

    @strawberry.field(
        permission_classes=[IsSuperAdmin],
        description="A rotate-owner workflow action with how many records it assigned to each owner (super admins only).",
    )
    async def rotate_action(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The action's id.")]
    ) -> RotateAction:
        return RotateAction(id=id)


@strawberry.type
class WorkflowMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Create a workflow on contacts, companies, deals or tickets (super admins only).",
    )
    async def create_workflow(
        self,
        info: Info,
        input: Annotated[
            CreateWorkflowInput,
            strawberry.argument(description="The object type, the trigger and the actions in order."),
        ],
    ) -> WorkflowPayload:
        result = await use_cases.create_workflow(
            info.context, name=input.name, object_type=input.object_type.value, trigger_event=input.trigger.event,
            trigger_property=input.trigger.property, filter_groups=raw_groups(input.trigger.filter_groups) or [],
            actions=[a.spec() for a in input.actions], enabled=input.enabled,
        )  # fmt: skip
        return WorkflowPayload(
            workflow=value_or_none(result, lambda w: Workflow(workflow=w)), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin], description="A workflow of object type QUOTE on the one engine."
    )
    async def create_quote_workflow(
        self,
        info: Info,
        input: Annotated[
            CreateQuoteWorkflowInput, strawberry.argument(description="The trigger and the actions in order.")
        ],
    ) -> WorkflowPayload:
        result = await use_cases.create_workflow(
            info.context, name=input.name, object_type="QUOTE", trigger_event=input.trigger.event,
            trigger_property=input.trigger.property, filter_groups=raw_groups(input.trigger.filter_groups) or [],
            actions=[a.spec() for a in input.actions], enabled=input.enabled,
        )  # fmt: skip
        return WorkflowPayload(
            workflow=value_or_none(result, lambda w: Workflow(workflow=w)), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin], description="Turn a workflow on or off (super admins only)."
    )
    async def set_workflow_enabled(
        self,
        info: Info,
        input: Annotated[
            SetWorkflowEnabledInput, strawberry.argument(description="The workflow and whether it runs.")
        ],
    ) -> WorkflowPayload:
        result = await use_cases.set_enabled(info.context, int(input.id), input.enabled)
        return WorkflowPayload(
            workflow=value_or_none(result, lambda w: Workflow(workflow=w)), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin], description="Change one action of a workflow (super admins only)."
    )
    async def update_workflow_action(
        self,
        info: Info,
        input: Annotated[
            UpdateWorkflowActionInput, strawberry.argument(description="The action and its new settings.")
        ],
    ) -> WorkflowActionPayload:
        result = await use_cases.update_action(
            info.context, int(input.id), owner_ids=[int(i) for i in input.owner_ids] if input.owner_ids is not None else None,
            team_id=int(input.team_id) if input.team_id else None, overwrite=input.overwrite, title=input.title,
            value=input.value, body=input.body,
        )  # fmt: skip
        return WorkflowActionPayload(
            action=value_or_none(result, lambda a: WorkflowAction(action=a)), user_errors=user_errors(result)
        )

    @strawberry.mutation(description="Give records a new owner; the payload counts the records changed.")
    async def assign_owner(
        self,
        info: Info,
        input: Annotated[
            AssignOwnerInput,
            strawberry.argument(description="The object type, the records and the new owner."),
        ],
    ) -> AssignOwnerPayload:
        result = await ownership.assign_owner(
            info.context, input.object_type, [int(i) for i in input.ids],
            int(input.owner_id) if input.owner_id else None, input.source,
        )  # fmt: skip
        return AssignOwnerPayload(count=value_or_none(result, int) or 0, user_errors=user_errors(result))
