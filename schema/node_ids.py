"""Which type of object every ID argument and input field takes, and ids as the schema shows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry

from domain.codes import RuleCode
from domain.ids import RECORD_KINDS, decode_global_id, global_id
from domain.limits import BadInput, parse_id


@dataclass(frozen=True)
class RecordOf:
    """A CRM record's id whose type is given by a sibling ObjectType argument or field."""

    sibling: str


@dataclass(frozen=True)
class AnyNode:
    """node(id), nodes(ids): a global id of any type, handed on as it is (its type decides the fetch)."""


Expected = tuple[str, ...] | RecordOf | AnyNode
RECORD = ("Contact", "Company", "Deal", "Ticket")
USER = ("User",)

# Every ID argument (`Root.field.argument`) and input field (`Input.field`) of the schema and the type
# of object it takes; tests/unit/test_node_ids.py keeps this equal to the schema.
ID_INPUTS: Mapping[str, Expected] = {
    "ActionInput.ownerIds": USER,
    "ActionInput.teamId": ("Team",),
    "ApproveDealInput.dealId": ("Deal",),
    "ApproveQuoteInput.id": ("Quote",),
    "AssignOwnerInput.ids": RecordOf("objectType"),
    "AssignOwnerInput.ownerId": USER,
    "AssociateInput.fromId": RecordOf("fromType"),
    "AssociateInput.toId": RecordOf("toType"),
    "CommentOnDealApprovalInput.dealId": ("Deal",),
    "CreateApiTokenInput.userId": USER,
    "CreateCompanyInput.ownerId": USER,
    "CreateContactInput.ownerId": USER,
    "CreateDealInput.pipelineId": ("Pipeline",),
    "CreateDealInput.stageId": ("Stage",),
    "CreateDealInput.ownerId": USER,
    "CreateDealInput.contactIds": ("Contact",),
    "CreateDealInput.companyIds": ("Company",),
    "CreateEngagementInput.assigneeId": USER,
    "CreateQuoteInput.dealId": ("Deal",),
    "CreateTeamInput.primaryMemberIds": USER,
    "CreateTeamInput.additionalMemberIds": USER,
    "CreateTicketInput.ownerId": USER,
    "CreateUserInput.teamId": ("Team",),
    "DealApprovalsInput.pipelineId": ("Pipeline",),
    "DealApprovalsInput.approverIds": USER,
    "DeleteRecordInput.id": RecordOf("objectType"),
    "DisableDealApprovalsInput.pipelineId": ("Pipeline",),
    "MarkNotificationsReadInput.ids": ("Notification",),
    "MoveDealInput.dealId": ("Deal",),
    "MoveDealInput.stageId": ("Stage",),
    "PublishQuoteInput.id": ("Quote",),
    "Query.contact.id": ("Contact",),
    "Query.company.id": ("Company",),
    "Query.deal.id": ("Deal",),
    "Query.ticket.id": ("Ticket",),
    "Query.board.pipelineId": ("Pipeline",),
    "Query.tasks.assigneeId": USER,
    "Query.engagements.recordId": RecordOf("objectType"),
    "Query.rotateAction.id": ("WorkflowAction",),
    "Query.quote.id": ("Quote",),
    "Query.import.id": ("Import",),
    "Query.node.id": AnyNode(),
    "Query.nodes.ids": AnyNode(),
    "RecallQuoteInput.id": ("Quote",),
    "RecordRefInput.id": RecordOf("objectType"),
    "RejectDealInput.dealId": ("Deal",),
    "ReplayWebhookInput.id": ("Webhook",),
    "RequestDealChangesInput.dealId": ("Deal",),
    "RequestQuoteChangesInput.id": ("Quote",),
    "RestartDealApprovalInput.dealId": ("Deal",),
    "ResubmitDealInput.dealId": ("Deal",),
    "RevokeApiTokenInput.id": ("ApiToken",),
    "SetQuoteApprovalSettingsInput.approverId": USER,
    "SetTaskDoneInput.id": ("Task",),
    "SetWorkflowEnabledInput.id": ("Workflow",),
    "Subscription.boardChanged.pipelineId": ("Pipeline",),
    "Subscription.dealApprovalChanged.pipelineId": ("Pipeline",),
    "Subscription.dealApprovalChanged.dealId": ("Deal",),
    "Subscription.recordChanged.id": RecordOf("objectType"),
    "Subscription.quoteStatusChanged.dealId": ("Deal",),
    "Subscription.importProgress.importId": ("Import",),
    "UpdateCompanyInput.id": ("Company",),
    "UpdateContactInput.id": ("Contact",),
    "UpdateDealInput.id": ("Deal",),
    "UpdateDealInput.stageId": ("Stage",),
    "UpdateQuoteInput.id": ("Quote",),
    "UpdateUserInput.id": USER,
    "UpdateWebhookInput.id": ("Webhook",),
    "UpdateWorkflowActionInput.id": ("WorkflowAction",),
    "UpdateWorkflowActionInput.ownerIds": USER,
    "UpdateWorkflowActionInput.teamId": ("Team",),
}


def checked_id(
    value: object, path: tuple[str, ...], coordinate: str, siblings: Mapping[str, object]
) -> strawberry.ID:
    """An ID argument as its field reads it: the plain record id (digits), whichever form was sent, or
    for node and nodes the global id itself. BAD_ID, naming the field, for anything else."""
    expected = ID_INPUTS.get(coordinate)
    if expected is None:
        raise LookupError(f"{coordinate} takes an ID but schema/node_ids.py does not say of what")
    if isinstance(expected, AnyNode):
        if not isinstance(value, str) or decode_global_id(value) is None:
            name = ".".join(path)
            raise BadInput(RuleCode.BAD_ID, f"{name} takes a global id (an id this API gave out)", path)
        return strawberry.ID(value)
    return strawberry.ID(str(parse_id(value, path, expected_kinds(expected, siblings))))


def expected_kinds(found: tuple[str, ...] | RecordOf, siblings: Mapping[str, object]) -> tuple[str, ...]:
    """The types whose global ids an argument takes."""
    if isinstance(found, RecordOf):
        object_type = siblings.get(found.sibling)
        value = getattr(object_type, "value", object_type)
        return (RECORD_KINDS[value],) if isinstance(value, str) and value in RECORD_KINDS else RECORD
    return found


def node_id(kind: str, number: int) -> strawberry.ID:
    """An object's id as every GraphQL answer shows it: its global id."""
    return strawberry.ID(global_id(kind, number))


def optional_node_id(kind: str, number: int | None) -> strawberry.ID | None:
    return None if number is None else node_id(kind, number)


def number_of(id: strawberry.ID) -> int:
    """The record id inside an id this schema gave out (its global id)."""
    found = decode_global_id(id)
    if found is None:
        raise ValueError(f"{id!r} is not a global id")
    return found[1]


@strawberry.interface(
    description="An object with a global id, which node(id) and nodes(ids) fetch again within the viewer's scope."
)
class Node:
    id: strawberry.ID = strawberry.field(
        default=strawberry.ID(""),
        description="The object's global id: opaque, unique across every type, stable. Inputs also take "
        "the plain record id (digits), which CSV files and older clients use.",
    )
