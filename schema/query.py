"""The Query root, merged from each area's queries."""

from strawberry.tools import merge_types

from .engagements import ActivityQueries
from .imports import ImportQueries
from .lifecycle import LifecycleQueries
from .nodes import NodeQueries
from .notifications import NotificationQueries
from .pipelines import PipelineQueries
from .properties import PropertyQueries
from .quotes import QuoteQueries
from .record_queries import RecordQueries
from .users import UserQueries
from .webhooks import WebhookQueries
from .workflows import WorkflowQueries

Query = merge_types(
    "Query",
    (
        UserQueries,
        LifecycleQueries,
        NotificationQueries,
        PipelineQueries,
        RecordQueries,
        ActivityQueries,
        WorkflowQueries,
        QuoteQueries,
        ImportQueries,
        PropertyQueries,
        WebhookQueries,
        NodeQueries,
    ),
)
Query.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "What a client can read: every list and record within the viewer's scope, which filters each"
    " result (what a user may not see is absent, as if it did not exist)."
)
