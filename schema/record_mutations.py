"""Create, update, move, associate and delete records: thin fields over resolvers.records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from domain.codes import RuleCode
from domain.limits import BadInput
from domain.records import ChangeSource as DomainSource
from domain.records import ObjectType, Record
from resolvers import associations as link_cases
from resolvers import records as use_cases
from resolvers.records import Change, NewRecord
from resolvers.result import Result

from .enums import ChangeSource, LifecycleStage
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .records import Company, Contact, Deal, Ticket

T = TypeVar("T")
UNSET: Any = strawberry.UNSET


def given(**fields: Any) -> dict[str, Any]:
    """The fields a client actually sent (UNSET left out; explicit null kept)."""
    return {k: v for k, v in fields.items() if v is not UNSET}


def props(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(RuleCode.INVALID, "properties must be a JSON object", ("properties",))
    return value


def ids(values: list[strawberry.ID] | None) -> list[int]:
    return [int(v) for v in values or []]


def opt_id(value: strawberry.ID | None) -> int | None:
    return int(value) if value else None


@strawberry.input(description="A new contact.")
class CreateContactInput:
    email: str | None = strawberry.field(
        default=None,
        description="The contact's email address; must not belong to another contact (DUPLICATE).",
    )
    first_name: str | None = strawberry.field(default=None, description="Given name.")
    last_name: str | None = strawberry.field(default=None, description="Family name.")
    company_name: str | None = strawberry.field(default=None, description="The company name as text.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The owner's user id; left out, nobody."
    )
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="The lifecycle stage; left out, the default stage from lifecycleSettings."
    )
    form_lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="For source FORM: the form's own default lifecycle stage."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name (see propertyDefinitions)."
    )
    source: ChangeSource = strawberry.field(
        default=ChangeSource.API,
        description="Where the change comes from, recorded in the property history: API (the default), UI, INTEGRATION or FORM.",
    )
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="An idempotency key: sending the same key again returns the first result and creates nothing twice.",
    )


@strawberry.input(description="Changes to a contact; a field left out stays as it is, null clears it.")
class UpdateContactInput:
    id: strawberry.ID = strawberry.field(description="The contact's id.")
    email: str | None = strawberry.field(
        default=UNSET, description="The new email address. Left out: unchanged."
    )
    first_name: str | None = strawberry.field(
        default=UNSET, description="The new given name. Left out: unchanged."
    )
    last_name: str | None = strawberry.field(
        default=UNSET, description="The new family name. Left out: unchanged."
    )
    company_name: str | None = strawberry.field(
        default=UNSET, description="The new company name text. Left out: unchanged."
    )
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=UNSET,
        description="The new lifecycle stage; moving backwards is refused with LIFECYCLE_BACKWARDS. Left out: unchanged.",
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name; others stay as they are."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you read; when the record has changed since, nothing is changed and the error is VERSION_CONFLICT.",
    )


@strawberry.input(description="A new company.")
class CreateCompanyInput:
    name: str | None = strawberry.field(default=None, description="The company's name.")
    domain: str | None = strawberry.field(
        default=None,
        description="The company's web domain (example.com); must not belong to another company (DUPLICATE).",
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The owner's user id; left out, nobody."
    )
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="The lifecycle stage; left out, the default stage from lifecycleSettings."
    )
    form_lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="For source FORM: the form's own default lifecycle stage."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name (see propertyDefinitions)."
    )
    source: ChangeSource = strawberry.field(
        default=ChangeSource.API,
        description="Where the change comes from, recorded in the property history: API (the default), UI, INTEGRATION or FORM.",
    )
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="An idempotency key: sending the same key again returns the first result and creates nothing twice.",
    )


@strawberry.input(description="Changes to a company; a field left out stays as it is, null clears it.")
class UpdateCompanyInput:
    id: strawberry.ID = strawberry.field(description="The company's id.")
    name: str | None = strawberry.field(default=UNSET, description="The new name. Left out: unchanged.")
    domain: str | None = strawberry.field(default=UNSET, description="The new domain. Left out: unchanged.")
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=UNSET,
        description="The new lifecycle stage; moving backwards is refused with LIFECYCLE_BACKWARDS. Left out: unchanged.",
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name; others stay as they are."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you read; when the record has changed since, nothing is changed and the error is VERSION_CONFLICT.",
    )


@strawberry.input(description="A new deal.")
class CreateDealInput:
    name: str = strawberry.field(description="The deal's name.")
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline the deal starts in.")
    stage_id: strawberry.ID = strawberry.field(description="The stage of that pipeline the deal starts in.")
    amount: Decimal | None = strawberry.field(default=None, description="The expected revenue, in currency.")
    currency: str = strawberry.field(
        default="USD", description="The ISO 4217 code of the amount's currency; USD when left out."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The owner's user id; left out, nobody."
    )
    close_date: datetime | None = strawberry.field(
        default=None, description="When the deal is expected to close."
    )
    contact_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Contacts to associate the deal with."
    )
    company_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Companies to associate the deal with."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name (see propertyDefinitions)."
    )
    source: ChangeSource = strawberry.field(
        default=ChangeSource.API,
        description="Where the change comes from, recorded in the property history: API (the default), UI, INTEGRATION or FORM.",
    )
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="An idempotency key: sending the same key again returns the first result and creates nothing twice.",
    )


@strawberry.input(description="Changes to a deal; a field left out stays as it is, null clears it.")
class UpdateDealInput:
    id: strawberry.ID = strawberry.field(description="The deal's id.")
    name: str | None = strawberry.field(default=UNSET, description="The new name. Left out: unchanged.")
    amount: Decimal | None = strawberry.field(
        default=UNSET, description="The new amount. Left out: unchanged."
    )
    currency: str | None = strawberry.field(
        default=UNSET, description="The new currency code. Left out: unchanged."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="A stage to move the deal to, as moveDeal does. Left out: unchanged."
    )
    close_date: datetime | None = strawberry.field(
        default=UNSET, description="The new expected close date. Left out: unchanged."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name; others stay as they are."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you read; when the record has changed since, nothing is changed and the error is VERSION_CONFLICT.",
    )


@strawberry.input(description="A deal and the stage to move it to.")
class MoveDealInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal's id.")
    stage_id: strawberry.ID = strawberry.field(
        description="The stage to move to, in the deal's pipeline or another one."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you read; when the record has changed since, nothing is changed and the error is VERSION_CONFLICT.",
    )


@strawberry.input(description="A new support ticket.")
class CreateTicketInput:
    subject: str = strawberry.field(description="What the ticket is about, in a line.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The owner's user id; left out, nobody."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Custom properties to set, by internal name (see propertyDefinitions)."
    )
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="An idempotency key: sending the same key again returns the first result and creates nothing twice.",
    )


@strawberry.input(description="The record to delete.")
class DeleteRecordInput:
    object_type: ObjectType = strawberry.field(description="The record's object type.")
    id: strawberry.ID = strawberry.field(description="The record's id.")


@strawberry.input(description="Two records to associate.")
class AssociateInput:
    from_type: ObjectType = strawberry.field(description="The first record's object type.")
    from_id: strawberry.ID = strawberry.field(description="The first record's id.")
    to_type: ObjectType = strawberry.field(description="The second record's object type.")
    to_id: strawberry.ID = strawberry.field(description="The second record's id.")
    primary: bool = strawberry.field(
        default=False, description="For a contact and a company: make it the contact's primary company."
    )


@strawberry.type(description="The result of a contact mutation.")
class ContactPayload:
    contact: Contact | None = strawberry.field(
        description="The contact as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of a company mutation.")
class CompanyPayload:
    company: Company | None = strawberry.field(
        description="The company as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of a deal mutation.")
class DealPayload:
    deal: Deal | None = strawberry.field(
        description="The deal as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of a ticket mutation.")
class TicketPayload:
    ticket: Ticket | None = strawberry.field(
        description="The ticket as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of a mutation that returns no object.")
class OkPayload:
    ok: bool = strawberry.field(description="True when the change was made.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


def payload(result: Result[Record], make: Callable[[Record], T]) -> tuple[T | None, list[UserError]]:
    return value_or_none(result, make), user_errors(result)


@strawberry.type
class RecordMutations:
    @strawberry.mutation(
        description="Create a contact; DUPLICATE (with the existing contact's id) when its email is taken."
    )
    async def create_contact(
        self,
        info: Info,
        input: Annotated[
            CreateContactInput,
            strawberry.argument(
                description="The new contact's properties and owner; a repeated clientMutationId returns the first result."
            ),
        ],
    ) -> ContactPayload:
        values = given(
            email=input.email, first_name=input.first_name, last_name=input.last_name,
            company_name=input.company_name, lifecycle_stage=input.lifecycle_stage,
        )  # fmt: skip
        new = NewRecord(
            ObjectType.CONTACT, values, opt_id(input.owner_id), props(input.properties),
            form_lifecycle_stage=input.form_lifecycle_stage,
        )  # fmt: skip
        result = await use_cases.create_record(
            info.context,
            new,
            source=DomainSource(input.source.value),
            idempotency_key=input.client_mutation_id,
        )
        contact, errors = payload(result, lambda r: Contact(record=r))
        return ContactPayload(contact=contact, user_errors=errors)

    @strawberry.mutation(
        description="Change a contact's properties; VERSION_CONFLICT when expectedVersion is stale."
    )
    async def update_contact(
        self,
        info: Info,
        input: Annotated[
            UpdateContactInput,
            strawberry.argument(
                description="The contact to change and the properties to set; fields left out stay as they are."
            ),
        ],
    ) -> ContactPayload:
        values = given(
            email=input.email, first_name=input.first_name, last_name=input.last_name,
            company_name=input.company_name, lifecycle_stage=input.lifecycle_stage,
        )  # fmt: skip
        change = Change(
            ObjectType.CONTACT, int(input.id), values, props(input.properties), input.expected_version
        )
        contact, errors = payload(
            await use_cases.update_record(info.context, change), lambda r: Contact(record=r)
        )
        return ContactPayload(contact=contact, user_errors=errors)

    @strawberry.mutation(
        description="Create a company; DUPLICATE (with the existing company's id) when its domain is taken."
    )
    async def create_company(
        self,
        info: Info,
        input: Annotated[
            CreateCompanyInput, strawberry.argument(description="The new company's properties and owner.")
        ],
    ) -> CompanyPayload:
        values = given(name=input.name, domain=input.domain, lifecycle_stage=input.lifecycle_stage)
        new = NewRecord(
            ObjectType.COMPANY, values, opt_id(input.owner_id), props(input.properties),
            form_lifecycle_stage=input.form_lifecycle_stage,
        )  # fmt: skip
        result = await use_cases.create_record(
            info.context,
            new,
            source=DomainSource(input.source.value),
            idempotency_key=input.client_mutation_id,
        )
        company, errors = payload(result, lambda r: Company(record=r))
        return CompanyPayload(company=company, user_errors=errors)

    @strawberry.mutation(
        description="Change a company's properties; VERSION_CONFLICT when expectedVersion is stale."
    )
    async def update_company(
        self,
        info: Info,
        input: Annotated[
            UpdateCompanyInput,
            strawberry.argument(
                description="The company to change and the properties to set; fields left out stay as they are."
            ),
        ],
    ) -> CompanyPayload:
        values = given(name=input.name, domain=input.domain, lifecycle_stage=input.lifecycle_stage)
        change = Change(
            ObjectType.COMPANY, int(input.id), values, props(input.properties), input.expected_version
        )
        company, errors = payload(
            await use_cases.update_record(info.context, change), lambda r: Company(record=r)
        )
        return CompanyPayload(company=company, user_errors=errors)

    @strawberry.mutation(
        description="Create a deal in a pipeline stage, associated with contacts and companies."
    )
    async def create_deal(
        self,
        info: Info,
        input: Annotated[
            CreateDealInput,
            strawberry.argument(
                description="The new deal's properties, pipeline, stage, owner and associations."
            ),
        ],
    ) -> DealPayload:
        values = {
            "name": input.name, "amount": input.amount, "currency": input.currency,
            "pipeline_id": int(input.pipeline_id), "stage_id": int(input.stage_id), "close_date": input.close_date,
        }  # fmt: skip
        new = NewRecord(
            ObjectType.DEAL, values, opt_id(input.owner_id), props(input.properties),
            contact_ids=ids(input.contact_ids), company_ids=ids(input.company_ids),
        )  # fmt: skip
        result = await use_cases.create_record(
            info.context,
            new,
            source=DomainSource(input.source.value),
            idempotency_key=input.client_mutation_id,
        )
        deal, errors = payload(result, lambda r: Deal(record=r))
        return DealPayload(deal=deal, user_errors=errors)

    @strawberry.mutation(description="Change a deal's properties; a new stageId moves it as moveDeal does.")
    async def update_deal(
        self,
        info: Info,
        input: Annotated[
            UpdateDealInput,
            strawberry.argument(
                description="The deal to change and the properties to set; fields left out stay as they are."
            ),
        ],
    ) -> DealPayload:
        values = given(
            name=input.name, amount=input.amount, currency=input.currency, close_date=input.close_date,
            stage_id=int(input.stage_id) if input.stage_id else input.stage_id,
        )  # fmt: skip
        change = Change(
            ObjectType.DEAL, int(input.id), values, props(input.properties), input.expected_version
        )
        deal, errors = payload(await use_cases.update_record(info.context, change), lambda r: Deal(record=r))
        return DealPayload(deal=deal, user_errors=errors)

    @strawberry.mutation(
        description="Move a deal to another stage, of its pipeline or another; a move into an approval stage starts the approval (status PENDING)."
    )
    async def move_deal(
        self,
        info: Info,
        input: Annotated[
            MoveDealInput,
            strawberry.argument(
                description="The deal, the stage to move it to and optionally the version it is expected to have."
            ),
        ],
    ) -> DealPayload:
        change = Change(
            ObjectType.DEAL,
            int(input.deal_id),
            {"stage_id": int(input.stage_id)},
            None,
            input.expected_version,
        )
        deal, errors = payload(await use_cases.update_record(info.context, change), lambda r: Deal(record=r))
        return DealPayload(deal=deal, user_errors=errors)

    @strawberry.mutation(description="Create a support ticket.")
    async def create_ticket(
        self,
        info: Info,
        input: Annotated[
            CreateTicketInput,
            strawberry.argument(description="The new ticket's properties, owner and associations."),
        ],
    ) -> TicketPayload:
        new = NewRecord(
            ObjectType.TICKET, {"subject": input.subject}, opt_id(input.owner_id), props(input.properties)
        )
        result = await use_cases.create_record(info.context, new, idempotency_key=input.client_mutation_id)
        ticket, errors = payload(result, lambda r: Ticket(record=r))
        return TicketPayload(ticket=ticket, user_errors=errors)

    @strawberry.mutation(
        description="Delete a contact, company, deal or ticket within the viewer's edit scope."
    )
    async def delete_record(
        self,
        info: Info,
        input: Annotated[
            DeleteRecordInput, strawberry.argument(description="The record's object type and id.")
        ],
    ) -> OkPayload:
        result = await use_cases.delete_record(info.context, input.object_type, int(input.id))
        return OkPayload(ok=value_or_none(result, bool) or False, user_errors=user_errors(result))

    @strawberry.mutation(
        description="Associate two records (a contact with a company, a deal with a contact, ...); primary makes the company the contact's primary company."
    )
    async def associate(
        self,
        info: Info,
        input: Annotated[
            AssociateInput,
            strawberry.argument(description="The two records and whether the association is primary."),
        ],
    ) -> OkPayload:
        result = await link_cases.associate(
            info.context,
            input.from_type,
            int(input.from_id),
            input.to_type,
            int(input.to_id),
            primary=input.primary,
        )
        return OkPayload(ok=value_or_none(result, bool) or False, user_errors=user_errors(result))
