"""GraphQL enums, backed by the domain's own enums (registered once, used as types), described for clients."""

from dataclasses import replace
from enum import Enum

import strawberry

from db.engagements import EngagementType
from domain.approvals import ApprovalStatus
from domain.approvals import Mode as ApprovalMode
from domain.lifecycle import LifecycleStage
from domain.properties import PropertyType
from domain.quotes import QuoteStatus
from domain.records import ChangeSource, ObjectType, Scope, StageKind
from domain.workflows import ActionType, TriggerEvent

# The GraphQL name, the type's description and each value's description.
DESCRIBED: list[tuple[type[Enum], str, str, dict[str, str]]] = [
    (Scope, "Scope", "Which records a user may read or change.", {
        "ALL": "Every record.",
        "TEAM": "The records owned by the user or by members of the user's teams.",
        "OWNED": "Only the records the user owns.",
    }),
    (ObjectType, "ObjectType", "The kinds of CRM record.", {
        "CONTACT": "A person.", "COMPANY": "An organisation.", "DEAL": "A sales opportunity.",
        "TICKET": "A support request.",
    }),
    (StageKind, "StageKind", "Whether a pipeline stage is still open or closes the deal.", {
        "OPEN": "The deal is still being worked on.", "CLOSED_WON": "The deal was won.",
        "CLOSED_LOST": "The deal was lost.",
    }),
    (ChangeSource, "ChangeSource", "Where a change to a record came from.", {
        "UI": "A person in a user interface.", "API": "A program through the API (the default).",
        "IMPORT": "A CSV import.", "WORKFLOW": "A workflow action.",
        "AUTOMATION": "Built-in automation, such as the lifecycle settings.", "FORM": "A web form.",
        "INTEGRATION": "An integration with another system.",
    }),
    (LifecycleStage, "LifecycleStage", "Where a contact or company is in the buying journey, in order.", {
        "SUBSCRIBER": "Has opted in to hear from the team.", "LEAD": "Has shown interest.",
        "MARKETING_QUALIFIED_LEAD": "Judged ready for sales by marketing.",
        "SALES_QUALIFIED_LEAD": "Accepted by sales as a potential customer.",
        "OPPORTUNITY": "Has an open deal.", "CUSTOMER": "Has a won deal.",
        "EVANGELIST": "A customer who recommends the product.", "OTHER": "None of the above.",
    }),
    (ApprovalStatus, "ApprovalStatus", "Where a deal's approval stands.", {
        "NOT_STARTED": "The approval could not start (for example no approver is eligible); restartDealApproval tries again.",
        "PENDING": "Waiting for the approvers' decision.",
        "CHANGES_REQUESTED": "An approver asked the owner for changes; resubmitDeal sends it back.",
        "APPROVED": "Approved: the deal may move on.",
        "REJECTED": "Rejected: the deal may only move to a closed-lost stage, or be restarted.",
        "CANCELLED": "Ended without a decision: the pipeline's approvals were turned off.",
    }),
    (ApprovalMode, "ApprovalMode", "How many of a pipeline's approvers must approve a deal.", {
        "ALL": "Every approver must approve.", "ANY": "One approval is enough.",
    }),
    (QuoteStatus, "QuoteStatus", "Where a quote is in its life.", {
        "DRAFT": "Being written; editable.", "PENDING_APPROVAL": "Waiting for the quote approver.",
        "CHANGES_REQUESTED": "The approver asked for changes; editable.",
        "APPROVED": "Approved, about to be published.",
        "PUBLISHED": "Sent: the prospect can read and sign it at its shareUrl.",
        "RECALLED": "Taken back by its author; editable and needing approval again.",
        "SIGNED": "Signed by the prospect.",
    }),
    (EngagementType, "EngagementType", "The kinds of engagement logged on records.", {
        "NOTE": "A note.", "TASK": "A task for an assignee, done or not.", "CALL": "A phone call.",
        "EMAIL": "An email sent or received.", "MEETING": "A meeting.",
    }),
    (TriggerEvent, "WorkflowTriggerEvent", "What starts a workflow.", {
        "CREATED": "A record (or quote) is created.",
        "PROPERTY_CHANGED": "A property changes, for example a quote's status.",
    }),
    (PropertyType, "PropertyType", "The kind of value a custom property holds.", {
        "STRING": "Text.", "NUMBER": "A decimal number.", "DATE": "A calendar date (YYYY-MM-DD).",
        "BOOLEAN": "true or false.", "ENUMERATION": "One of the definition's options.", "USER": "A user, by id.",
    }),
    (ActionType, "WorkflowActionType", "What a workflow action does.", {
        "SET_PROPERTY": "Set a property to a value.",
        "ROTATE_OWNER": "Assign an owner in turn from a list of users or a team.",
        "CREATE_TASK": "Create a task on the record.",
        "SEND_NOTIFICATION": "Notify users.",
    }),
]  # fmt: skip

for enum, name, description, values in DESCRIBED:
    strawberry.enum(enum, name=name, description=description)
    definition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    definition.values = [replace(v, description=values[v.name]) for v in definition.values]

__all__ = [
    "ActionType",
    "ApprovalMode",
    "ApprovalStatus",
    "ChangeSource",
    "EngagementType",
    "LifecycleStage",
    "ObjectType",
    "PropertyType",
    "QuoteStatus",
    "Scope",
    "StageKind",
    "TriggerEvent",
]
