"""Every path that writes a record, against the rules every writer meets (DESIGN 3, 4, 5).

A new write path without a row in these tables is a defect: add its row before it lands.
Rules: the approval gate (no deal past the approval stage without approval), edit scope (the
caller's edit scope is checked on the path a person drives; automated paths act for the system on
a record a permitted change enrolled), and read-only system properties.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from domain.records import Scope
from tests.api.test_approvals import DEAL, Setup, deal_in, setup
from tests.api.test_imports import run_import
from tests.api.test_records import CREATE_DEAL, MOVE_DEAL
from tests.api.test_workflows import ASSIGN, CREATE_WORKFLOW
from tests.api.test_write_paths import RUNS
from tests.harness import Client, Harness

UPDATE_DEAL = """mutation($input: UpdateDealInput!) { updateDeal(input: $input) {
  deal { id stage { label } } userErrors { field code message } } }"""

WRITE_PATHS = (
    "api_create",
    "api_update",
    "api_move",
    "api_assign_owner",
    "import_create",
    "import_update",
    "workflow_set_property",
    "rotation",
    "lifecycle_automation",
    "quote_automation",
)


async def _email(client: Client) -> str:
    email: str = (await client("{ viewer { email } }"))["viewer"]["email"]
    return email


# --- the gate: each path tries to place a deal in "Closed won" (past the gate) without approval ---


async def _gate_api_create(s: Setup) -> str | None:
    result = await s.admin(CREATE_DEAL, {"input": {"name": "Skip", "pipelineId": s.pipeline["id"],
                                                   "stageId": s.stages["Closed won"]}})  # fmt: skip
    errors = result["createDeal"]["userErrors"]
    return errors[0]["code"] if errors else None


async def _gate_api_update(s: Setup) -> str | None:
    deal_id = await deal_in(s, "Appointment scheduled")
    result = await s.owner(UPDATE_DEAL, {"input": {"id": deal_id, "stageId": s.stages["Closed won"]}})
    errors = result["updateDeal"]["userErrors"]
    return errors[0]["code"] if errors else None


async def _gate_api_move(s: Setup) -> str | None:
    deal_id = await deal_in(s, "Appointment scheduled")
    result = await s.owner(MOVE_DEAL, {"input": {"dealId": deal_id, "stageId": s.stages["Closed won"]}})
    errors = result["moveDeal"]["userErrors"]
    return errors[0]["code"] if errors else None


async def _gate_api_assign_owner(s: Setup) -> str | None:
    """assignOwner writes the owner and nothing else: it cannot name a stage."""
    deal_id = await deal_in(s, "Appointment scheduled")
    result = await s.admin(
        ASSIGN, {"i": {"objectType": "DEAL", "ids": [deal_id], "ownerId": str(s.admin.user_id)}}
    )
    assert result["assignOwner"]["userErrors"] == []
    assert (await s.admin(DEAL, {"id": deal_id}))["deal"]["stage"]["label"] == "Appointment scheduled"
    return "OWNER_ONLY"


async def _gate_import_create(s: Setup) -> str | None:
    owner = await _email(s.owner)
    job = await run_import(s.admin, "DEAL", f"Deal name,Pipeline,Deal stage,Deal owner\nSkip,{s.pipeline['id']},"
                                            f"Closed won,{owner}\n")  # fmt: skip
    return job["errors"][0]["code"] if job["errors"] else None


async def _gate_import_update(s: Setup) -> str | None:
    deal_id = await deal_in(s, "Appointment scheduled")
    job = await run_import(s.admin, "DEAL", f"Record ID,Deal stage\n{deal_id},Closed won\n")
    return job["errors"][0]["code"] if job["errors"] else None


async def _gate_workflow_set_property(s: Setup) -> str | None:
    created = await s.admin(CREATE_WORKFLOW, {"i": {"objectType": "DEAL", "trigger": {"event": "CREATED"},
        "actions": [{"type": "SET_PROPERTY", "property": "stageId", "value": s.stages["Closed won"]}]}})  # fmt: skip
    workflow_id = created["createWorkflow"]["workflow"]["id"]
    deal_id = await deal_in(s, "Appointment scheduled")
    assert (await s.admin(DEAL, {"id": deal_id}))["deal"]["stage"]["label"] == "Appointment scheduled"
    runs = {w["id"]: w["runs"]["edges"] for w in (await s.admin(RUNS))["workflows"]}
    code: str | None = runs[workflow_id][0]["node"]["outcomes"][0]["code"]
    return code


async def _gate_rotation(s: Setup) -> str | None:
    """Rotation writes the owner and nothing else: it cannot name a stage, so it cannot pass the gate."""
    created = await s.admin(CREATE_WORKFLOW, {"i": {"objectType": "DEAL", "trigger": {"event": "CREATED"},
        "actions": [{"type": "ROTATE_OWNER", "ownerIds": [str(s.owner.user_id)], "property": "stageId",
                     "value": s.stages["Closed won"]}]}})  # fmt: skip
    assert created["createWorkflow"]["userErrors"] == []
    created_deal = await s.admin(CREATE_DEAL, {"input": {"name": "Rotated", "pipelineId": s.pipeline["id"],
                                                         "stageId": s.stages["Appointment scheduled"]}})  # fmt: skip
    deal_id = created_deal["createDeal"]["deal"]["id"]
    found = (await s.admin(DEAL, {"id": deal_id}))["deal"]
    assert found["stage"]["label"] == "Appointment scheduled"
    return "OWNER_ONLY"


async def _gate_lifecycle_automation(s: Setup) -> str | None:
    """Automation writes contacts' and companies' lifecycle stages, never a deal's stage."""
    deal_id = await deal_in(s, "Appointment scheduled")
    await s.admin(
        "mutation($i: UpdateLifecycleSettingsInput!) { updateLifecycleSettings(input: $i) { ok } }",
        {"i": {"stageOnDealWon": "CUSTOMER"}},
    )
    assert (await s.admin(DEAL, {"id": deal_id}))["deal"]["stage"]["label"] == "Appointment scheduled"
    return "NO_DEAL_STAGE"


async def _gate_quote_automation(s: Setup) -> str | None:
    """A quote workflow moving the deal when its quote is signed goes through the deal's gate."""
    from tests.api.test_quote_signing import SIGNER, outcomes, when_signed_move_deal
    from tests.api.test_quotes import CREATE, LINES, PUBLISH, call

    deal_id = await deal_in(s, "Appointment scheduled")
    workflow_id = await when_signed_move_deal(s.admin, s.stages["Closed won"])
    created = await call(s.owner, CREATE, dealId=deal_id, title="Q-1", lineItems=LINES)
    url = (await call(s.owner, PUBLISH, id=created["quote"]["id"]))["quote"]["shareUrl"]
    assert (await s.admin.http.post(f"{url}/sign", json=SIGNER)).status_code == 200
    assert (await s.admin(DEAL, {"id": deal_id}))["deal"]["stage"]["label"] == "Appointment scheduled"
    [refused] = await outcomes(s.admin, workflow_id)
    code: str | None = refused["code"]
    return code


GATE: dict[str, tuple[Callable[[Setup], Awaitable[str | None]], str]] = {
    "api_create": (_gate_api_create, "APPROVAL_REQUIRED"),
    "api_update": (_gate_api_update, "APPROVAL_REQUIRED"),
    "api_move": (_gate_api_move, "APPROVAL_REQUIRED"),
    "api_assign_owner": (_gate_api_assign_owner, "OWNER_ONLY"),
    "import_create": (_gate_import_create, "APPROVAL_REQUIRED"),
    "import_update": (_gate_import_update, "APPROVAL_REQUIRED"),
    "workflow_set_property": (_gate_workflow_set_property, "APPROVAL_REQUIRED"),
    "rotation": (_gate_rotation, "OWNER_ONLY"),
    "lifecycle_automation": (_gate_lifecycle_automation, "NO_DEAL_STAGE"),
    "quote_automation": (_gate_quote_automation, "APPROVAL_REQUIRED"),
}


def test_every_write_path_has_a_gate_row() -> None:
    assert set(GATE) == set(WRITE_PATHS)


@pytest.mark.parametrize("path", WRITE_PATHS)
async def test_no_write_path_places_a_deal_past_the_approval_gate(app: Harness, path: str) -> None:
    s = await setup(app)
    attempt, expected = GATE[path]
    assert await attempt(s) == expected


# --- edit scope: a TEAM-view, OWNED-edit user drives each path on a teammate's record ---


async def _teammates(app: Harness) -> tuple[Client, Client, Client]:
    admin = await app.user(super_admin=True)
    viewer = await app.user(view_scope=Scope.TEAM, edit_scope=Scope.OWNED)
    mate = await app.user()
    team = await admin(
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
        {"i": {"name": "Reps", "primaryMemberIds": [str(viewer.user_id), str(mate.user_id)]}},
    )
    assert team["createTeam"]["team"]["id"]
    return admin, viewer, mate


async def _mates_deal(admin: Client, mate: Client) -> tuple[str, dict[str, Any]]:
    p = (await admin("{ pipelines { id stages { id label } } }"))["pipelines"][0]
    created = await admin(CREATE_DEAL, {"input": {"name": "Mate's", "pipelineId": p["id"],
                                                  "stageId": p["stages"][0]["id"], "ownerId": str(mate.user_id)}})  # fmt: skip
    deal_id: str = created["createDeal"]["deal"]["id"]
    return deal_id, p


async def _scope_api_update(app: Harness) -> str | None:
    admin, viewer, mate = await _teammates(app)
    deal_id, _ = await _mates_deal(admin, mate)
    result = await viewer(UPDATE_DEAL, {"input": {"id": deal_id, "name": "Mine now"}})
    return result["updateDeal"]["userErrors"][0]["code"] if result["updateDeal"]["userErrors"] else None


async def _scope_api_move(app: Harness) -> str | None:
    admin, viewer, mate = await _teammates(app)
    deal_id, p = await _mates_deal(admin, mate)
    result = await viewer(MOVE_DEAL, {"input": {"dealId": deal_id, "stageId": p["stages"][1]["id"]}})
    return result["moveDeal"]["userErrors"][0]["code"] if result["moveDeal"]["userErrors"] else None


async def _scope_assign_owner(app: Harness) -> str | None:
    admin, viewer, mate = await _teammates(app)
    deal_id, _ = await _mates_deal(admin, mate)
    result = await viewer(
        ASSIGN, {"i": {"objectType": "DEAL", "ids": [deal_id], "ownerId": str(viewer.user_id)}}
    )
    return result["assignOwner"]["userErrors"][0]["code"] if result["assignOwner"]["userErrors"] else None


async def _scope_import_update(app: Harness) -> str | None:
    admin, viewer, mate = await _teammates(app)
    deal_id, _ = await _mates_deal(admin, mate)
    job = await run_import(viewer, "DEAL", f"Record ID,Deal name\n{deal_id},Mine now\n")
    return job["errors"][0]["code"] if job["errors"] else None


SCOPE: dict[str, tuple[Callable[[Harness], Awaitable[str | None]], str]] = {
    "api_update": (_scope_api_update, "FORBIDDEN"),
    "api_move": (_scope_api_move, "FORBIDDEN"),
    "api_assign_owner": (_scope_assign_owner, "FORBIDDEN"),
    "import_update": (_scope_import_update, "FORBIDDEN"),
}
# Paths that create (a new record is nobody's yet), or that act for the system on a record whose
# triggering change already passed the edit-scope check of the person who made it.
SCOPE_NOT_APPLICABLE = {
    "api_create": "creates",
    "import_create": "creates",
    "workflow_set_property": "system, after a permitted change",
    "rotation": "system, after a permitted change",
    "lifecycle_automation": "system, after a permitted change",
    "quote_automation": "system, after a permitted quote change",
}


def test_every_write_path_has_an_edit_scope_row() -> None:
    assert set(SCOPE) | set(SCOPE_NOT_APPLICABLE) == set(WRITE_PATHS)
    assert not set(SCOPE) & set(SCOPE_NOT_APPLICABLE)


@pytest.mark.parametrize("path", sorted(SCOPE))
async def test_no_write_path_changes_a_record_outside_the_callers_edit_scope(app: Harness, path: str) -> None:
    attempt, expected = SCOPE[path]
    assert await attempt(app) == expected


# --- read-only system properties ---


async def _read_only_api(app: Harness) -> str | None:
    admin = await app.user(super_admin=True)
    body = await admin.raw(
        'mutation { updateDeal(input: {id: "1", latestApprovalStatus: APPROVED}) { userErrors { code } } }'
    )
    return "NOT_IN_INPUT" if body.get("errors") else None


async def _read_only_import(app: Harness) -> str | None:
    admin = await app.user(super_admin=True)
    p = (await admin("{ pipelines { id stages { id } } }"))["pipelines"][0]
    job = await run_import(
        admin,
        "DEAL",
        f"Deal name,Pipeline,Deal stage,Latest approval status\nX,{p['id']},{p['stages'][0]['id']},APPROVED\n",
    )
    status = await app.pool.fetchval("SELECT latest_approval_status FROM deals WHERE name = 'X'")
    assert status is None, "an imported column never sets a system property"
    return "IGNORED" if job["rowsCreated"] == 1 else None


async def _read_only_workflow(app: Harness) -> str | None:
    admin = await app.user(super_admin=True)
    created = await admin(CREATE_WORKFLOW, {"i": {"objectType": "DEAL", "trigger": {"event": "CREATED"},
        "actions": [{"type": "SET_PROPERTY", "property": "latestApprovalStatus", "value": "APPROVED"}]}})  # fmt: skip
    errors = created["createWorkflow"]["userErrors"]
    return errors[0]["code"] if errors else None


READ_ONLY: dict[str, tuple[Callable[[Harness], Awaitable[str | None]], str]] = {
    "api": (_read_only_api, "NOT_IN_INPUT"),
    "import": (_read_only_import, "IGNORED"),
    "workflow_set_property": (_read_only_workflow, "READ_ONLY_PROPERTY"),
}


@pytest.mark.parametrize("path", sorted(READ_ONLY))
async def test_no_write_path_sets_a_system_property(app: Harness, path: str) -> None:
    attempt, expected = READ_ONLY[path]
    assert await attempt(app) == expected
