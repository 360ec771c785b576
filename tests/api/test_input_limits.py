"""DESIGN 3, limits on input: text, ids, amounts, dates, cursors and properties, refused with a code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.limits import FREE_TEXT_MAX, NAME_MAX, text_limit
from tests.harness import Client, Harness, WsClient, db_id

from .mutation_inputs import Leaf, document, fingerprint, leaves, mutations, with_value

TEXT_LEAVES = [
    leaf
    for m in mutations()
    for leaf in leaves(m)
    if leaf.scalar == "String" and text_limit(str(leaf.path[-1])) is not None
]


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def never_masked(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    assert "Unexpected error" not in text, text[:500]
    assert "invalid literal" not in text, text[:500]


async def send(client: Client, leaf: Leaf, value: object) -> dict[str, Any]:
    return await client.raw(document(leaf.mutation), {"input": with_value(leaf.mutation, leaf.path, value)})


def test_every_mutation_has_its_text_inputs_in_the_limit_table() -> None:
    named = {leaf.mutation for leaf in TEXT_LEAVES}
    assert {"createContact", "createEngagement", "createQuote", "createWorkflow", "rejectDeal"} <= named
    assert len(TEXT_LEAVES) > 40


async def test_text_over_its_limit_is_refused_on_every_mutation_with_too_long_and_nothing_stored(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True, approver=True)
    before = await fingerprint(app.pool)
    for leaf in TEXT_LEAVES:
        limit = text_limit(str(leaf.path[-1]))
        assert limit is not None
        body = await send(admin, leaf, "y" * (limit + 1))
        assert codes(body) == ["TOO_LONG"], (leaf, body)
        assert ".".join(str(p) for p in leaf.path if isinstance(p, str)) in body["errors"][0]["message"]
        never_masked(body)
    assert await fingerprint(app.pool) == before


async def test_nul_characters_are_refused_on_every_mutation_with_bad_text_and_nothing_stored(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True, approver=True)
    before = await fingerprint(app.pool)
    for leaf in TEXT_LEAVES:
        body = await send(admin, leaf, "a\x00b")
        assert codes(body) == ["BAD_TEXT"], (leaf, body)
        never_masked(body)
    assert await fingerprint(app.pool) == before


async def test_names_take_1000_characters_and_free_text_65536(app: Harness) -> None:
    client = await app.user()
    created = await client(
        "mutation($n: String!) { createTicket(input: {subject: $n}) { ticket { id subject } } }",
        {"n": "s" * NAME_MAX},
    )
    assert len(created["createTicket"]["ticket"]["subject"]) == NAME_MAX
    ticket = created["createTicket"]["ticket"]["id"]
    logged = await client(
        """mutation($b: String!, $id: ID!) { createEngagement(input: {type: NOTE, body: $b,
             recordIds: [{objectType: TICKET, id: $id}]}) { engagement { body } userErrors { code } } }""",
        {"b": "b" * FREE_TEXT_MAX, "id": ticket},
    )
    assert len(logged["createEngagement"]["engagement"]["body"]) == FREE_TEXT_MAX


async def test_a_million_character_first_name_is_refused_and_not_stored(app: Harness) -> None:
    client = await app.user()
    body = await client.raw(
        "mutation($n: String!) { createContact(input: {firstName: $n}) { contact { id } } }",
        {"n": "n" * 1_000_000},
    )
    assert codes(body) == ["TOO_LONG"]
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 0


async def test_custom_properties_over_100_keys_or_64_kb_are_refused_with_too_large(app: Harness) -> None:
    client = await app.user()
    create = "mutation($p: JSON) { createContact(input: {properties: $p}) { contact { id } } }"
    for properties in (
        {f"k{i}": i for i in range(101)},
        {"notes": "x" * 70_000},
        {"deep": json.loads("[" * 40 + "]" * 40)},
    ):
        body = await client.raw(create, {"p": properties})
        assert codes(body) == ["TOO_LARGE"], body
    assert codes(await client.raw(create, {"p": {"a": "b\x00"}})) == ["BAD_TEXT"]
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 0
    ok = await client(create, {"p": {f"k{i}": i for i in range(100)}})
    contact = ok["createContact"]["contact"]["id"]
    body = await client.raw(
        "mutation($id: ID!) { updateContact(input: {id: $id, properties: {extra: 1}}) { contact { id } } }",
        {"id": contact},
    )
    assert codes(body) == ["TOO_LARGE"], body  # 101 keys once merged
    stored = await app.pool.fetchval("SELECT properties FROM contacts WHERE id = $1", db_id(contact))
    assert "extra" not in stored


@pytest.mark.parametrize("bad", ["abc", "9223372036854775808", "99999999999999999999999", "-1", "0", "1e3"])
async def test_ids_that_are_not_ids_answer_bad_id_on_reads_and_mutations(app: Harness, bad: str) -> None:
    client = await app.user()
    for query in (
        "query($id: ID!) { contact(id: $id) { id } }",
        "mutation($id: ID!) { deleteRecord(input: {objectType: CONTACT, id: $id}) { ok } }",
        "mutation($id: ID!) { createEngagement(input: {type: CALL, recordIds: [{objectType: DEAL, id: $id}]}) { engagement { id } } }",
        'mutation($id: ID!) { updateDeal(input: {id: $id, name: "n"}) { deal { id } } }',
    ):
        body = await client.raw(query, {"id": bad})
        assert codes(body) == ["BAD_ID"], (query, body)
        never_masked(body)


async def test_an_id_within_int64_that_does_not_exist_reads_as_not_found(app: Harness) -> None:
    client = await app.user()
    assert (await client('{ contact(id: "9223372036854775807") { id } }'))["contact"] is None


@pytest.mark.parametrize(
    "amount", ["NaN", "sNaN", "Infinity", "-Infinity", "1e30", "12345678901234567.00", "0.001", "abc", ""]
)
async def test_amounts_that_are_not_finite_decimals_within_18_digits_answer_bad_decimal(
    app: Harness, amount: str
) -> None:
    client = await app.user()
    body = await client.raw(
        'mutation($a: Decimal) { createDeal(input: {name: "d", pipelineId: "1", stageId: "1", amount: $a}) { deal { id } } }',
        {"a": amount},
    )
    assert codes(body) == ["BAD_DECIMAL"], body
    never_masked(body)
    assert await app.pool.fetchval("SELECT count(*) FROM deals") == 0


async def test_an_amount_with_two_decimal_places_is_stored_exactly(app: Harness) -> None:
    client = await app.user()
    data = await client(
        'mutation { createDeal(input: {name: "d", pipelineId: "1", stageId: "1", amount: "9999999999999999.99"}) { deal { amount } } }'
    )
    assert data["createDeal"]["deal"]["amount"] == "9999999999999999.99"


@pytest.mark.parametrize(
    "date", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", "yesterday", "2030-02-30"]
)
async def test_dates_out_of_range_or_unreadable_answer_bad_date(app: Harness, date: str) -> None:
    client = await app.user()
    body = await client.raw(
        'mutation($d: DateTime) { createDeal(input: {name: "d", pipelineId: "1", stageId: "1", closeDate: $d}) { deal { id } } }',
        {"d": date},
    )
    assert codes(body) == ["BAD_DATE"], body
    never_masked(body)
    assert await app.pool.fetchval("SELECT count(*) FROM deals") == 0


async def test_update_deal_with_a_null_stage_is_refused_with_a_code_not_masked(app: Harness) -> None:
    client = await app.user()
    deal = await client(
        'mutation { createDeal(input: {name: "d", pipelineId: "1", stageId: "1"}) { deal { id version } } }'
    )
    deal_id = deal["createDeal"]["deal"]["id"]
    body = await client.raw(
        "mutation($id: ID!) { updateDeal(input: {id: $id, stageId: null}) { deal { id } userErrors { code field } } }",
        {"id": deal_id},
    )
    never_masked(body)
    errors = body.get("errors") or []
    user_errors = (body.get("data") or {}).get("updateDeal", {}) or {}
    found = codes(body) + [e["code"] for e in user_errors.get("userErrors", [])]
    assert found == ["INVALID"], (errors, user_errors)
    assert await app.pool.fetchval("SELECT version FROM deals WHERE id = $1", db_id(deal_id)) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "!!!!",
        "WyJhYmMiXQ==",
        "W251bGwsICIyIl0=",
        "eyJhIjogMX0=",
        "WyJ4IiwgIjEwMDAwMDAwMDAwMDAwMDAwMDAwMCJd",
        "WyJ4IiwgOTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ==",
    ],
)
async def test_malformed_cursors_answer_bad_cursor(app: Harness, cursor: str) -> None:
    client = await app.user()
    for query in (
        "query($c: String) { contacts(after: $c) { edges { cursor } } }",
        'query($c: String) { deals(after: $c, sort: {property: "amount"}) { edges { cursor } } }',
        "query($c: String) { tasks(after: $c) { edges { cursor } } }",
        "query($c: String) { notifications(after: $c) { edges { cursor } } }",
    ):
        body = await client.raw(query, {"c": cursor})
        assert codes(body) == ["BAD_CURSOR"], (query, cursor, body)
        never_masked(body)


async def test_json_variables_nested_975_deep_get_a_clean_graphql_error(app: Harness) -> None:
    client = await app.user()
    deep = "[" * 975 + "]" * 975
    content = (
        '{"query": "mutation($p: JSON) { createContact(input: {properties: $p}) { contact { id } } }", "variables": {"p": '
        + deep
        + "}}"
    )
    response = await app.http.post(
        "/graphql",
        content=content.encode(),
        headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert codes(body) == ["BAD_JSON"]
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 0


async def subscription_errors(ws: WsClient) -> list[dict[str, Any]]:
    """The errors a subscription ends with (an `error` message, or `next` with errors then `complete`)."""
    while True:
        message = await ws.receive()
        never_masked(message)
        if message["type"] == "complete":
            continue
        payload = message["payload"]
        errors: list[dict[str, Any]] = payload if isinstance(payload, list) else payload.get("errors")
        if message["type"] == "next":
            assert (await ws.receive())["type"] == "complete"
        return errors


async def test_a_subscription_after_that_is_not_an_event_sequence_answers_bad_cursor(app: Harness) -> None:
    client = await app.user()
    query = "subscription($a: String) { recordChanged(objectType: CONTACT, after: $a) { sequence } }"
    async with app.ws(client) as ws:
        for bad in ("99999999999999999999", "abc", "-1"):
            await ws.subscribe(query, {"a": bad})
            assert [e["extensions"]["code"] for e in await subscription_errors(ws)] == ["BAD_CURSOR"]


async def test_an_id_beyond_int64_in_a_subscription_answers_bad_id(app: Harness) -> None:
    client = await app.user()
    async with app.ws(client) as ws:
        await ws.subscribe(
            "subscription($p: ID!) { boardChanged(pipelineId: $p) { sequence } }",
            {"p": "99999999999999999999"},
        )
        assert [e["extensions"]["code"] for e in await subscription_errors(ws)] == ["BAD_ID"]
