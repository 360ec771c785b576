"""Compiled query plans: the board runs its plan, what a plan cannot answer runs through graphql-core,
and the differential check every API test goes through can fail."""

from __future__ import annotations

import base64
import json

from schema import compiled
from schema.compiled import Plan
from schema.execution import DIFFERENTIAL, STATS, Differential
from tests.api.test_board import BOARD, new_pipeline, seed_deals
from tests.api.test_records import CREATE_CONTACT, make_deal
from tests.harness import Client, Harness, db_id

PAGED_BOARD = """
query($p: ID!, $n: Int) {
  board(pipelineId: $p, perStage: $n) {
    columns { deals { pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }
  }
}"""


async def board_pipeline(app: Harness, admin: Client, stages: int, per_stage: int) -> str:
    contact = (await admin(CREATE_CONTACT, {"input": {"email": f"c{stages}@example.com"}}))["createContact"]
    pid = await new_pipeline(admin, stages)
    assert admin.user_id is not None
    await seed_deals(app.pool, pid, admin.user_id, per_stage, db_id(contact["contact"]["id"]))
    return str(pid)


async def test_the_board_answers_from_its_compiled_plan(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    pid = await board_pipeline(app, admin, 2, 3)
    before = STATS.planned, STATS.abandoned
    board = (await admin(BOARD, {"p": pid, "n": 2}))["board"]
    assert (STATS.planned, STATS.abandoned) == (before[0] + 1, before[1])
    assert [len(c["deals"]["edges"]) for c in board["columns"]] == [2, 2]
    assert board["columns"][0]["deals"]["edges"][0]["node"]["contacts"] == [{"email": "c2@example.com"}]


async def test_a_document_is_compiled_once_and_its_plan_reused(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    pid = await board_pipeline(app, admin, 1, 2)
    DIFFERENTIAL.recorded.clear()
    await admin(BOARD, {"p": pid, "n": 1})
    await admin(BOARD, {"p": pid, "n": 2})
    (first, executor), (second, _) = DIFFERENTIAL.recorded
    assert first is second
    assert compiled.plans_of(executor.schema)[id(first.operation)] == (first.operation, first)


async def test_an_answer_the_plan_cannot_give_comes_from_graphql_core_with_its_error(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    pid = await board_pipeline(app, admin, 1, 1)
    before = STATS.abandoned
    body = await admin.raw(BOARD, {"p": pid, "n": 500})
    assert STATS.abandoned == before + 1
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["perStage must be between 0 and 200"]
    assert body["errors"][0]["path"] == ["board"]


async def test_documents_with_directives_or_abstract_types_run_through_graphql_core(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await make_deal(admin, name="Findable deal")
    before = STATS.general
    included = await admin(
        "query($all: Boolean!) { deals { edges { node { name amount @include(if: $all) } } } }",
        {"all": False},
    )
    assert included["deals"]["edges"] == [{"node": {"name": "Findable deal"}}]
    found = await admin('{ search(query: "Findable") { __typename ... on Deal { name } } }')
    assert found["search"] == [{"__typename": "Deal", "name": "Findable deal"}]
    assert STATS.general == before + 2


async def test_board_cursors_are_given_when_the_selection_asks_for_them(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    pid = await board_pipeline(app, admin, 1, 3)
    column = (await admin(PAGED_BOARD, {"p": pid, "n": 2}))["board"]["columns"][0]["deals"]
    cursors = [e["cursor"] for e in column["edges"]]
    assert all(json.loads(base64.urlsafe_b64decode(c)) for c in cursors)
    assert column["pageInfo"] == {"hasNextPage": True, "endCursor": cursors[-1]}
    ended = (await admin("query($p: ID!) { board(pipelineId: $p, perStage: 2) { columns { deals { "
                         "pageInfo { endCursor } } } } }", {"p": pid}))  # fmt: skip
    assert ended["board"]["columns"][0]["deals"]["pageInfo"]["endCursor"] == cursors[-1]


async def test_a_plan_answering_differently_from_graphql_core_fails_the_differential_check(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    pid = await board_pipeline(app, admin, 1, 1)
    DIFFERENTIAL.recorded.clear()
    await admin(BOARD, {"p": pid, "n": 1})
    plan, executor = DIFFERENTIAL.recorded[-1]
    honest = Differential(recorded=[(plan, executor)])
    assert await honest.replay() == []
    wrong = Plan(plan.operation, lambda source, path, executor: {"board": {"columns": []}})
    caught = await Differential(recorded=[(wrong, executor)]).replay()
    assert len(caught) == 1
    assert '"columns": []' in caught[0]
    assert "board(pipelineId: $p" in caught[0]

    def gives_up(source: object, path: object, executor: object) -> object:
        raise compiled.Abandoned("for the test")

    quitter = Plan(plan.operation, gives_up)
    assert "the plan gave up" in (await Differential(recorded=[(quitter, executor)]).replay())[0]
