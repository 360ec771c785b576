"""The board, visibility scopes everywhere, filters on lists and the live boardChanged stream."""

from __future__ import annotations

from typing import Any

import asyncpg

from db import events as event_store
from domain.records import Scope
from tests.api.test_records import CREATE_CONTACT, MOVE_DEAL, make_deal, pipeline
from tests.harness import Client, Harness, db_id

BOARD = """
query($p: ID!, $n: Int, $f: [FilterGroup!]) {
  board(pipelineId: $p, perStage: $n, filterGroups: $f) {
    columns { stage { label } totalCount totalAmount
      deals { totalCount pageInfo { hasNextPage endCursor } edges { node { id name owner { email } contacts { email } } } } }
  }
}"""


async def seed_deals(
    pool: asyncpg.Pool, pipeline_id: int, owner_id: int, per_stage: int, contact_id: int
) -> None:
    await pool.execute(
        """
        WITH d AS (
          INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id)
          SELECT 'Deal ' || s.id || '-' || g, 100, s.pipeline_id, s.id, $2
            FROM stages s, generate_series(1, $3) g WHERE s.pipeline_id = $1
          RETURNING id)
        INSERT INTO deal_contacts (deal_id, contact_id) SELECT id, $4 FROM d
        """,
        pipeline_id,
        owner_id,
        per_stage,
        contact_id,
    )


BACKGROUND = (
    "email_outbox", "FROM events", "event_head", "stamp_and_read(", "stamp_events()",  # the mailer, the relay
    "webhooks", "UPDATE imports",  # the webhook sender's and the import runner's claims and polls
    "typeinfo_tree", "set_config('jit'", "current_setting('jit')",  # asyncpg learning a connection's types
)  # fmt: skip


async def new_pipeline(admin: Client, stages: int) -> int:
    created = await admin(
        'mutation($s: [StageInput!]!) { createPipeline(input: {label: "P", stages: $s}) { pipeline { id } } }',
        {"s": [{"label": f"S{i}", "probability": 0.1} for i in range(stages)]},
    )
    return db_id(created["createPipeline"]["pipeline"]["id"])


async def test_board_gives_each_stage_its_totals_and_first_deals(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    contact = (await admin(CREATE_CONTACT, {"input": {"email": "b@example.com"}}))["createContact"]["contact"]
    pid = await new_pipeline(admin, 3)
    assert admin.user_id is not None
    await seed_deals(app.pool, pid, admin.user_id, 4, db_id(contact["id"]))
    board = (await admin(BOARD, {"p": str(pid), "n": 3}))["board"]
    assert [c["stage"]["label"] for c in board["columns"]] == ["S0", "S1", "S2"]
    for column in board["columns"]:
        assert (column["totalCount"], column["totalAmount"]) == (4, "400.00")
        assert len(column["deals"]["edges"]) == 3
        assert column["deals"]["pageInfo"]["hasNextPage"] is True
        assert column["deals"]["edges"][0]["node"]["contacts"] == [{"email": "b@example.com"}]


async def test_board_runs_a_fixed_number_of_queries_whatever_the_stage_count(
    query_log: list[str], app: Harness
) -> None:
    admin = await app.user(super_admin=True)
    contact = (await admin(CREATE_CONTACT, {"input": {"email": "q@example.com"}}))["createContact"]["contact"]
    assert admin.user_id is not None
    counted = []
    for stages in (1, 2, 8):  # the first request warms asyncpg's type cache; compare the other two
        pid = await new_pipeline(admin, stages)
        await seed_deals(app.pool, pid, admin.user_id, 3, db_id(contact["id"]))
        query_log.clear()
        await admin(BOARD, {"p": str(pid), "n": 3})
        counted.append(len([q for q in query_log if not any(bg in q for bg in BACKGROUND)]))
    assert counted[1] == counted[2]
    assert counted[1] <= 12  # token, pipeline + stages, totals, first deals, owners, contact links, contacts


async def test_a_board_column_pages_on_through_the_deals_list(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    contact = (await admin(CREATE_CONTACT, {"input": {"email": "pg@example.com"}}))["createContact"][
        "contact"
    ]
    pid = await new_pipeline(admin, 1)
    assert admin.user_id is not None
    await seed_deals(app.pool, pid, admin.user_id, 5, db_id(contact["id"]))
    column = (await admin(BOARD, {"p": str(pid), "n": 2}))["board"]["columns"][0]
    seen = [e["node"]["id"] for e in column["deals"]["edges"]]
    stage_id = await app.pool.fetchval("SELECT id FROM stages WHERE pipeline_id = $1", pid)
    rest = await admin(
        "query($f: [FilterGroup!], $a: String) { deals(filterGroups: $f, after: $a, first: 10) { edges { node { id } } } }",
        {"f": [{"filters": [{"property": "stageId", "operator": "EQ", "value": str(stage_id)}]}],
         "a": column["deals"]["pageInfo"]["endCursor"]},
    )  # fmt: skip
    seen += [e["node"]["id"] for e in rest["deals"]["edges"]]
    assert len(seen) == len(set(seen)) == 5


async def scoped_users(app: Harness, admin: Client) -> tuple[Client, Client, Client]:
    """mine (OWNED), mate (same team, TEAM), stranger (other team, OWNED)."""
    mine = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    mate = await app.user(view_scope=Scope.TEAM, edit_scope=Scope.TEAM)
    stranger = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    await admin(
        'mutation($p: [ID!]!) { createTeam(input: {name: "Team", primaryMemberIds: $p}) { team { id } } }',
        {"p": [str(mine.user_id), str(mate.user_id)]},
    )
    return mine, mate, stranger


async def test_view_scope_filters_lists_single_reads_nested_fields_and_the_board(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    mine, mate, stranger = await scoped_users(app, admin)
    contact = await admin(
        CREATE_CONTACT, {"input": {"email": "s@example.com", "ownerId": str(stranger.user_id)}}
    )
    cid = contact["createContact"]["contact"]["id"]
    deal = await make_deal(admin, ownerId=str(mine.user_id), contactIds=[cid])
    listed = "{ deals { totalCount edges { node { id contacts { id } } } } }"
    mine_sees = (await mine(listed))["deals"]
    assert mine_sees["totalCount"] == 1
    assert mine_sees["edges"][0]["node"]["contacts"] == []  # the stranger's contact is out of scope
    assert (await mate(listed))["deals"]["totalCount"] == 1
    assert (await stranger(listed))["deals"]["totalCount"] == 0
    assert (await stranger("query($id: ID!) { deal(id: $id) { id } }", {"id": deal["id"]}))["deal"] is None
    p = await pipeline(stranger)
    board = (await stranger(BOARD, {"p": p["id"], "n": 5}))["board"]
    assert sum(c["totalCount"] for c in board["columns"]) == 0


async def test_edit_scope_guards_writes(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    mine, _, _ = await scoped_users(app, admin)
    viewer_only = await app.user(edit_scope=Scope.OWNED)
    deal = await make_deal(admin, ownerId=str(mine.user_id))
    p = await pipeline(admin)
    refused = await viewer_only(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][1]["id"]}})
    assert refused["moveDeal"]["userErrors"][0]["code"] == "FORBIDDEN"
    allowed = await mine(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][1]["id"]}})
    assert allowed["moveDeal"]["userErrors"] == []


async def test_invalid_filters_are_refused_naming_the_problem(app: Harness) -> None:
    client = await app.user()
    body = await client.raw(
        '{ deals(filterGroups: [{filters: [{property: "colour", operator: "EQ", value: "red"}]}]) { totalCount } }'
    )
    assert "unknown property 'colour'" in body["errors"][0]["message"]
    body = await client.raw(
        '{ deals(filterGroups: [{filters: [{property: "amount", operator: "GT", value: "lots"}]}]) { totalCount } }'
    )
    assert "lots" in body["errors"][0]["message"]


async def test_lists_filter_with_or_of_and_groups(app: Harness) -> None:
    client = await app.user()
    for email, name in [("a@x.com", "Ann"), ("b@x.com", "Bob"), ("c@y.com", "Cid")]:
        await client(CREATE_CONTACT, {"input": {"email": email, "firstName": name}})
    groups: list[dict[str, Any]] = [
        {"filters": [{"property": "email", "operator": "CONTAINS", "value": "@x.com"},
                     {"property": "firstName", "operator": "NEQ", "value": "ann"}]},
        {"filters": [{"property": "firstName", "operator": "EQ", "value": "Cid"}]},
    ]  # fmt: skip
    data = await client(
        "query($f: [FilterGroup!]) { contacts(filterGroups: $f) { edges { node { firstName } } } }",
        {"f": groups},
    )
    assert sorted(e["node"]["firstName"] for e in data["contacts"]["edges"]) == ["Bob", "Cid"]


async def test_pagination_returns_every_record_once(app: Harness) -> None:
    client = await app.user()
    for i in range(7):
        await client(CREATE_CONTACT, {"input": {"email": f"p{i}@example.com"}})
    seen: list[str] = []
    after = None
    while True:
        page = await client(
            "query($a: String) { contacts(first: 3, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"a": after},
        )
        seen += [e["node"]["id"] for e in page["contacts"]["edges"]]
        if not page["contacts"]["pageInfo"]["hasNextPage"]:
            break
        after = page["contacts"]["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 7


async def test_first_over_200_is_refused(app: Harness) -> None:
    body = await (await app.user()).raw("{ contacts(first: 201) { totalCount } }")
    assert "first must be between 0 and 200" in body["errors"][0]["message"]


BOARD_CHANGED = """
subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) { sequence type fromStageId deal { id name stage { label } } } }
"""


async def test_board_changed_streams_deal_changes_in_scope(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    mine, _, stranger = await scoped_users(app, admin)
    p = await pipeline(admin)
    head = str(await event_store.stamp(app.pool))
    async with app.ws(mine) as ws_mine, app.ws(stranger) as ws_stranger:
        await ws_mine.subscribe(BOARD_CHANGED, {"p": p["id"], "a": head})
        await ws_stranger.subscribe(BOARD_CHANGED, {"p": p["id"], "a": head})
        deal = await make_deal(admin, ownerId=str(mine.user_id))
        await admin(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][2]["id"]}})
        await admin(
            "mutation($i: DeleteRecordInput!) { deleteRecord(input: $i) { ok } }",
            {"i": {"objectType": "DEAL", "id": deal["id"]}},
        )
        got = [(await ws_mine.next())["boardChanged"] for _ in range(3)]
        assert [e["type"] for e in got] == ["deal.created", "deal.moved", "deal.deleted"]
        assert got[1]["fromStageId"] == p["stages"][0]["id"]
        assert got[1]["deal"]["stage"]["label"] == p["stages"][2]["label"]
        assert await ws_stranger.nothing_within(0.3)
