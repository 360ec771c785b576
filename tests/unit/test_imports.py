"""Import parsing and matching without a database: headers, the splitter, typed cells, duplicates, plans."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.codes import RuleCode
from domain.import_plan import Found, plan
from domain.imports import Raw, RecordSplitter, Row, RowError, first_occurrences, map_headers, parse_row
from domain.lifecycle import LifecycleSettings, LifecycleStage
from domain.records import ObjectType, Pipeline, Record, Scope, Stage, StageKind, User, Viewer

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def user(id: int = 1, email: str = "me@example.com", active: bool = True, scope: Scope = Scope.ALL) -> User:
    return User(id, email, "User", active, False, False, scope, scope, NOW)


def record(
    id: int, object_type: ObjectType = ObjectType.CONTACT, owner_id: int | None = None, **values: object
) -> Record:
    return Record(object_type, id, dict(values), owner_id, {}, NOW, NOW, None, None, 1)


def rows(object_type: ObjectType, text: str) -> list[Row | RowError]:
    splitter = RecordSplitter()
    header, *records = splitter.feed(text.encode(), final=True)
    mapping = map_headers(object_type, header.cells)
    return [parse_row(mapping, r) for r in records]


def one(object_type: ObjectType, header: str, cells: str) -> Row | RowError:
    return rows(object_type, f"{header}\n{cells}\n")[0]


ME = Viewer(user(1))


@pytest.mark.parametrize(
    ("object_type", "header", "column"),
    [
        (ObjectType.CONTACT, "Email", "email"),
        (ObjectType.CONTACT, "email", "email"),
        (ObjectType.CONTACT, "First name", "first_name"),
        (ObjectType.CONTACT, "firstName", "first_name"),
        (ObjectType.CONTACT, "FIRST_NAME", "first_name"),
        (ObjectType.CONTACT, "Contact owner", "owner_id"),
        (ObjectType.CONTACT, "ownerId", "owner_id"),
        (ObjectType.CONTACT, "Record ID", "id"),
        (ObjectType.CONTACT, "Company name", "company_name"),
        (ObjectType.COMPANY, "Company name", "name"),
        (ObjectType.COMPANY, "Company domain name", "domain"),
        (ObjectType.COMPANY, "Company owner", "owner_id"),
        (ObjectType.DEAL, "Deal owner", "owner_id"),
        (ObjectType.DEAL, "Deal stage", "stage_id"),
        (ObjectType.DEAL, "pipelineId", "pipeline_id"),
        (ObjectType.TICKET, "Ticket name", "subject"),
        (ObjectType.TICKET, "Ticket owner", "owner_id"),
    ],
)
def test_headers_map_by_standard_label_or_property_name_case_insensitively(
    object_type: ObjectType, header: str, column: str
) -> None:
    mapping = map_headers(object_type, ["x", header])
    assert [(i, t.name) for i, t in mapping.columns] == [(1, column)]


def test_unknown_and_repeated_headers_are_ignored_with_a_warning() -> None:
    mapping = map_headers(ObjectType.CONTACT, ["Email", "Favourite colour", "email", "Deal owner"])
    assert [t.name for _, t in mapping.columns] == ["email"]
    assert mapping.warnings() == (
        "column 'Favourite colour' is not a contact property and was ignored",
        "column 'email' is not a contact property and was ignored",
        "column 'Deal owner' is not a contact property and was ignored",
    )


TEXT = 'Email,Note\r\na@x.com,"two\nlines"\r\n\r\n,\nb@x.com,"say ""hi"""\n"c@x.com",last'


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 1000])
def test_a_file_fed_in_chunks_of_any_size_is_cut_into_the_same_records(size: int) -> None:
    data = ("\ufeff" + TEXT).encode()
    splitter = RecordSplitter()
    found = [r for i in range(0, len(data), size) for r in splitter.feed(data[i : i + size])]
    found += splitter.feed(b"", final=True)
    assert found == [
        Raw(1, ["Email", "Note"]),
        Raw(2, ["a@x.com", "two\nlines"]),
        Raw(4, []),  # blank lines after the header are records too: parse_row reports them
        Raw(5, ["", ""]),
        Raw(6, ["b@x.com", 'say "hi"']),
        Raw(7, ["c@x.com", "last"]),
    ]


def test_a_character_cut_by_a_chunk_boundary_is_kept_whole() -> None:
    data = "Name\nZoë\n".encode()
    splitter = RecordSplitter()
    cut = data.index("ë".encode()) + 1
    found = [*splitter.feed(data[:cut]), *splitter.feed(data[cut:]), *splitter.feed(b"", final=True)]
    assert [r.cells for r in found] == [["Name"], ["Zoë"]]


def test_cells_become_typed_values() -> None:
    deal = one(
        ObjectType.DEAL,
        "Deal name,Amount,Close date,Pipeline,Deal stage",
        " Big ,1200.50,2026-03-01,Sales,Won",
    )
    assert deal == Row(
        2, None, {"name": "Big", "amount": Decimal("1200.50"), "close_date": datetime(2026, 3, 1, tzinfo=UTC)},
        None, "Sales", "Won",
    )  # fmt: skip
    contact = one(
        ObjectType.CONTACT,
        "Record ID,Email,Lifecycle stage,Contact owner",
        "7,Ada@X.com,marketing qualified lead,O@X.com",
    )
    assert contact == Row(
        2, 7, {"email": "ada@x.com", "lifecycle_stage": "MARKETING_QUALIFIED_LEAD"}, "o@x.com"
    )
    company = one(ObjectType.COMPANY, "Domain", "https://www.Acme.com/")
    assert isinstance(company, Row) and company.values == {"domain": "acme.com"}


INVALID, BAD_ID, BAD_DECIMAL, BAD_DATE = (
    RuleCode.INVALID,
    RuleCode.BAD_ID,
    RuleCode.BAD_DECIMAL,
    RuleCode.BAD_DATE,
)


@pytest.mark.parametrize(
    ("object_type", "header", "cell", "message", "code"),
    [
        (ObjectType.CONTACT, "Email", "not an email", "Email: 'not an email' is not a valid email address", INVALID),
        (ObjectType.CONTACT, "Contact owner", "bob", "Contact owner: 'bob' is not a valid email address", INVALID),
        (ObjectType.CONTACT, "Lifecycle stage", "Prospect", "Lifecycle stage: 'Prospect' is not a lifecycle stage", INVALID),
        (ObjectType.CONTACT, "Record ID", "12a", "Record ID: '12a' is not a record id", BAD_ID),
        (ObjectType.CONTACT, "Record ID", "12345678901234567890", "Record ID: '12345678901234567890' is not a record id", BAD_ID),
        (ObjectType.COMPANY, "Domain", "acme", "Company domain name: 'acme' is not a valid domain", INVALID),
        (ObjectType.DEAL, "Amount", "12abc", "Amount: '12abc' is not a number", BAD_DECIMAL),
        (ObjectType.DEAL, "Amount", "-5", "Amount: '-5' is not a non-negative number", INVALID),
        (ObjectType.DEAL, "Amount", "NaN", "Amount: 'NaN' is not a finite number", BAD_DECIMAL),
        (ObjectType.DEAL, "Amount", "1e30", "Amount: '1e30' has more than 16 digits before the point", BAD_DECIMAL),
        (ObjectType.DEAL, "Amount", "0.001", "Amount: '0.001' has more than 2 decimal places", BAD_DECIMAL),
        (ObjectType.DEAL, "Close date", "31/02/2026", "Close date: '31/02/2026' is not a date (YYYY-MM-DD, or ISO 8601 with a time)", BAD_DATE),
        (ObjectType.DEAL, "Close date", "0001-01-01T00:00:00+14:00", "Close date: 0001-01-01T00:00:00+14:00 is out of range", BAD_DATE),
        (ObjectType.CONTACT, "First name", "a\x00b", "First name: the value holds a NUL character or an unpaired surrogate", RuleCode.BAD_TEXT),
        (ObjectType.CONTACT, "First name", "n" * 1001, "First name: the value is longer than 1,000 characters", RuleCode.TOO_LONG),
    ],
)  # fmt: skip
def test_a_bad_cell_is_reported_with_the_line_the_column_the_value_and_its_code(
    object_type: ObjectType, header: str, cell: str, message: str, code: RuleCode
) -> None:
    assert one(object_type, f"Name,{header}", f"x,{cell}") == RowError(2, message, code)


def test_rows_with_extra_or_missing_cells_and_blank_rows_are_reported_with_their_line() -> None:
    found = rows(
        ObjectType.CONTACT, "Email,First name\na@x.com,A\nb@x.com,B,extra\nc@x.com\n\n,\nd@x.com,D\n"
    )
    assert found[0] == Row(2, None, {"email": "a@x.com", "first_name": "A"})
    assert found[1:5] == [
        RowError(3, "the line has 3 cells where the header has 2", RuleCode.BAD_ROW),
        RowError(4, "the line has 1 cells where the header has 2", RuleCode.BAD_ROW),
        RowError(5, "the line is blank", RuleCode.BLANK_ROW),
        RowError(6, "the line is blank", RuleCode.BLANK_ROW),
    ]
    assert found[5] == Row(7, None, {"email": "d@x.com", "first_name": "D"})


def test_an_email_the_importer_cannot_see_is_not_found_never_forbidden() -> None:
    found = Found(
        [record(11, owner_id=9, email="hidden@x.com"), record(12, owner_id=1, email="mine@x.com")], {}
    )
    owned = Viewer(user(1, scope=Scope.OWNED))
    writes, errors = plan(ObjectType.CONTACT, contacts("Email,First name\nhidden@x.com,A\n"), found, owned)
    assert (writes, errors) == ([], [RowError(2, "Email: no contact hidden@x.com", RuleCode.NOT_FOUND)])
    moved = plan(ObjectType.CONTACT, contacts("Record ID,Email\n12,hidden@x.com\n"), found, owned)[1]
    assert moved == [RowError(2, "Email: hidden@x.com belongs to another contact", RuleCode.DUPLICATE)]
    assert "11" not in str(moved)


def test_every_bad_cell_of_a_row_is_named_in_its_one_error() -> None:
    found = one(ObjectType.DEAL, "Amount,Close date", "x,y")
    assert isinstance(found, RowError) and found.message.count(";") == 1


def test_a_repeated_email_is_a_duplicate_on_the_later_line_naming_the_earlier_one() -> None:
    parsed = rows(ObjectType.CONTACT, "Email,First name\na@x.com,A\nb@x.com,B\nA@X.com,C\n")
    kept, errors = first_occurrences(ObjectType.CONTACT, [r for r in parsed if isinstance(r, Row)], {})
    assert [r.line for r in kept] == [2, 3]
    assert errors == [
        RowError(4, "duplicate of line 2: email a@x.com appears twice in the file", RuleCode.DUPLICATE)
    ]


def test_a_key_an_earlier_batch_had_makes_a_duplicate() -> None:
    parsed = [r for r in rows(ObjectType.DEAL, "Record ID,Deal name\n5,A\n") if isinstance(r, Row)]
    assert first_occurrences(ObjectType.DEAL, parsed, {"id:5": 1})[1][0].message.startswith(
        "duplicate of line 1"
    )


def contacts(text: str) -> list[Row]:
    return [r for r in rows(ObjectType.CONTACT, text) if isinstance(r, Row)]


def test_a_row_updates_by_record_id_else_by_email_else_creates() -> None:
    found = Found([record(5, email="a@x.com"), record(6, email="b@x.com", first_name="Bee")], {})
    writes, errors = plan(
        ObjectType.CONTACT, contacts("Record ID,Email,First name\n5,,A\n,B@x.com,\n,c@x.com,C\n"), found, ME
    )
    assert errors == []
    assert [(w.before.id if w.before else None, w.values["first_name"]) for w in writes] == [
        (5, "A"),
        (6, "Bee"),
        (None, "C"),
    ]
    assert writes[0].values["email"] == "a@x.com" and not writes[1].changed  # blank cells change nothing


def test_owners_are_active_users_named_by_email() -> None:
    owners = {"o@x.com": user(2, "o@x.com"), "gone@x.com": user(3, "gone@x.com", active=False)}
    writes, errors = plan(
        ObjectType.CONTACT,
        contacts("Email,Contact owner\na@x.com,o@x.com\nb@x.com,gone@x.com\nc@x.com,who@x.com\n"),
        Found([], owners),
        ME,
    )
    assert [w.owner_id for w in writes] == [2]
    assert [(e.line, e.code) for e in errors] == [(3, RuleCode.INACTIVE_USER), (4, RuleCode.NOT_FOUND)]
    assert errors[1].message == "Contact owner: no user with email who@x.com"


def test_a_record_id_outside_the_importers_scope_is_not_found() -> None:
    found = Found([record(5, owner_id=9)], {})
    owned = Viewer(user(1, scope=Scope.OWNED))
    assert plan(ObjectType.CONTACT, contacts("Record ID,First name\n5,A\n6,B\n"), found, owned)[1] == [
        RowError(2, "Record ID: no contact 5", RuleCode.NOT_FOUND),
        RowError(3, "Record ID: no contact 6", RuleCode.NOT_FOUND),
    ]


def test_two_rows_that_reach_one_record_are_a_duplicate() -> None:
    found = Found([record(5, email="a@x.com")], {})
    errors = plan(ObjectType.CONTACT, contacts("Record ID,Email\n5,\n,a@x.com\n"), found, ME)[1]
    assert errors == [RowError(3, "duplicate of line 2: both rows write contact 5", RuleCode.DUPLICATE)]


def test_an_import_does_not_move_a_lifecycle_stage_back() -> None:
    found = Found([record(5, email="a@x.com", lifecycle_stage="CUSTOMER")], {})
    errors = plan(ObjectType.CONTACT, contacts("Email,Lifecycle stage\na@x.com,lead\n"), found, ME)[1]
    assert [e.code for e in errors] == [RuleCode.LIFECYCLE_BACKWARDS]


@pytest.mark.parametrize(("setting", "stage"), [(None, None), (LifecycleStage.LEAD, "LEAD")])
def test_an_imported_contact_takes_the_creation_default_only_when_the_setting_is_on(
    setting: LifecycleStage | None, stage: str | None
) -> None:
    found = Found([], {}, settings=LifecycleSettings(default_stage_on_create=setting))
    assert (
        plan(ObjectType.CONTACT, contacts("Email\na@x.com\n"), found, ME)[0][0].values["lifecycle_stage"]
        == stage
    )


SALES = Pipeline(1, "Sales pipeline", (
    Stage(10, 1, "Qualified", 0, 0.2, StageKind.OPEN, False), Stage(11, 1, "Closed won", 1, 1.0, StageKind.CLOSED_WON, False),
))  # fmt: skip


def deals(text: str) -> tuple[list[tuple[int | None, dict[str, object]]], list[str]]:
    parsed = [r for r in rows(ObjectType.DEAL, text) if isinstance(r, Row)]
    found = Found([record(7, ObjectType.DEAL, name="Old", pipeline_id=1, stage_id=10)], {}, pipelines=[SALES])
    writes, errors = plan(ObjectType.DEAL, parsed, found, ME)
    return [(w.before.id if w.before else None, w.values) for w in writes], [e.message for e in errors]


def test_deals_need_a_pipeline_and_a_stage_named_by_label_or_id() -> None:
    writes, errors = deals(
        "Record ID,Deal name,Pipeline,Deal stage\n,A,sales pipeline,closed WON\n,B,1,10\n7,,,11\n,C,,\n,D,Other,x\n,E,1,Lost\n"
    )
    assert [(i, v["name"], v["stage_id"]) for i, v in writes] == [
        (None, "A", 11),
        (None, "B", 10),
        (7, "Old", 11),
    ]
    assert errors == [
        "a new deal needs a Pipeline and a Deal stage",
        "Pipeline: no pipeline 'Other'",
        "Deal stage: no stage 'Lost' in pipeline 'Sales pipeline'",
    ]


def test_a_new_deal_needs_a_name() -> None:
    assert deals("Pipeline,Deal stage\n1,10\n")[1] == ["Deal name: name must not be empty"]
