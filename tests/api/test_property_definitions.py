"""Custom properties defined per object type; values checked on every write path (DESIGN 3; seeds 003, 004)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_records import CREATE_CONTACT, UPDATE_CONTACT
from tests.api.test_workflows import CREATE_WORKFLOW
from tests.harness import Client, Harness

DEFINE = """mutation($i: CreatePropertyDefinitionInput!) { createPropertyDefinition(input: $i) {
  propertyDefinition { id name label type options objectType } userErrors { field code message } } }"""
DEFINITIONS = "query($t: ObjectType!) { propertyDefinitions(objectType: $t) { name type options } }"
PROPS = "query($id: ID!) { contact(id: $id) { properties } }"


async def define(admin: Client, name: str, type: str, **extra: Any) -> dict[str, Any]:
    made = await admin(
        DEFINE, {"i": {"objectType": "CONTACT", "name": name, "label": name.title(), "type": type, **extra}}
    )
    result: dict[str, Any] = made["createPropertyDefinition"]
    return result


async def test_super_admins_define_properties_and_everyone_lists_them(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    assert (await define(admin, "tier", "ENUMERATION", options=["gold", "silver"]))["userErrors"] == []
    assert (await define(admin, "co_owner", "USER"))["userErrors"] == []
    listed = (await rep(DEFINITIONS, {"t": "CONTACT"}))["propertyDefinitions"]
    assert listed == [{"name": "co_owner", "type": "USER", "options": []},
                      {"name": "tier", "type": "ENUMERATION", "options": ["gold", "silver"]}]  # fmt: skip
    refused = await rep.raw(
        DEFINE, {"i": {"objectType": "CONTACT", "name": "x", "label": "X", "type": "STRING"}}
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("name", "type", "extra", "field"),
    [
        ("Bad Name", "STRING", {}, "name"),
        ("tier", "ENUMERATION", {}, "options"),
        ("tier", "ENUMERATION", {"options": ["a", "a"]}, "options"),
        ("score", "NUMBER", {"options": ["1"]}, "options"),
    ],
)
async def test_a_definition_that_cannot_hold_is_refused(
    app: Harness, name: str, type: str, extra: dict[str, Any], field: str
) -> None:
    admin = await app.user(super_admin=True)
    made = await define(admin, name, type, **extra)
    assert made["propertyDefinition"] is None
    assert [(e["field"], e["code"]) for e in made["userErrors"]] == [([field], "INVALID")]


async def test_a_name_is_defined_once_per_object_type(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    first = await define(admin, "tier", "STRING")
    again = await define(admin, "tier", "NUMBER")
    assert [(e["code"]) for e in again["userErrors"]] == ["DUPLICATE"]
    other_type = await admin(
        DEFINE, {"i": {"objectType": "DEAL", "name": "tier", "label": "Tier", "type": "STRING"}}
    )
    assert other_type["createPropertyDefinition"]["userErrors"] == []
    assert first["propertyDefinition"]["name"] == "tier"


VALUES = [
    ("NUMBER", {}, 12.5, "twelve"),
    ("DATE", {}, "2026-05-31", "31/05/2026"),
    ("BOOLEAN", {}, True, "yes"),
    ("ENUMERATION", {"options": ["gold", "silver"]}, "gold", "bronze"),
    ("STRING", {}, "anything", 42),
]


@pytest.mark.parametrize(("type", "extra", "good", "bad"), VALUES)
async def test_values_are_checked_against_their_definition_on_create_and_update(
    app: Harness, type: str, extra: dict[str, Any], good: Any, bad: Any
) -> None:
    admin = await app.user(super_admin=True)
    await define(admin, "prop", type, **extra)
    refused = await admin(CREATE_CONTACT, {"input": {"email": "a@example.com", "properties": {"prop": bad}}})
    assert [(e["field"], e["code"]) for e in refused["createContact"]["userErrors"]] == [
        (["properties", "prop"], "INVALID")
    ]
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 0
    made = await admin(CREATE_CONTACT, {"input": {"email": "a@example.com", "properties": {"prop": good}}})
    contact_id = made["createContact"]["contact"]["id"]
    changed = await admin(UPDATE_CONTACT, {"input": {"id": contact_id, "properties": {"prop": bad}}})
    assert [e["code"] for e in changed["updateContact"]["userErrors"]] == ["INVALID"]
    assert (await admin(PROPS, {"id": contact_id}))["contact"]["properties"] == {"prop": good}


async def test_a_user_property_holds_an_active_users_id_as_another_owner(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    await define(admin, "co_owner", "USER")
    for bad in ("999999", "abc"):
        refused = await admin(
            CREATE_CONTACT, {"input": {"email": "b@example.com", "properties": {"co_owner": bad}}}
        )
        assert [e["code"] for e in refused["createContact"]["userErrors"]] == ["INVALID"], bad
    made = await admin(
        CREATE_CONTACT, {"input": {"email": "b@example.com", "properties": {"co_owner": str(rep.user_id)}}}
    )
    assert made["createContact"]["userErrors"] == []


async def test_a_workflow_setting_a_defined_property_is_checked_like_any_writer(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await define(admin, "tier", "ENUMERATION", options=["gold"])
    made = await admin(CREATE_WORKFLOW, {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED"},
        "actions": [{"type": "SET_PROPERTY", "property": "properties.tier", "value": "bronze"}]}})  # fmt: skip
    assert made["createWorkflow"]["userErrors"] == []
    created = await admin(CREATE_CONTACT, {"input": {"email": "c@example.com"}})
    assert (await admin(PROPS, {"id": created["createContact"]["contact"]["id"]}))["contact"][
        "properties"
    ] == {}
    runs = await admin("{ workflows { runs { edges { node { outcomes { ok code } } } } } }")
    assert runs["workflows"][0]["runs"]["edges"][0]["node"]["outcomes"] == [{"ok": False, "code": "INVALID"}]
