"""The board reads only the columns its selection needs: every field of a deal or contact has its
columns listed, and a board selecting any one field answers as a full read of the record does."""

from __future__ import annotations

from schema import build_schema
from schema.records import FIELD_COLUMNS, Contact, Deal
from tests.api.test_records import CREATE_CONTACT, make_deal
from tests.harness import Harness

DEAL_FIELDS = [
    "name", "amount", "currency", "closeDate", "latestApprovalStatus", "properties", "createdAt",
    "updatedAt", "lastActivityDate", "lastContacted", "version", "owner { id name }", "pipeline { id }",
    "stage { id label }", "approval { id }", "quotes { id }", "companies { id }",
    'propertyHistory(name: "amount") { newValue }',
]  # fmt: skip
CONTACT_FIELDS = [
    "email", "firstName", "lastName", "companyName", "lifecycleStage", "closeDate", "daysToClose",
    "properties", "createdAt", "updatedAt", "lastActivityDate", "lastContacted", "version",
    "owner { id name }", "primaryCompany { id }", "companies { id }", "deals { id }",
    'propertyHistory(name: "email") { newValue }',
]  # fmt: skip


def test_field_columns_list_every_field_of_deals_and_contacts() -> None:
    schema = build_schema(dev=False)._schema
    for kind, name in ((Deal, "Deal"), (Contact, "Contact")):
        assert set(FIELD_COLUMNS[kind]) == set(schema.get_type(name).fields)  # type: ignore[union-attr]
    assert {f.split(" ")[0].split("(")[0] for f in DEAL_FIELDS} | {"id", "contacts"} == set(
        FIELD_COLUMNS[Deal]
    )
    assert {f.split(" ")[0].split("(")[0] for f in CONTACT_FIELDS} | {"id"} == set(FIELD_COLUMNS[Contact])


async def test_a_board_selecting_any_one_field_answers_as_a_full_read_does(app: Harness) -> None:
    admin = await app.user(super_admin=True, name="Owner")
    contact = await admin(
        CREATE_CONTACT,
        {"input": {"email": "col@example.com", "firstName": "Ada", "lastName": "L", "companyName": "Acme",
                   "lifecycleStage": "LEAD", "properties": {"shoe": 42}, "ownerId": str(admin.user_id)}},
    )  # fmt: skip
    contact_id = contact["createContact"]["contact"]["id"]
    deal = await make_deal(
        admin, contactIds=[contact_id], closeDate="2031-01-02T03:04:05+00:00", ownerId=str(admin.user_id)
    )
    pipeline_id = (await admin("query($id: ID!) { deal(id: $id) { pipeline { id } } }", {"id": deal["id"]}))[
        "deal"
    ]["pipeline"]["id"]
    for field in DEAL_FIELDS:
        board = await admin(
            f"query($p: ID!) {{ board(pipelineId: $p) {{ columns {{ deals {{ edges {{ node {{ id {field} }} }} }} }} }} }}",
            {"p": pipeline_id},
        )
        (node,) = [e["node"] for c in board["board"]["columns"] for e in c["deals"]["edges"]]
        alone = await admin(f"query($id: ID!) {{ deal(id: $id) {{ id {field} }} }}", {"id": deal["id"]})
        assert node == alone["deal"], field
    for field in CONTACT_FIELDS:
        board = await admin(
            f"query($p: ID!) {{ board(pipelineId: $p) {{ columns {{ deals {{ edges {{ node {{ contacts {{ id {field} }} }} }} }} }} }} }}",
            {"p": pipeline_id},
        )
        (node,) = [e["node"] for c in board["board"]["columns"] for e in c["deals"]["edges"]]
        alone = await admin(f"query($id: ID!) {{ contact(id: $id) {{ id {field} }} }}", {"id": contact_id})
        assert node["contacts"] == [alone["contact"]], field
