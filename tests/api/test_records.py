"""Records: dedupe, validation, owners, versions, history, associations and idempotency."""

from __future__ import annotations

from typing import Any

from tests.harness import Client, Harness, db_id, gid

CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id email firstName version owner { id } } userErrors { field message code existingId } }
}"""
UPDATE_CONTACT = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id email firstName version } userErrors { field message code } }
}"""
CREATE_COMPANY = """
mutation($input: CreateCompanyInput!) {
  createCompany(input: $input) { company { id domain } userErrors { field message code existingId } }
}"""
CREATE_DEAL = """
mutation($input: CreateDealInput!) {
  createDeal(input: $input) { deal { id name amount stage { id label } pipeline { id } version
    contacts { id } companies { id } } userErrors { field message code } }
}"""
MOVE_DEAL = """
mutation($input: MoveDealInput!) { moveDeal(input: $input) { deal { id stage { label } version } userErrors { field message code } } }
"""


async def pipeline(client: Client) -> dict[str, Any]:
    data = await client("{ pipelines { id label stages { id label kind } } }")
    first: dict[str, Any] = data["pipelines"][0]
    return first


async def make_deal(client: Client, stage: int = 0, **extra: Any) -> dict[str, Any]:
    p = await pipeline(client)
    payload = await client(
        CREATE_DEAL,
        {
            "input": {
                "name": "Deal",
                "amount": "1200.50",
                "pipelineId": p["id"],
                "stageId": p["stages"][stage]["id"],
                **extra,
            }
        },
    )
    assert payload["createDeal"]["userErrors"] == []
    deal: dict[str, Any] = payload["createDeal"]["deal"]
    return deal


async def counts(app: Harness) -> tuple[int, ...]:
    row = await app.pool.fetchrow(
        "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM companies), (SELECT count(*) FROM deals),"
        " (SELECT count(*) FROM property_history), (SELECT count(*) FROM events)"
    )
    assert row is not None
    return tuple(row)


async def test_a_new_database_has_a_default_sales_pipeline(app: Harness) -> None:
    p = await pipeline(await app.user())
    assert p["label"] == "Sales pipeline"
    assert [s["kind"] for s in p["stages"]][-2:] == ["CLOSED_WON", "CLOSED_LOST"]


async def test_contacts_dedupe_on_email_case_insensitively_naming_the_existing_contact(app: Harness) -> None:
    client = await app.user()
    first = await client(CREATE_CONTACT, {"input": {"email": "Ada@Example.com", "firstName": "Ada"}})
    existing = first["createContact"]["contact"]["id"]
    before = await counts(app)
    again = await client(CREATE_CONTACT, {"input": {"email": "ada@example.COM"}})
    assert again["createContact"]["contact"] is None
    error = again["createContact"]["userErrors"][0]
    assert (error["code"], error["existingId"]) == ("DUPLICATE", existing)
    assert await counts(app) == before


async def test_companies_dedupe_on_domain(app: Harness) -> None:
    client = await app.user()
    first = await client(CREATE_COMPANY, {"input": {"name": "Acme", "domain": "acme.com"}})
    again = await client(CREATE_COMPANY, {"input": {"name": "Acme 2", "domain": "ACME.com"}})
    assert again["createCompany"]["userErrors"][0]["existingId"] == first["createCompany"]["company"]["id"]


async def test_a_duplicate_names_the_existing_record_only_to_a_caller_who_can_see_it(app: Harness) -> None:
    from domain.records import Scope

    owner = await app.user()
    other = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    hidden = await owner(
        CREATE_CONTACT, {"input": {"email": "grace@example.com", "ownerId": str(owner.user_id)}}
    )
    hidden_id = hidden["createContact"]["contact"]["id"]
    company = await owner(
        CREATE_COMPANY, {"input": {"name": "Acme", "domain": "acme.com", "ownerId": str(owner.user_id)}}
    )
    for document, value, key in (
        (CREATE_CONTACT, {"email": "Grace@example.com"}, "createContact"),
        (CREATE_COMPANY, {"name": "Acme 2", "domain": "acme.com"}, "createCompany"),
    ):
        again = await other(document, {"input": value})
        [error] = again[key]["userErrors"]
        assert (error["code"], error["existingId"]) == ("DUPLICATE", None)
        assert hidden_id not in error["message"]
        assert company[("createCompany")]["company"]["id"] not in error["message"]


async def test_updating_a_contact_to_another_contacts_email_is_a_duplicate(app: Harness) -> None:
    client = await app.user()
    await client(CREATE_CONTACT, {"input": {"email": "a@example.com"}})
    b = (await client(CREATE_CONTACT, {"input": {"email": "b@example.com"}}))["createContact"]["contact"]
    result = await client(UPDATE_CONTACT, {"input": {"id": b["id"], "email": "A@example.com"}})
    assert result["updateContact"]["userErrors"][0]["code"] == "DUPLICATE"
    assert (
        await app.pool.fetchval("SELECT email FROM contacts WHERE id = $1", db_id(b["id"])) == "b@example.com"
    )


async def test_malformed_email_is_refused_and_nothing_changes(app: Harness) -> None:
    client = await app.user()
    before = await counts(app)
    result = await client(CREATE_CONTACT, {"input": {"email": "not an email"}})
    assert result["createContact"]["userErrors"][0]["field"] == ["email"]
    assert await counts(app) == before


async def test_negative_amounts_are_refused_and_nothing_changes(app: Harness) -> None:
    client = await app.user()
    p = await pipeline(client)
    before = await counts(app)
    result = await client(
        CREATE_DEAL,
        {"input": {"name": "D", "amount": "-1", "pipelineId": p["id"], "stageId": p["stages"][0]["id"]}},
    )
    assert result["createDeal"]["userErrors"][0]["field"] == ["amount"]
    assert await counts(app) == before


async def test_unknown_ids_are_user_errors(app: Harness) -> None:
    client = await app.user()
    moved = await client(MOVE_DEAL, {"input": {"dealId": "999999", "stageId": "1"}})
    assert moved["moveDeal"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await client('{ deal(id: "999999") { id } }'))["deal"] is None


async def test_only_active_users_can_own_records(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    leaver = await app.user()
    await admin(
        "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { user { id } } }",
        {"id": str(leaver.user_id)},
    )
    result = await admin(
        CREATE_CONTACT, {"input": {"email": "x@example.com", "ownerId": str(leaver.user_id)}}
    )
    assert result["createContact"]["userErrors"][0]["code"] == "INACTIVE_USER"


async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(app: Harness) -> None:
    client = await app.user()
    deal = await make_deal(client)
    p = await pipeline(client)
    ok = await client(
        MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][1]["id"], "expectedVersion": 1}}
    )
    assert ok["moveDeal"]["deal"]["version"] == 2
    stale = await client(
        MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][2]["id"], "expectedVersion": 1}}
    )
    assert stale["moveDeal"]["userErrors"][0]["code"] == "VERSION_CONFLICT"
    assert (await client("query($id: ID!) { deal(id: $id) { stage { label } } }", {"id": deal["id"]}))[
        "deal"
    ]["stage"]["label"] == p["stages"][1]["label"]


async def test_every_property_change_is_recorded_with_its_source(app: Harness) -> None:
    client = await app.user()
    created = await client(
        CREATE_CONTACT, {"input": {"email": "h@example.com", "firstName": "Ann", "source": "UI"}}
    )
    contact = created["createContact"]["contact"]
    await client(UPDATE_CONTACT, {"input": {"id": contact["id"], "firstName": "Anna"}})
    history = await client(
        'query($id: ID!) { contact(id: $id) { propertyHistory(name: "firstName") { oldValue newValue source changedBy { id } } } }',
        {"id": contact["id"]},
    )
    changes = history["contact"]["propertyHistory"]
    assert [(c["oldValue"], c["newValue"], c["source"]) for c in changes] == [
        ("Ann", "Anna", "API"),
        (None, "Ann", "UI"),
    ]
    assert changes[0]["changedBy"]["id"] == gid("User", client.user_id)


async def test_custom_properties_merge_and_are_recorded(app: Harness) -> None:
    client = await app.user()
    contact = await client(
        CREATE_CONTACT, {"input": {"email": "c@example.com", "properties": {"tier": "gold"}}}
    )
    cid = contact["createContact"]["contact"]["id"]
    await client(UPDATE_CONTACT, {"input": {"id": cid, "properties": {"size": 10}}})
    data = await client(
        'query($id: ID!) { contact(id: $id) { properties propertyHistory(name: "properties.size") { newValue } } }',
        {"id": cid},
    )
    assert data["contact"]["properties"] == {"tier": "gold", "size": 10}
    assert data["contact"]["propertyHistory"] == [{"newValue": "10"}]


async def test_the_same_client_mutation_id_creates_once_and_returns_the_first_result(app: Harness) -> None:
    client = await app.user()
    first = await client(CREATE_CONTACT, {"input": {"email": "i@example.com", "clientMutationId": "k1"}})
    second = await client(CREATE_CONTACT, {"input": {"email": "i@example.com", "clientMutationId": "k1"}})
    assert second["createContact"]["userErrors"] == []
    assert second["createContact"]["contact"]["id"] == first["createContact"]["contact"]["id"]
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 1


async def test_a_contact_has_at_most_one_primary_company(app: Harness) -> None:
    client = await app.user()
    cid = (await client(CREATE_CONTACT, {"input": {"email": "p@example.com"}}))["createContact"]["contact"][
        "id"
    ]
    a = (await client(CREATE_COMPANY, {"input": {"name": "A", "domain": "a.com"}}))["createCompany"][
        "company"
    ]["id"]
    b = (await client(CREATE_COMPANY, {"input": {"name": "B", "domain": "b.com"}}))["createCompany"][
        "company"
    ]["id"]
    link = "mutation($i: AssociateInput!) { associate(input: $i) { ok userErrors { code } } }"
    for company in (a, b):
        await client(
            link,
            {
                "i": {
                    "fromType": "CONTACT",
                    "fromId": cid,
                    "toType": "COMPANY",
                    "toId": company,
                    "primary": True,
                }
            },
        )
    data = await client(
        "query($id: ID!) { contact(id: $id) { primaryCompany { id } companies { id } } }", {"id": cid}
    )
    assert data["contact"]["primaryCompany"]["id"] == b
    assert sorted(c["id"] for c in data["contact"]["companies"]) == sorted([a, b])


async def test_deals_are_created_with_their_contacts_and_companies(app: Harness) -> None:
    client = await app.user()
    cid = (await client(CREATE_CONTACT, {"input": {"email": "d@example.com"}}))["createContact"]["contact"][
        "id"
    ]
    co = (await client(CREATE_COMPANY, {"input": {"name": "D", "domain": "d.com"}}))["createCompany"][
        "company"
    ]["id"]
    deal = await make_deal(client, contactIds=[cid], companyIds=[co])
    assert deal["contacts"] == [{"id": cid}]
    assert deal["companies"] == [{"id": co}]
    assert deal["amount"] == "1200.50"


async def test_a_deal_without_contacts_or_companies_reads_and_links_none(
    query_log: list[str], app: Harness
) -> None:
    """No association asked for, no statement about associations: neither the visibility check of
    ids nobody gave nor an insert of no pairs (createDeal ran four statements for nothing)."""
    admin = await app.user(super_admin=True)
    p = await pipeline(admin)
    query_log.clear()
    created = await admin(
        CREATE_DEAL, {"input": {"name": "Plain", "pipelineId": p["id"], "stageId": p["stages"][0]["id"]}}
    )
    assert created["createDeal"]["userErrors"] == []
    assert [
        q for q in query_log if "INSERT INTO deal_contacts" in q or "INSERT INTO deal_companies" in q
    ] == []
    before_insert = query_log[: next(i for i, q in enumerate(query_log) if "INSERT INTO deals" in q)]
    assert [q for q in before_insert if "FROM contacts" in q or "FROM companies" in q] == []
