"""Search: names, emails, domains and subjects, scoped like lists, current the moment a record commits."""

from __future__ import annotations

from typing import Any

import pytest

from domain.records import Scope
from tests.api.test_records import CREATE_COMPANY, CREATE_CONTACT, make_deal
from tests.harness import Client, GraphQLErrors, Harness

SEARCH = """
query($q: String!, $types: [ObjectType!], $first: Int) {
  search(query: $q, types: $types, first: $first) {
    __typename
    ... on Contact { id email }
    ... on Company { id name }
    ... on Deal { id dealName: name }
    ... on Ticket { id subject }
  }
}"""
CREATE_TICKET = """
mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } userErrors { code } } }
"""


async def hits(client: Client, q: str, **variables: Any) -> list[tuple[str, str]]:
    data = await client(SEARCH, {"q": q, **variables})
    return [(h["__typename"], h["id"]) for h in data["search"]]


async def contact(client: Client, **fields: Any) -> str:
    data = await client(CREATE_CONTACT, {"input": fields})
    assert data["createContact"]["userErrors"] == []
    contact_id: str = data["createContact"]["contact"]["id"]
    return contact_id


async def test_search_finds_contacts_by_name_and_by_email(app: Harness) -> None:
    client = await app.user()
    ada = await contact(client, email="countess@analytical.org", firstName="Ada", lastName="Lovelace")
    await contact(client, email="other@example.com", firstName="Grace", lastName="Hopper")
    assert await hits(client, "lovelace") == [("Contact", ada)]
    assert await hits(client, "Ada Love") == [("Contact", ada)]
    assert await hits(client, "analytical.org") == [("Contact", ada)]


async def test_search_finds_companies_by_name_and_by_domain(app: Harness) -> None:
    client = await app.user()
    data = await client(CREATE_COMPANY, {"input": {"name": "Initech", "domain": "initech.io"}})
    initech = data["createCompany"]["company"]["id"]
    assert await hits(client, "inite") == [("Company", initech)]
    assert await hits(client, "tech.io") == [("Company", initech)]


async def test_search_finds_deals_by_name_and_tickets_by_subject(app: Harness) -> None:
    client = await app.user()
    deal = await make_deal(client, name="Umbrella renewal")
    data = await client(CREATE_TICKET, {"input": {"subject": "Printer on fire"}})
    ticket = data["createTicket"]["ticket"]["id"]
    assert await hits(client, "umbrella") == [("Deal", deal["id"])]
    assert await hits(client, "on fire") == [("Ticket", ticket)]


async def test_search_is_limited_to_the_types_asked_for(app: Harness) -> None:
    client = await app.user()
    person = await contact(client, email="zed@zeta.com", firstName="Zeta")
    await client(CREATE_COMPANY, {"input": {"name": "Zeta", "domain": "zeta.com"}})
    assert await hits(client, "zeta", types=["CONTACT"]) == [("Contact", person)]
    assert await hits(client, "zeta", types=[]) == []


async def test_search_returns_at_most_first_hits_of_each_type(app: Harness) -> None:
    client = await app.user()
    for n in range(5):
        await contact(client, email=f"smith{n}@example.com", lastName="Smith")
    assert len(await hits(client, "smith", first=3)) == 3


async def test_search_is_scoped_an_owned_user_does_not_find_anothers_contact(app: Harness) -> None:
    owner = await app.user()
    mine_only = await app.user(view_scope=Scope.OWNED)
    await contact(owner, email="secret@example.com", firstName="Secret", ownerId=str(owner.user_id))
    own = await contact(
        mine_only, email="secret2@example.com", firstName="Secret", ownerId=str(mine_only.user_id)
    )
    assert await hits(mine_only, "secret") == [("Contact", own)]
    assert len(await hits(owner, "secret")) == 2


async def test_search_sees_a_record_right_after_its_create_mutation_returns(app: Harness) -> None:
    client = await app.user()
    created = await contact(client, email="fresh@example.com", firstName="Fresh")
    assert await hits(client, "fresh") == [("Contact", created)]


async def test_search_does_not_find_deleted_records(app: Harness) -> None:
    client = await app.user()
    gone = await contact(client, email="gone@example.com", firstName="Gone")
    await client(
        "mutation($i: DeleteRecordInput!) { deleteRecord(input: $i) { ok } }",
        {"i": {"objectType": "CONTACT", "id": gone}},
    )
    assert await hits(client, "gone") == []


async def test_search_takes_percent_underscore_and_backslash_literally(app: Harness) -> None:
    client = await app.user()
    data = await client(CREATE_TICKET, {"input": {"subject": "100% done_ok"}})
    ticket = data["createTicket"]["ticket"]["id"]
    await client(CREATE_TICKET, {"input": {"subject": "100 percent doneXok"}})
    assert await hits(client, "100%") == [("Ticket", ticket)]
    assert await hits(client, "done_ok") == [("Ticket", ticket)]
    assert await hits(client, "%") == [("Ticket", ticket)]
    assert await hits(client, "\\") == []


@pytest.mark.parametrize("query", ["", "   "])
async def test_an_empty_search_is_an_error_that_says_so(app: Harness, query: str) -> None:
    client = await app.user()
    with pytest.raises(GraphQLErrors, match="query must not be empty"):
        await hits(client, query)
