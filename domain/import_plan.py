"""Matching import rows to records: update by id or dedupe value, else create (seeds 003, 004)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .codes import RuleCode
from .imports import COLUMNS, DEDUPE, TARGETS, Row, RowError
from .lifecycle import LifecycleSettings, LifecycleStage, creation_stage, manual_change_blocker
from .limits import BadInput, parse_id
from .records import ChangeSource, ObjectType, Pipeline, Record, User, Viewer
from .validation import field_problems
from .visibility import can_edit, can_see


@dataclass(frozen=True, slots=True)
class Write:
    """One record to write: a new one when `before` is None, else an update with merged values."""

    line: int
    before: Record | None
    values: dict[str, object]
    owner_id: int | None

    @property
    def changed(self) -> bool:
        b = self.before
        return b is None or b.owner_id != self.owner_id or any(b.get(c) != v for c, v in self.values.items())


@dataclass(frozen=True, slots=True)
class Found:
    """What the database holds for one batch: matched records, owners by email, pipelines, settings."""

    records: Sequence[Record]
    owners: Mapping[str, User]
    pipelines: Sequence[Pipeline] = ()
    settings: LifecycleSettings = field(default_factory=LifecycleSettings)


class _Bad(Exception):
    def __init__(self, message: str, code: RuleCode = RuleCode.INVALID) -> None:
        super().__init__(message)
        self.code = code


class _Labelled(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...


L = TypeVar("L", bound=_Labelled)


def by_label_or_id(items: Sequence[L], text: str, kind: str) -> L | None:
    """A pipeline or stage named by its id (global or plain, of type `kind`) or its label
    (case-insensitive)."""
    key = text.strip()
    try:
        number: int | None = parse_id(key, (), (kind,))
    except BadInput:
        number = None
    folded = key.casefold()
    return next((i for i in items if i.id == number or i.label.casefold() == folded), None)


def _stage(row: Row, before: Record | None, pipelines: Sequence[Pipeline]) -> dict[str, object]:
    if before is not None:
        pipeline = next(p for p in pipelines if p.id == before.get("pipeline_id"))
        if row.pipeline and by_label_or_id(pipelines, row.pipeline, "Pipeline") is not pipeline:
            raise _Bad(f"Pipeline: deal {before.id} cannot move to another pipeline", RuleCode.WRONG_PIPELINE)
        if not row.stage:
            return {}
    elif not row.pipeline or not row.stage:
        raise _Bad("a new deal needs a Pipeline and a Deal stage")
    else:
        found = by_label_or_id(pipelines, row.pipeline, "Pipeline")
        if found is None:
            raise _Bad(f"Pipeline: no pipeline {row.pipeline!r}", RuleCode.NOT_FOUND)
        pipeline = found
    stage = by_label_or_id(pipeline.stages, row.stage, "Stage")
    if stage is None:
        raise _Bad(f"Deal stage: no stage {row.stage!r} in pipeline {pipeline.label!r}", RuleCode.NOT_FOUND)
    return {"pipeline_id": pipeline.id, "stage_id": stage.id}


def plan(
    object_type: ObjectType, rows: Sequence[Row], found: Found, viewer: Viewer
) -> tuple[list[Write], list[RowError]]:
    """Seeds 003, 004: a row updates the record with its id, else the one with its email or domain
    (case-insensitively), else creates one; an owner is an active user named by email; a deal goes
    to a stage of its pipeline, by label or id; a lifecycle stage never moves back by import."""
    kind, dedupe = object_type.value.lower(), DEDUPE.get(object_type)
    labels = {t.name: t.label for t in TARGETS[object_type]}
    by_id = {r.id: r for r in found.records}
    by_key = {str(r.get(dedupe)).lower(): r for r in found.records if dedupe and r.get(dedupe)}
    written: dict[int, int] = {}
    writes: list[Write] = []
    errors: list[RowError] = []
    for row in rows:
        try:
            key = row.values.get(dedupe) if dedupe else None
            same_key = by_key.get(str(key)) if key else None
            before = same_key
            if row.record_id is not None:
                before = by_id.get(row.record_id)
                if before is None or not can_see(viewer, before.owner_id):
                    raise _Bad(f"Record ID: no {kind} {row.record_id}", RuleCode.NOT_FOUND)
                if same_key is not None and same_key.id != before.id:
                    other = (
                        f"{kind} {same_key.id}" if can_see(viewer, same_key.owner_id) else f"another {kind}"
                    )
                    raise _Bad(f"{labels[str(dedupe)]}: {key} belongs to {other}", RuleCode.DUPLICATE)
            elif before is not None and not can_see(viewer, before.owner_id):
                # DESIGN 2: what the importer cannot see reads as not found, never as forbidden
                raise _Bad(f"{labels[str(dedupe)]}: no {kind} {key}", RuleCode.NOT_FOUND)
            if before is not None and not can_edit(viewer, before.owner_id):
                raise _Bad(f"you may not edit {kind} {before.id}", RuleCode.FORBIDDEN)
            if before is not None and before.id in written:
                raise _Bad(
                    f"duplicate of line {written[before.id]}: both rows write {kind} {before.id}",
                    RuleCode.DUPLICATE,
                )
            owner_id = before.owner_id if before else None
            if row.owner:
                user = found.owners.get(row.owner)
                if user is None:
                    raise _Bad(f"{labels['owner_id']}: no user with email {row.owner}", RuleCode.NOT_FOUND)
                if not user.active:
                    raise _Bad(
                        f"{labels['owner_id']}: {row.owner} is deactivated and cannot own records",
                        RuleCode.INACTIVE_USER,
                    )
                owner_id = user.id
            values = {c: before.get(c) if before else None for c in COLUMNS[object_type]}
            values.update(row.values)
            if object_type is ObjectType.DEAL:
                values.update(_stage(row, before, found.pipelines))
            if "lifecycle_stage" in values:
                values["lifecycle_stage"] = _lifecycle(before, values["lifecycle_stage"], found.settings)
            problems = field_problems(object_type, values, creating=before is None)
            if problems:
                raise _Bad("; ".join(f"{labels.get(f, f)}: {m}" for f, m in problems))
        except _Bad as bad:
            errors.append(RowError(row.line, str(bad), bad.code))
            continue
        if before is not None:
            written[before.id] = row.line
        writes.append(Write(row.line, before, values, owner_id))
    return writes, errors  # fmt: skip


def _lifecycle(before: Record | None, value: object, settings: LifecycleSettings) -> str | None:
    given = LifecycleStage(str(value)) if value else None
    if before is None:
        stage = creation_stage(given, ChangeSource.IMPORT, settings.default_stage_on_create)
        return stage.value if stage else None
    current = before.get("lifecycle_stage")
    if manual_change_blocker(LifecycleStage(str(current)) if current else None, given) is not None:
        raise _Bad(
            f"Lifecycle stage: cannot move back from {current} to {given}; clear it first",
            RuleCode.LIFECYCLE_BACKWARDS,
        )
    return given.value if given else None
