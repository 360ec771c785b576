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
from .node_ids import Node, node_id, number_of
from .pagination import AFTER, BEFORE, FIRST, LAST, Connection, window
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


@strawberry.type(description="One action of a workflow; only the fields of its type are set.")
class WorkflowAction(Node):
    action: strawberry.Private[DomainAction]

    @strawberry.field(description="The action's global id.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return node_id("WorkflowAction", self.action.id)

    @strawberry.field(description="What the action does.")
    def type(self) -> ActionType:
        return self.action.type

    @strawberry.field(description="SET_PROPERTY: the property to set.")
    def property(self) -> str | None:
        return self.action.property

    @strawberry.field(description="SET_PROPERTY: the value to set, as text.")
    def value(self) -> str | None:
        return self.action.value

    @strawberry.field(description="ROTATE_OWNER: the users to assign in turn.")
    def owner_ids(self) -> list[strawberry.ID]:
        return [node_id("User", i) for i in self.action.owner_ids]

    @strawberry.field(description="ROTATE_OWNER: a team whose members are assigned in turn.")
    def team_id(self) -> strawberry.ID | None:
        return node_id("Team", self.action.team_id) if self.action.team_id else None

    @strawberry.field(description="ROTATE_OWNER: also reassign records that already have an owner.")
    def overwrite(self) -> bool:
        return self.action.overwrite

    @strawberry.field(description="CREATE_TASK: the task's title.")
    def title(self) -> str | None:
        return self.action.title

    @strawberry.field(description="CREATE_TASK or SEND_NOTIFICATION: the text.")
    def body(self) -> str | None:
        return self.action.body


@strawberry.type(description="A rotate-owner workflow action and its assignment counts.")
class RotateAction:
    id: strawberry.ID = strawberry.field(description="The action's global id (a WorkflowAction's).")

    @strawberry.field(
        description="How many records this action has assigned to each owner; reset when its owners change."
    )
    async def counts(self, info: Info) -> list[OwnerCount]:
        rows = await workflow_store.list_counts(info.context.pool, number_of(self.id))
        return [OwnerCount(owner_id=u, count=n) for u, n in rows]


@strawberry.type(
    description="Automation: when records (or quotes) are created or change, run actions on them."
)
class Workflow(Node):
    workflow: strawberry.Private[DomainWorkflow]

    @strawberry.field(description="The workflow's global id.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return node_id("Workflow", self.workflow.id)

    @strawberry.field(description="Its name.")
    def name(self) -> str:
        return self.workflow.name

    @strawberry.field(description="The object type it runs on (CONTACT, COMPANY, DEAL, TICKET or QUOTE).")
    def object_type(self) -> str:
        return self.workflow.object_type

    @strawberry.field(description="Whether it runs.")
    def enabled(self) -> bool:
        return self.workflow.enabled

    @strawberry.field(
        description="Set on workflows the system installs (for example quote approval); null on yours."
    )
    def system_key(self) -> str | None:
        return self.workflow.system_key

    @strawberry.field(description="When it runs: {event, property, filterGroups}.")
    def trigger(self) -> JSON:
        return {  # type: ignore[return-value]
            "event": self.workflow.trigger_event.value,
            "property": self.workflow.trigger_property,
            "filterGroups": self.workflow.filter_groups,
        }

    @strawberry.field(description="What it does, in order.")
    def actions(self) -> list[WorkflowAction]:
        return [WorkflowAction(action=a) for a in self.workflow.actions]

    @strawberry.field(
        description="The run log, newest first: each enrolled record and each action's outcome."
    )
    async def runs(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[WorkflowRun]:
        return await runs_page(info, self.workflow.id, window(first, after, last, before))


@strawberry.input(description="When a workflow runs.")
class TriggerInput:
    event: TriggerEvent = strawberry.field(description="The event that starts it.")
    property: str | None = strawberry.field(
        default=None, description="PROPERTY_CHANGED: the property whose change starts it."
    )
    filter_groups: list[FilterGroup] | None = strawberry.field(
        default=None, description="Only records matching these filters; left out, every record."
    )


@strawberry.input(description="One action of a new workflow; only the fields of its type apply.")
class ActionInput:
    type: ActionType = strawberry.field(description="What the action does.")
    property: str | None = strawberry.field(default=None, description="SET_PROPERTY: the property to set.")
    value: str | None = strawberry.field(default=None, description="SET_PROPERTY: the value to set, as text.")
    owner_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="ROTATE_OWNER: the users to assign in turn."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="ROTATE_OWNER: a team whose members are assigned in turn."
    )
    overwrite: bool = strawberry.field(
        default=False, description="ROTATE_OWNER: also reassign records that already have an owner."
    )
    title: str | None = strawberry.field(default=None, description="CREATE_TASK: the task's title.")
    body: str | None = strawberry.field(
        default=None, description="CREATE_TASK or SEND_NOTIFICATION: the text."
    )

    def spec(self) -> dict[str, Any]:
        return {
            "type": self.type, "property": self.property, "value": self.value,
            "owner_ids": [int(i) for i in self.owner_ids or []], "team_id": int(self.team_id) if self.team_id else None,
            "overwrite": self.overwrite, "title": self.title, "body": self.body,
        }  # fmt: skip


@strawberry.input(description="A new workflow on records.")
class CreateWorkflowInput:
    object_type: ObjectType = strawberry.field(description="The object type it runs on.")
    trigger: TriggerInput = strawberry.field(description="When it runs.")
    actions: list[ActionInput] = strawberry.field(description="What it does, in order.")
    name: str = strawberry.field(default="Workflow", description="Its name.")
    enabled: bool = strawberry.field(
        default=True, description="Whether it runs from now on; true when left out."
    )


@strawberry.input(description="A workflow on quotes: triggers on their creation or status changes.")
class CreateQuoteWorkflowInput:
    trigger: TriggerInput = strawberry.field(
        description="CREATED, or PROPERTY_CHANGED with property 'status'; filters on status, title and total."
    )
    actions: list[ActionInput] = strawberry.field(
        description="CREATE_TASK (on the quote's deal), SEND_NOTIFICATION, SET_PROPERTY of a 'properties.<name>', "
        "or SET_PROPERTY 'deal.stageId' with a stage id (moves the quote's deal through its approval gate)."
    )
    name: str = strawberry.field(default="Quote workflow", description="Its name.")
    enabled: bool = strawberry.field(
        default=True, description="Whether it runs from now on; true when left out."
    )


@strawberry.input(description="A workflow and whether it runs.")
class SetWorkflowEnabledInput:
    id: strawberry.ID = strawberry.field(description="The workflow's id.")
    enabled: bool = strawberry.field(description="True to run it, false to pause it.")


@strawberry.input(description="Changes to a workflow action; a field left out stays as it is.")
class UpdateWorkflowActionInput:
    id: strawberry.ID = strawberry.field(description="The action's id.")
    owner_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="ROTATE_OWNER: the users to assign in turn. Left out: unchanged."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="ROTATE_OWNER: a team whose members are assigned in turn. Left out: unchanged.",
    )
    overwrite: bool | None = strawberry.field(
        default=None,
        description="ROTATE_OWNER: also reassign records that already have an owner. Left out: unchanged.",
    )
    title: str | None = strawberry.field(
        default=None, description="CREATE_TASK: the task's title. Left out: unchanged."
    )
    value: str | None = strawberry.field(
        default=None, description="SET_PROPERTY: the value to set. Left out: unchanged."
    )
    body: str | None = strawberry.field(default=None, description="The text. Left out: unchanged.")


@strawberry.type(description="The result of a workflow mutation.")
class WorkflowPayload:
    workflow: Workflow | None = strawberry.field(
        description="The workflow as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of updateWorkflowAction.")
class WorkflowActionPayload:
    action: WorkflowAction | None = strawberry.field(
        description="The action as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


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
        return RotateAction(id=node_id("WorkflowAction", int(id)))


async def _create(
    info: Info, object_type: str, input: CreateWorkflowInput | CreateQuoteWorkflowInput
) -> WorkflowPayload:
    """A workflow of any object type, records' and quotes' alike, on the one engine."""
    result = await use_cases.create_workflow(
        info.context, name=input.name, object_type=object_type, trigger_event=input.trigger.event,
        trigger_property=input.trigger.property, filter_groups=raw_groups(input.trigger.filter_groups) or [],
        actions=[a.spec() for a in input.actions], enabled=input.enabled,
    )  # fmt: skip
    return WorkflowPayload(
        workflow=value_or_none(result, lambda w: Workflow(workflow=w)), user_errors=user_errors(result)
    )


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
        return await _create(info, input.object_type.value, input)

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
        return await _create(info, "QUOTE", input)

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
