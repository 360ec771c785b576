"""What any writer may change on a record: claimed sources and read-only system properties (DESIGN 3)."""

from __future__ import annotations

from collections.abc import Iterable

from .codes import Refusal, RuleCode
from .records import ChangeSource

# Sources a client may claim; IMPORT, WORKFLOW and AUTOMATION are set by the system's own writers.
CLIENT_SOURCES = frozenset({ChangeSource.API, ChangeSource.UI, ChangeSource.INTEGRATION, ChangeSource.FORM})

# Columns only their own use case writes. The stage (and with it the pipeline) changes by a move.
SYSTEM_COLUMNS = frozenset(
    {"id", "latest_approval_status", "version", "created_at", "updated_at", "last_activity_date",
     "last_contacted", "pipeline_id"}
)  # fmt: skip


def source_refusal(source: ChangeSource) -> Refusal | None:
    """DESIGN 3: the change source in the history is the system's to set, not a client's to claim."""
    if source in CLIENT_SOURCES:
        return None
    return Refusal(
        RuleCode.INVALID,
        f"source {source.value} is set by the system itself.",
        f"Use one of {', '.join(sorted(CLIENT_SOURCES))}.",
        field="source",
    )


def read_only_refusal(columns: Iterable[str], name_of: dict[str, str] | None = None) -> Refusal | None:
    """DESIGN 3: system properties are read-only to every writer; a deal's pipeline follows its stage."""
    for column in columns:
        if column in SYSTEM_COLUMNS:
            name = (name_of or {}).get(column, column)
            hint = "Move the deal to a stage of the other pipeline." if column == "pipeline_id" else ""
            return Refusal(RuleCode.READ_ONLY_PROPERTY, f"{name} is a system property and read-only.", hint)
    return None
