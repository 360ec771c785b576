"""Rows to values: jsonb decoded exactly as json.loads does, records read by position as by name."""

from __future__ import annotations

import json

import asyncpg
import pytest

from db import board as board_store
from db.pipelines import insert_pipeline
from db.records import insert_history, record_from_named_row, record_from_row, select_list
from domain.records import ChangeSource, ObjectType, StageKind

JSON_VALUES = [
    {},
    [],
    {"a": 1, "b": [1, 2.5, None, True, False, "x"], "c": {"z": 1, "a": 2}},
    {"big": 2**64, "bigger": 10**30, "negative": -(2**70), "max": 2**64 - 1, "min": -(2**63)},
    {"float": 0.1 + 0.2, "tiny": 5e-324, "huge": 1.7976931348623157e308, "exp": 1e21, "negzero": -0.0},
    {"text": 'é ü 日本 \u2028 \\ " \t', "emoji": "\U0001f600", "digits": "123456789012345678901234"},
    [{"nested": [[[]]]}, 12345678901234567890, 1.5e-7],
]


@pytest.mark.parametrize("value", JSON_VALUES)
async def test_jsonb_decodes_to_what_json_loads_reads(conn: asyncpg.Connection, value: object) -> None:
    text = await conn.fetchval("SELECT $1::text::jsonb::text", json.dumps(value))
    decoded = await conn.fetchval("SELECT $1::text::jsonb", json.dumps(value))
    expected = json.loads(text)
    assert decoded == expected
    assert json.dumps(decoded) == json.dumps(expected)  # types too: an int stays an int


async def test_a_number_beyond_what_a_float_holds_decodes_exactly(conn: asyncpg.Connection) -> None:
    decoded = await conn.fetchval('SELECT \'{"n": 1e400, "m": 123456789012345678901234567890}\'::jsonb')
    assert decoded == {"n": 10**400, "m": 123456789012345678901234567890}


async def test_records_read_by_position_equal_records_read_by_name(conn: asyncpg.Connection) -> None:
    owner = await conn.fetchval("INSERT INTO users (email, name) VALUES ('o@example.com', 'O') RETURNING id")
    pipeline = await insert_pipeline(conn, "P", [("S", 0.5, StageKind.OPEN)])
    await conn.execute(
        """INSERT INTO contacts (email, first_name, owner_id, properties, lifecycle_stage)
           VALUES ('c@example.com', 'C', $1, '{"x": 1}', 'LEAD')""",
        owner,
    )
    await conn.execute(
        "INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id) VALUES ('D', 12.5, $1, $2, $3)",
        pipeline.id,
        pipeline.stages[0].id,
        owner,
    )
    for object_type, table in ((ObjectType.CONTACT, "contacts"), (ObjectType.DEAL, "deals")):
        row = await conn.fetchrow(f"SELECT {select_list(object_type)} FROM {table} r")
        assert row is not None
        assert record_from_row(object_type, row) == record_from_named_row(object_type, row)
    firsts = await board_store.first_deals(conn, pipeline.id, 5, where="TRUE", args=[])
    (deal,) = firsts[pipeline.stages[0].id]
    row = await conn.fetchrow(f"SELECT {select_list(ObjectType.DEAL)} FROM deals r")
    assert row is not None
    assert deal == record_from_named_row(ObjectType.DEAL, row)


async def test_history_rows_are_stored_one_change_per_record_and_read_back_row_by_row_in_order(
    conn: asyncpg.Connection,
) -> None:
    """db.records.insert_history: each run of a record's rows is one change (a name met twice starts
    another); property_history gives every row back, in order, with its old and new values."""
    rows = [
        (1, "firstName", None, "Ada"), (1, "lastName", "L", None), (2, "email", "x@example.com", "é \" ü"),
        (1, "ownerId", None, "5"), (1, "ownerId", "5", "6"),
    ]  # fmt: skip
    await insert_history(conn, ObjectType.CONTACT, rows, source=ChangeSource.IMPORT, changed_by=None)
    assert await conn.fetchval("SELECT count(*) FROM record_changes") == 4
    stored = await conn.fetch(
        "SELECT object_id, name, old_value, new_value FROM property_history ORDER BY id, position"
    )
    assert [tuple(r) for r in stored] == rows
