"""The Mutation root, merged from each area's mutations."""

from strawberry.tools import merge_types

from .approvals import ApprovalMutations
from .engagements import EngagementMutations
from .imports import ImportMutations
from .lifecycle import LifecycleMutations
from .notifications import NotificationMutations
from .pipelines import PipelineMutations
from .properties import PropertyMutations
from .quotes import QuoteMutations
from .record_mutations import RecordMutations
from .tokens import TokenMutations
from .users import UserMutations
from .webhooks import WebhookMutations
from .workflows import WorkflowMutations

Mutation = merge_types(
    "Mutation",
    (
        UserMutations,
        TokenMutations,
        NotificationMutations,
        PipelineMutations,
        RecordMutations,
        EngagementMutations,
        ApprovalMutations,
        LifecycleMutations,
        WorkflowMutations,
        QuoteMutations,
        ImportMutations,
        PropertyMutations,
        WebhookMutations,
    ),
)
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Every change. Each takes one `input` and answers with a payload holding the changed objects as"
    " they are after the change and `userErrors` (field, message, stable code) when a business rule"
    " refused it, in which case nothing changed."
)
