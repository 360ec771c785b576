"""CSV imports, pure: header mapping, a streaming record splitter, typed rows, in-file duplicates (seed 003)."""

from __future__ import annotations

import codecs
import csv
import functools
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .codes import RuleCode
from .ids import decode_global_id, record_kind
from .lifecycle import LifecycleStage
from .limits import NAME_MAX, BadInput, check_text, parse_datetime, parse_decimal, parse_id
from .records import ObjectType
from .validation import DOMAIN, EMAIL


class ImportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


FINISHED = frozenset({ImportStatus.DONE, ImportStatus.FAILED})


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: int
    object_type: ObjectType
    status: ImportStatus
    created_by: int
    rows_total: int | None
    rows_processed: int
    rows_created: int
    rows_updated: int
    error_count: int
    warnings: tuple[str, ...] = ()
    failure: str | None = None

    def progress(self) -> tuple[int, int]:
        """Seed 003: progress only moves forward, so an older snapshot sorts lower."""
        return (int(self.status in FINISHED), self.rows_processed)


class Kind(StrEnum):
    TEXT = "TEXT"
    EMAIL = "EMAIL"
    DOMAIN = "DOMAIN"
    NUMBER = "NUMBER"
    DATE = "DATE"
    LIFECYCLE = "LIFECYCLE"
    ID = "ID"
    OWNER = "OWNER"
    PIPELINE = "PIPELINE"
    STAGE = "STAGE"


@dataclass(frozen=True, slots=True)
class Target:
    """What one column of the file sets: a record column, or the record id, owner, pipeline or stage."""

    name: str
    kind: Kind
    label: str
    aliases: tuple[str, ...] = ()


def _owner(label: str) -> Target:
    return Target("owner_id", Kind.OWNER, label, ("ownerId", "owner", "hubspot_owner_id"))


_ID = Target("id", Kind.ID, "Record ID", ("recordId", "hs_object_id", "objectId"))
_LIFECYCLE = Target("lifecycle_stage", Kind.LIFECYCLE, "Lifecycle stage", ("lifecyclestage",))
TARGETS: Mapping[ObjectType, tuple[Target, ...]] = {
    ObjectType.CONTACT: (
        _ID, Target("email", Kind.EMAIL, "Email"), Target("first_name", Kind.TEXT, "First name"),
        Target("last_name", Kind.TEXT, "Last name"), Target("company_name", Kind.TEXT, "Company name"),
        _LIFECYCLE, _owner("Contact owner"),
    ),
    ObjectType.COMPANY: (
        _ID, Target("name", Kind.TEXT, "Name", ("Company name",)),
        Target("domain", Kind.DOMAIN, "Company domain name", ("Domain",)), _LIFECYCLE, _owner("Company owner"),
    ),
    ObjectType.DEAL: (
        _ID, Target("name", Kind.TEXT, "Deal name", ("dealname",)), Target("amount", Kind.NUMBER, "Amount"),
        Target("close_date", Kind.DATE, "Close date", ("closedate",)),
        Target("pipeline_id", Kind.PIPELINE, "Pipeline", ("pipeline",)),
        Target("stage_id", Kind.STAGE, "Deal stage", ("stage", "dealstage")), _owner("Deal owner"),
    ),
    ObjectType.TICKET: (_ID, Target("subject", Kind.TEXT, "Subject", ("Ticket name",)), _owner("Ticket owner")),
}  # fmt: skip
COLUMNS: Mapping[ObjectType, tuple[str, ...]] = {
    t: tuple(x.name for x in targets if x.kind not in (Kind.ID, Kind.OWNER)) for t, targets in TARGETS.items()
}
DEDUPE: Mapping[ObjectType, str] = {ObjectType.CONTACT: "email", ObjectType.COMPANY: "domain"}


def header_key(text: str) -> str:
    """`First name`, `firstName` and `first_name` are one header."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


LIFECYCLE_STAGES = {header_key(s.value): s for s in LifecycleStage}


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(p.title() for p in rest)


@dataclass(frozen=True, slots=True)
class HeaderMap:
    object_type: ObjectType
    columns: tuple[tuple[int, Target], ...]
    ignored: tuple[str, ...]
    width: int = 0  # the header's cells: every row has as many

    # (column index, target name, its parser or None for plain text, label), for the row loop
    parsers: tuple[tuple[int, str, Callable[[str], object] | None, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        parsers = tuple((i, t.name, self._parser(t), t.label) for i, t in self.columns)
        object.__setattr__(self, "parsers", parsers)

    def _parser(self, target: Target) -> Callable[[str], object] | None:
        if target.kind is Kind.ID:  # a global id must be one of this file's object type
            return functools.partial(_record_id, kind=record_kind(self.object_type))
        return PARSERS.get(target.kind)

    def warnings(self) -> tuple[str, ...]:
        kind = self.object_type.value.lower()
        return tuple(f"column {h!r} is not a {kind} property and was ignored" for h in self.ignored)


def map_headers(object_type: ObjectType, headers: Sequence[str]) -> HeaderMap:
    """Seed 003: columns match by standard label or property name, case-insensitively; a column that
    matches nothing, or a property already matched, is ignored with a warning."""
    by_key = {
        header_key(k): t for t in TARGETS[object_type] for k in (t.label, t.name, _camel(t.name), *t.aliases)
    }
    columns: list[tuple[int, Target]] = []
    ignored: list[str] = []
    for index, header in enumerate(headers):
        target = by_key.get(header_key(header))
        if target is None or any(t is target for _, t in columns):
            ignored.append(header)
        else:
            columns.append((index, target))
    return HeaderMap(object_type, tuple(columns), tuple(ignored), len(headers))


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str
    code: RuleCode = RuleCode.INVALID


@dataclass(frozen=True, slots=True)
class Raw:
    """One CSV record and the file line it starts on (line 1 is the header)."""

    line: int
    cells: list[str]
    error: str | None = None


class RecordSplitter:
    """Cuts a CSV file fed in byte chunks of any size into records, holding only what is not yet cut."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._lines: deque[str] = deque()
        self._taken: list[str] = []
        self._carry = ""
        self._line = 0
        self._dry = False
        self._started = False  # blank lines before the header are skipped; after it, each is a row
        self._reader = csv.reader(self)

    def __iter__(self) -> RecordSplitter:
        return self

    def __next__(self) -> str:
        if not self._lines:
            self._dry = True
            raise StopIteration
        line = self._lines.popleft()
        self._taken.append(line)
        return line

    def feed(self, data: bytes, *, final: bool = False) -> Iterator[Raw]:
        """The records complete so far; a record cut by the chunk's end waits for the next chunk."""
        *complete, self._carry = (self._carry + self._decoder.decode(data, final)).split("\n")
        self._lines.extend(line + "\n" for line in complete)
        if final and self._carry:
            self._lines.append(self._carry)
            self._carry = ""
        while self._lines:
            self._taken, self._dry = [], False
            try:
                cells, error = next(self._reader), None
            except csv.Error as exc:
                cells, error = [], str(exc)
            if self._dry and not final:
                self._carry = "".join(self._taken) + self._carry
                return
            first, self._line = self._line + 1, self._line + len(self._taken)
            if self._started or error is not None or any(c.strip() for c in cells):
                self._started = True
                yield Raw(first, cells, error)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    record_id: int | None
    values: dict[str, object]
    owner: str | None = None
    pipeline: str | None = None
    stage: str | None = None

    def keys(self, object_type: ObjectType) -> list[str]:
        """What identifies the record a row writes: its id, and its email or domain."""
        found = [f"id:{self.record_id}"] if self.record_id is not None else []
        dedupe = DEDUPE.get(object_type)
        if dedupe and self.values.get(dedupe):
            found.append(f"{dedupe}:{self.values[dedupe]}")
        return found


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "…"


def _email(text: str) -> str:
    if not EMAIL.match(text):
        raise ValueError(f"{_shown(text)} is not a valid email address")
    return text.lower()


def _domain(text: str) -> str:
    domain = re.sub(r"^https?://|/+$", "", text.lower()).removeprefix("www.")
    if not DOMAIN.match(domain):
        raise ValueError(f"{_shown(text)} is not a valid domain")
    return domain


def _number(text: str) -> Decimal:
    """An amount as numeric(18, 2) stores it: finite, 16 digits before the point, 2 after (DESIGN 3)."""
    number = parse_decimal(text, places=2)
    if number < 0:
        raise ValueError(f"{_shown(text)} is not a non-negative number")
    return number


def _date(text: str) -> datetime:
    return parse_datetime(text)


@functools.lru_cache(maxsize=256)  # a file spells its few stages the same way on every row
def _lifecycle(text: str) -> str:
    stage = LIFECYCLE_STAGES.get(header_key(text))
    if stage is None:
        raise ValueError(f"{text!r} is not a lifecycle stage")
    return stage.value


def _record_id(text: str, kind: str = "") -> int:
    """The record id in either form, the plain number or the record's global id (DESIGN 10)."""
    try:
        return parse_id(text, (), (kind,) if kind else ())
    except BadInput:
        found = decode_global_id(text)
        if found is None:
            raise BadInput(RuleCode.BAD_ID, f"{_shown(text)} is not a record id") from None
        message = f"{_shown(text)} is the id of a {found[0]}, not of a {kind}"
        raise BadInput(RuleCode.BAD_ID, message) from None


PARSERS: Mapping[Kind, Callable[[str], object]] = {
    Kind.EMAIL: _email, Kind.OWNER: _email, Kind.DOMAIN: _domain, Kind.NUMBER: _number, Kind.DATE: _date,
    Kind.LIFECYCLE: _lifecycle, Kind.ID: _record_id,
}  # fmt: skip


def parse_value(target: Target, text: str) -> object:
    """Seed 003: a cell as a typed value; ValueError names what is wrong with it."""
    parse = PARSERS.get(target.kind)
    return text if parse is None else parse(text)


def parse_row(mapping: HeaderMap, raw: Raw) -> Row | RowError:
    """Seed 003: a record as typed values; every bad cell of the row is named in one error."""
    if raw.error is not None:
        return RowError(raw.line, f"the line is not valid CSV: {raw.error}", RuleCode.BAD_ROW)
    cells, count = raw.cells, len(raw.cells)
    if not any(c.strip() for c in cells):
        return RowError(raw.line, "the line is blank", RuleCode.BLANK_ROW)
    if mapping.width and count != mapping.width:
        return RowError(
            raw.line, f"the line has {count} cells where the header has {mapping.width}", RuleCode.BAD_ROW
        )
    parsed: dict[str, object] = {}
    problems: list[tuple[str, RuleCode]] = []
    for index, name, parse, label in mapping.parsers:
        text = cells[index].strip() if index < count else ""
        if not text:
            continue
        try:
            check_text(text, (), NAME_MAX)  # DESIGN 3: every cell that is stored
            parsed[name] = text if parse is None else parse(text)
        except ValueError as exc:
            code = exc.code if isinstance(exc, BadInput) else RuleCode.INVALID
            problems.append((f"{label}: {exc}", code))
    if problems:
        return RowError(raw.line, "; ".join(m for m, _ in problems), problems[0][1])
    record_id = parsed.pop("id", None)
    named = {k: str(parsed.pop(k)) for k in ("owner_id", "pipeline_id", "stage_id") if k in parsed}
    return Row(
        raw.line,
        int(str(record_id)) if record_id is not None else None,
        parsed,
        named.get("owner_id"),
        named.get("pipeline_id"),
        named.get("stage_id"),
    )


def first_occurrences(
    object_type: ObjectType, rows: Sequence[Row], earlier: Mapping[str, int]
) -> tuple[list[Row], list[RowError]]:
    """Seed 003: a row whose record id, email or domain an earlier line of the file already had is a
    duplicate, reported on the later line with the earlier one; `earlier` holds earlier batches' keys."""
    seen = dict(earlier)
    kept: list[Row] = []
    errors: list[RowError] = []
    for row in rows:
        keys = row.keys(object_type)
        clash = next((k for k in keys if seen.get(k, row.line) != row.line), None)
        if clash is None:
            kept.append(row)
            for key in keys:
                seen.setdefault(key, row.line)
        else:
            what, value = clash.split(":", 1)
            errors.append(RowError(row.line, f"duplicate of line {seen[clash]}: {what} {value} appears twice in the file", RuleCode.DUPLICATE))  # fmt: skip
    return kept, errors
