"""GraphQL enums, backed by the domain's own enums (registered once, used as types)."""

import strawberry

from domain.approvals import ApprovalStatus
from domain.approvals import Mode as ApprovalMode
from domain.lifecycle import LifecycleStage
from domain.records import ChangeSource, ObjectType, Scope, StageKind

for enum, name in (
    (Scope, "Scope"),
    (ObjectType, "ObjectType"),
    (StageKind, "StageKind"),
    (ChangeSource, "ChangeSource"),
    (LifecycleStage, "LifecycleStage"),
    (ApprovalStatus, "ApprovalStatus"),
    (ApprovalMode, "ApprovalMode"),
):
    strawberry.enum(enum, name=name)

__all__ = [
    "ApprovalMode",
    "ApprovalStatus",
    "ChangeSource",
    "LifecycleStage",
    "ObjectType",
    "Scope",
    "StageKind",
]
