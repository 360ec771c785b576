"""Lifecycle automation through the API: seeds 002 and 004, including their worked examples."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from db import events as event_store
from tests.api.test_imports import run_import
from tests.api.test_records import CREATE_COMPANY, CREATE_CONTACT, CREATE_DEAL, MOVE_DEAL, pipeline
from tests.harness import Client, Harness

SETTINGS = """mutation($i: UpdateLifecycleSettingsInput!) { updateLifecycleSettings(input: $i) { ok
  settings { defaultStageOnCreate stageOnDealCreated stageOnDealWon syncCompanyToContacts } userErrors { code } } }"""
SERIAL = itertools.count()
LINK = "mutation($i: AssociateInput!) { associate(input: $i) { ok userErrors { code message } } }"
UPDATE_COMPANY = "mutation($i: UpdateCompanyInput!) { updateCompany(input: $i) { company { lifecycleStage } userErrors { code } } }"
UPDATE_CONTACT = "mutation($i: UpdateContactInput!) { updateContact(input: $i) { contact { lifecycleStage } userErrors { code message } } }"
STAGE = "query($id: ID!) { contact(id: $id) { lifecycleStage closeDate daysToClose } }"
COMPANY_STAGE = "query($id: ID!) { company(id: $id) { lifecycleStage closeDate } }"
HISTORY = 'query($id: ID!) { contact(id: $id) { propertyHistory(name: "lifecycleStage") { oldValue newValue source } } }'


async def contact(client: Client, stage: str | None = None, **extra: Any) -> str:
    data = await client(
        CREATE_CONTACT,
        {
            "input": {
                "email": f"c{id(extra)}-{stage}-{len(extra)}@example.com".lower(),
                "lifecycleStage": stage,
                **extra,
            }
        },
    )
    assert data["createContact"]["userErrors"] == [], data
    return str(data["createContact"]["contact"]["id"])


async def company(client: Client, stage: str | None = None, domain: str = "acme.com") -> str:
    data = await client(
        CREATE_COMPANY, {"input": {"name": "Acme", "domain": domain, "lifecycleStage": stage}}
    )
    return str(data["createCompany"]["company"]["id"])


async def stage_of(client: Client, contact_id: str) -> str | None:
    value: str | None = (await client(STAGE, {"id": contact_id}))["contact"]["lifecycleStage"]
    return value


async def make_primary(client: Client, contact_id: str, company_id: str) -> None:
    linked = await client(
        LINK,
        {
            "i": {
                "fromType": "CONTACT",
                "fromId": contact_id,
                "toType": "COMPANY",
                "toId": company_id,
                "primary": True,
            }
        },
    )
    assert linked["associate"]["userErrors"] == []


async def deal_with(
    client: Client,
    stage_index: int = 0,
    contacts: list[str] | None = None,
    companies: list[str] | None = None,
) -> str:
    p = await pipeline(client)
    data = await client(
        CREATE_DEAL,
        {"input": {"name": "D", "pipelineId": p["id"], "stageId": p["stages"][stage_index]["id"],
                   "contactIds": contacts or [], "companyIds": companies or []}},
    )  # fmt: skip
    assert data["createDeal"]["userErrors"] == [], data
    return str(data["createDeal"]["deal"]["id"])


async def test_created_directly_with_the_setting_off_a_contact_gets_the_first_stage(app: Harness) -> None:
    client = await app.user()
    assert await stage_of(client, await contact(client)) == "SUBSCRIBER"


async def imported_contact(client: Client) -> str:
    """A contact created by an import (source IMPORT is the import's to set, not a client's)."""
    email = f"imported-{uuid.uuid4().hex[:8]}@example.com"
    job = await run_import(client, "CONTACT", f"Email\n{email}\n")
    assert job["rowsCreated"] == 1, job
    data = await client(
        'query($v: String!) { contacts(filterGroups: [{filters: [{property: "email", operator: "EQ", value: $v}]}]) '
        "{ edges { node { id } } } }",
        {"v": email},
    )
    found: str = data["contacts"]["edges"][0]["node"]["id"]
    return found


async def test_imported_or_integrated_records_stay_empty_with_the_setting_off(app: Harness) -> None:
    client = await app.user()
    assert await stage_of(client, await imported_contact(client)) is None
    assert await stage_of(client, await contact(client, source="INTEGRATION")) is None


async def test_an_explicit_stage_wins_over_every_default(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await admin(SETTINGS, {"i": {"defaultStageOnCreate": "LEAD"}})
    assert await stage_of(admin, await contact(admin, "OPPORTUNITY")) == "OPPORTUNITY"


async def test_a_forms_own_default_wins_over_the_setting(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await admin(SETTINGS, {"i": {"defaultStageOnCreate": "LEAD"}})
    cid = await contact(admin, source="FORM", formLifecycleStage="MARKETING_QUALIFIED_LEAD")
    assert await stage_of(admin, cid) == "MARKETING_QUALIFIED_LEAD"
    assert await stage_of(admin, await imported_contact(admin)) == "LEAD"  # the setting applies to all


async def test_only_super_admins_change_lifecycle_settings(app: Harness) -> None:
    body = await (await app.user()).raw(SETTINGS, {"i": {"syncCompanyToContacts": False}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_company_set_to_lead_updates_only_its_subscriber_contact(app: Harness) -> None:
    client = await app.user()
    co = await company(client)
    subscriber = await contact(client, "SUBSCRIBER", firstName="s")
    opportunity = await contact(client, "OPPORTUNITY", firstName="o")
    for c in (subscriber, opportunity):
        await make_primary(client, c, co)
    await client(UPDATE_COMPANY, {"i": {"id": co, "lifecycleStage": "LEAD"}})
    assert await stage_of(client, subscriber) == "LEAD"
    assert await stage_of(client, opportunity) == "OPPORTUNITY"
    await client(UPDATE_COMPANY, {"i": {"id": co, "lifecycleStage": "CUSTOMER"}})
    assert await stage_of(client, subscriber) == "CUSTOMER"
    assert await stage_of(client, opportunity) == "CUSTOMER"


async def test_a_contact_takes_its_company_stage_when_the_company_first_becomes_primary(app: Harness) -> None:
    client = await app.user()
    co = await company(client, "SALES_QUALIFIED_LEAD")
    cid = await contact(client, "LEAD")
    await make_primary(client, cid, co)
    assert await stage_of(client, cid) == "SALES_QUALIFIED_LEAD"


async def test_switching_primary_company_re_evaluates_the_contact_forward_only(app: Harness) -> None:
    client = await app.user()
    low = await company(client, "LEAD", "low.com")
    high = await company(client, "OPPORTUNITY", "high.com")
    cid = await contact(client, "SUBSCRIBER")
    await make_primary(client, cid, low)
    assert await stage_of(client, cid) == "LEAD"
    await make_primary(client, cid, high)
    assert await stage_of(client, cid) == "OPPORTUNITY"
    await make_primary(client, cid, low)
    assert await stage_of(client, cid) == "OPPORTUNITY"


async def test_a_contacts_change_never_touches_its_company(app: Harness) -> None:
    client = await app.user()
    co = await company(client, "LEAD")
    cid = await contact(client, "LEAD")
    await make_primary(client, cid, co)
    await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": "CUSTOMER"}})
    assert (await client(COMPANY_STAGE, {"id": co}))["company"]["lifecycleStage"] == "LEAD"


async def test_sync_off_leaves_contacts_alone(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await admin(SETTINGS, {"i": {"syncCompanyToContacts": False}})
    co = await company(admin, "CUSTOMER")
    cid = await contact(admin, "LEAD")
    await make_primary(admin, cid, co)
    assert await stage_of(admin, cid) == "LEAD"


async def test_a_lead_contact_becomes_opportunity_when_a_deal_is_created(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "LEAD")
    await deal_with(client, contacts=[cid])
    assert await stage_of(client, cid) == "OPPORTUNITY"


async def test_a_customer_contact_stays_customer_when_a_deal_is_created(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "CUSTOMER")
    await deal_with(client, contacts=[cid])
    assert await stage_of(client, cid) == "CUSTOMER"


async def test_only_the_first_deal_sets_the_deal_created_stage(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "LEAD")
    await deal_with(client, contacts=[cid])
    await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": None}})
    await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": "LEAD"}})
    await deal_with(client, contacts=[cid])
    assert await stage_of(client, cid) == "LEAD"


async def test_a_won_deal_makes_contacts_and_companies_customer_and_sets_close_date(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "LEAD")
    co = await company(client, "LEAD")
    deal = await deal_with(client, contacts=[cid], companies=[co])
    p = await pipeline(client)
    won = next(s["id"] for s in p["stages"] if s["kind"] == "CLOSED_WON")
    await client(MOVE_DEAL, {"input": {"dealId": deal, "stageId": won}})
    seen = (await client(STAGE, {"id": cid}))["contact"]
    assert seen["lifecycleStage"] == "CUSTOMER"
    assert seen["closeDate"] is not None
    assert seen["daysToClose"] == 0
    assert (await client(COMPANY_STAGE, {"id": co}))["company"]["lifecycleStage"] == "CUSTOMER"


async def test_a_lost_deal_leaves_opportunity_and_a_won_deal_keeps_customer(app: Harness) -> None:
    client = await app.user()
    p = await pipeline(client)
    won = next(s["id"] for s in p["stages"] if s["kind"] == "CLOSED_WON")
    lost = next(s["id"] for s in p["stages"] if s["kind"] == "CLOSED_LOST")
    opportunity = await contact(client, "LEAD", firstName="o")
    customer = await contact(client, "LEAD", firstName="c")
    first = await deal_with(client, contacts=[opportunity, customer])
    await client(MOVE_DEAL, {"input": {"dealId": first, "stageId": lost}})
    assert await stage_of(client, opportunity) == "OPPORTUNITY"
    second = await deal_with(client, contacts=[customer])
    await client(MOVE_DEAL, {"input": {"dealId": second, "stageId": won}})
    third = await deal_with(client, contacts=[customer])
    await client(MOVE_DEAL, {"input": {"dealId": third, "stageId": lost}})
    assert await stage_of(client, customer) == "CUSTOMER"


async def test_deal_won_setting_off_changes_neither_stage_nor_close_date(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await admin(SETTINGS, {"i": {"stageOnDealWon": None}})
    cid = await contact(admin, "LEAD")
    deal = await deal_with(admin, contacts=[cid])
    p = await pipeline(admin)
    won = next(s["id"] for s in p["stages"] if s["kind"] == "CLOSED_WON")
    await admin(MOVE_DEAL, {"input": {"dealId": deal, "stageId": won}})
    seen = (await admin(STAGE, {"id": cid}))["contact"]
    assert (seen["lifecycleStage"], seen["closeDate"]) == ("OPPORTUNITY", None)


async def test_a_person_moves_a_stage_back_only_by_clearing_it_first(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "CUSTOMER")
    refused = await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": "LEAD"}})
    assert refused["updateContact"]["userErrors"][0]["code"] == "LIFECYCLE_BACKWARDS"
    await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": None}})
    await client(UPDATE_CONTACT, {"i": {"id": cid, "lifecycleStage": "LEAD"}})
    assert await stage_of(client, cid) == "LEAD"
    history = (await client(HISTORY, {"id": cid}))["contact"]["propertyHistory"]
    assert [(h["oldValue"], h["newValue"]) for h in history[:2]] == [(None, "LEAD"), ("CUSTOMER", None)]


async def test_every_automatic_change_is_in_history_as_automation_and_reaches_subscribers(
    app: Harness,
) -> None:
    client = await app.user()
    cid = await contact(client, "LEAD")
    head = str(await event_store.stamp(app.pool))
    async with app.ws(client) as ws:
        await ws.subscribe(
            "subscription($a: String) { recordChanged(objectType: CONTACT, after: $a) { type record } }",
            {"a": head},
        )
        await deal_with(client, contacts=[cid])
        event = (await ws.next())["recordChanged"]
    assert event["type"] == "contact.updated"
    assert event["record"]["changes"] == {"lifecycleStage": ["LEAD", "OPPORTUNITY"]}
    history = (await client(HISTORY, {"id": cid}))["contact"]["propertyHistory"]
    assert history[0] == {"oldValue": "LEAD", "newValue": "OPPORTUNITY", "source": "AUTOMATION"}
