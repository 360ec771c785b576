"""GraphQL enums, backed by the domain's own enums (registered once, used as types)."""

from enum import StrEnum

import strawberry

from domain.records import ChangeSource, ObjectType, Scope, StageKind


class LifecycleStage(StrEnum):
    SUBSCRIBER = "SUBSCRIBER"
    LEAD = "LEAD"
    MARKETING_QUALIFIED_LEAD = "MARKETING_QUALIFIED_LEAD"
    SALES_QUALIFIED_LEAD = "SALES_QUALIFIED_LEAD"
    OPPORTUNITY = "OPPORTUNITY"
    CUSTOMER = "CUSTOMER"
    EVANGELIST = "EVANGELIST"
    OTHER = "OTHER"


class ApprovalStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


for enum in (Scope, ObjectType, StageKind, ChangeSource, LifecycleStage, ApprovalStatus):
    strawberry.enum(enum, name=enum.__name__)

__all__ = ["ApprovalStatus", "ChangeSource", "LifecycleStage", "ObjectType", "Scope", "StageKind"]
