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


@strawberry.input
class CreateContactInput:
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    owner_id: strawberry.ID | None = None
    lifecycle_stage: LifecycleStage | None = None
    form_lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="For source FORM: the form's own default lifecycle stage."
    )
    properties: JSON | None = None
    source: ChangeSource = ChangeSource.API
    client_mutation_id: str | None = None


@strawberry.input
class UpdateContactInput:
    id: strawberry.ID
    email: str | None = UNSET
    first_name: str | None = UNSET
    last_name: str | None = UNSET
    company_name: str | None = UNSET
    lifecycle_stage: LifecycleStage | None = UNSET
    properties: JSON | None = None
    expected_version: int | None = None


@strawberry.input
class CreateCompanyInput:
    name: str | None = None
    domain: str | None = None
    owner_id: strawberry.ID | None = None
    lifecycle_stage: LifecycleStage | None = None
    form_lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None, description="For source FORM: the form's own default lifecycle stage."
    )
    properties: JSON | None = None
    source: ChangeSource = ChangeSource.API
    client_mutation_id: str | None = None


@strawberry.input
class UpdateCompanyInput:
    id: strawberry.ID
    name: str | None = UNSET
    domain: str | None = UNSET
    lifecycle_stage: LifecycleStage | None = UNSET
    properties: JSON | None = None
    expected_version: int | None = None


@strawberry.input
class CreateDealInput:
    name: str
    pipeline_id: strawberry.ID
    stage_id: strawberry.ID
    amount: Decimal | None = None
    currency: str = "USD"
    owner_id: strawberry.ID | None = None
    close_date: datetime | None = None
    contact_ids: list[strawberry.ID] | None = None
    company_ids: list[strawberry.ID] | None = None
    properties: JSON | None = None
    source: ChangeSource = ChangeSource.API
    client_mutation_id: str | None = None


@strawberry.input
class UpdateDealInput:
    id: strawberry.ID
    name: str | None = UNSET
    amount: Decimal | None = UNSET
    currency: str | None = UNSET
    stage_id: strawberry.ID | None = UNSET
    close_date: datetime | None = UNSET
    properties: JSON | None = None
    expected_version: int | None = None


@strawberry.input
class MoveDealInput:
    deal_id: strawberry.ID
    stage_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class CreateTicketInput:
    subject: str
    owner_id: strawberry.ID | None = None
    properties: JSON | None = None
    client_mutation_id: str | None = None


@strawberry.input
class DeleteRecordInput:
    object_type: ObjectType
    id: strawberry.ID


@strawberry.input
class AssociateInput:
    from_type: ObjectType
    from_id: strawberry.ID
    to_type: ObjectType
    to_id: strawberry.ID
    primary: bool = False


@strawberry.type
class ContactPayload:
    contact: Contact | None
    user_errors: list[UserError]


@strawberry.type
class CompanyPayload:
    company: Company | None
    user_errors: list[UserError]


@strawberry.type
class DealPayload:
    deal: Deal | None
    user_errors: list[UserError]


@strawberry.type
class TicketPayload:
    ticket: Ticket | None
    user_errors: list[UserError]


@strawberry.type
class OkPayload:
    ok: bool
    user_errors: list[UserError]


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
