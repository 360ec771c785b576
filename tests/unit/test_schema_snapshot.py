"""The published schema.graphql: equal to the code, broken only on purpose, described for clients."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, find_breaking_changes

from schema import build_schema as build_dealflow_schema
from schema.sdl import coverage, describable, production_sdl

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "schema.graphql"
REGENERATE = "regenerate it with `make schema` (or `python -m schema.sdl > schema.graphql`)"


@pytest.fixture(scope="module")
def code_schema() -> GraphQLSchema:
    return build_dealflow_schema(dev=False)._schema


def committed_sdl() -> str:
    """schema.graphql as HEAD has it; skips the test where git, HEAD or the file there is missing."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: no committed schema.graphql to compare with")
    shown = subprocess.run(
        ["git", "show", "HEAD:schema.graphql"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        pytest.skip(f"no schema.graphql at HEAD to compare with: {shown.stderr.strip()}")
    return shown.stdout


def test_schema_graphql_equals_the_schema_the_code_serves() -> None:
    assert PUBLISHED.read_text() == production_sdl(), f"schema.graphql differs from the code: {REGENERATE}"


def test_a_breaking_change_needs_schema_graphql_updated_in_the_same_commit(
    code_schema: GraphQLSchema,
) -> None:
    committed = committed_sdl()
    breaking = find_breaking_changes(build_schema(committed), code_schema)
    file_updated = PUBLISHED.read_text() != committed
    listed = "\n".join(f"- {change.type.name}: {change.description}" for change in breaking)
    assert file_updated or not breaking, (
        f"The code breaks clients of the committed schema.graphql:\n{listed}\n"
        f"If the break is deliberate, {REGENERATE} in the same commit and announce it in README.md."
    )


def test_find_breaking_changes_reports_a_removed_field() -> None:
    old = build_schema("type Query { deal: String, name: String }")
    new = build_schema("type Query { name: String }")
    assert [change.description for change in find_breaking_changes(old, new)] == [
        "Field Query.deal was removed."
    ]


def test_every_type_field_argument_and_enum_value_is_described(code_schema: GraphQLSchema) -> None:
    percent, missing = coverage(code_schema)
    assert not missing, (
        f"Descriptions cover {percent:.1f}% of the schema; every type, field, argument and enum value"
        " needs one, written for a client developer. Undocumented:\n" + "\n".join(missing)
    )


def test_descriptions_carry_no_internal_design_notes(code_schema: GraphQLSchema) -> None:
    leaks = {
        coordinate: text
        for coordinate, text in describable(code_schema).items()
        if text and ("seed " in text or "DESIGN" in text)
    }
    assert not leaks, f"descriptions for clients mention internal design notes: {leaks}"
