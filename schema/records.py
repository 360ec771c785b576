"""Contact, Company, Deal and Ticket types, resolved through per-request loaders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db import records as record_store
from domain.ids import record_kind
from domain.records import ObjectType, Record, Scope
from resolvers.loaders import (
    approval_process_loader,
    latest_approval_loader,
    linked_ids,
    linked_records,
    pipeline_loader,
    primary_company_loader,
    record_loader,
    stage_loader,
    users_by_id,
    visible_records,
)

from .enums import ApprovalStatus, ChangeSource, LifecycleStage
from .info import Info
from .node_ids import Node, node_id
from .pipelines import Pipeline, Stage
from .prefetched import UNLOADED, prefetched
from .users import User, load_user

if TYPE_CHECKING:
    from .approvals import DealApproval
    from .quotes import Quote


@strawberry.type(description="One change of one property: its old and new value, who made it, how and when.")
class PropertyChange:
    name: str = strawberry.field(description="The property's internal name.")
    old_value: str | None = strawberry.field(
        description="The value before the change, as text; null when it was empty."
    )
    new_value: str | None = strawberry.field(
        description="The value after the change, as text; null when it was cleared."
    )
    source: ChangeSource = strawberry.field(
        description="Where the change came from: a user through the API or UI, an import, a workflow, ..."
    )
    changed_by_id: strawberry.Private[int | None]
    changed_at: datetime = strawberry.field(description="When the change was made.")

    @strawberry.field(
        description="The user who made it; null for changes by the system (workflows, automation)."
    )
    async def changed_by(self, info: Info) -> User | None:
        return await load_user(info, self.changed_by_id)


@strawberry.interface(description="What every CRM record (contact, company, deal, ticket) has in common.")
class CrmRecord(Node):
    """Scalar fields are plain attributes filled from the record once: graphql-core reads them directly,
    without a resolver call per field (DESIGN 11: per-field overhead dominates big responses)."""

    record: strawberry.Private[Record]
    id: strawberry.ID = strawberry.field(default=strawberry.ID(""), description="The record's global id.")
    properties: JSON = strawberry.field(
        description="Every property of the record, standard and custom, by internal name; values as stored (strings, numbers, booleans or null).",
        default_factory=dict,
    )
    created_at: datetime = strawberry.field(default=datetime.min, description="When the record was created.")
    updated_at: datetime = strawberry.field(default=datetime.min, description="When the record last changed.")
    last_activity_date: datetime | None = strawberry.field(
        default=None,
        description="When an engagement (note, email, call, meeting, task) was last logged on it; null if never.",
    )
    last_contacted: datetime | None = strawberry.field(
        default=None, description="When an email, call or meeting with it was last logged; null if never."
    )
    version: int = strawberry.field(
        default=0,
        description="Incremented by every change; pass it as expectedVersion to update only if nobody changed the record since you read it.",
    )
    prefetched_owner: strawberry.Private[Any] = UNLOADED

    def __post_init__(self) -> None:
        r = self.record
        self.id = node_id(record_kind(r.type), r.id)
        self.properties = r.properties  # type: ignore[assignment]
        self.created_at, self.updated_at = r.created_at, r.updated_at
        self.last_activity_date, self.last_contacted, self.version = (
            r.last_activity_date,
            r.last_contacted,
            r.version,
        )
        self.fill(r)

    def fill(self, record: Record) -> None:
        """Copy the type's own standard values onto attributes."""

    @strawberry.field(
        description="The user who owns the record; null when it has no owner.",
        metadata=prefetched("prefetched_owner"),
    )
    def owner(self, info: Info) -> User | None:
        if self.prefetched_owner is not UNLOADED:
            return self.prefetched_owner  # type: ignore[no-any-return]
        return load_user(info, self.record.owner_id)  # type: ignore[return-value]  # an awaitable; graphql-core awaits it

    @strawberry.field(description="Every change of one property, newest first.")
    async def property_history(
        self,
        info: Info,
        name: Annotated[
            str, strawberry.argument(description="The property's internal name, for example email or amount.")
        ],
    ) -> list[PropertyChange]:
        changes = await record_store.list_history(info.context.pool, self.record.type, self.record.id, name)
        return [
            PropertyChange(
                name=c.name,
                old_value=c.old_value,
                new_value=c.new_value,
                source=c.source,
                changed_by_id=c.changed_by,
                changed_at=c.changed_at,
            )
            for c in changes
        ]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _stage(value: object) -> LifecycleStage | None:
    return LifecycleStage(str(value)) if value else None


@strawberry.interface(description="A contact or a company: a record that goes through lifecycle stages.")
class LifecycleRecord(CrmRecord):
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=None,
        description="Where the record is in the buying journey (subscriber to customer); null when not set.",
    )
    close_date: datetime | None = strawberry.field(
        default=None, description="Set when an associated deal is won (deal-won setting on)."
    )
    days_to_close: int | None = strawberry.field(
        default=None,
        description="Days from the record's creation to its closeDate; null until an associated deal is won.",
    )

    def fill(self, record: Record) -> None:
        self.lifecycle_stage = _stage(record.get("lifecycle_stage"))
        close = record.get("close_date")
        self.close_date = close if isinstance(close, datetime) else None
        days = record.get("days_to_close")
        self.days_to_close = int(str(days)) if days is not None else None


@strawberry.type(description="A person: a lead, a customer or anyone the team talks to.")
class Contact(LifecycleRecord):
    email: str | None = strawberry.field(
        default=None, description="The contact's email address; unique among contacts, null when unknown."
    )
    first_name: str | None = strawberry.field(default=None, description="Given name; null when unknown.")
    last_name: str | None = strawberry.field(default=None, description="Family name; null when unknown.")
    company_name: str | None = strawberry.field(
        default=None,
        description="The company name as entered (a text property, not the associated company); null when unknown.",
    )

    def fill(self, record: Record) -> None:
        super().fill(record)
        self.email, self.company_name = _text(record.get("email")), _text(record.get("company_name"))
        self.first_name, self.last_name = _text(record.get("first_name")), _text(record.get("last_name"))

    @strawberry.field(description="The company the contact is primarily associated with; null when none.")
    async def primary_company(self, info: Info) -> Company | None:
        company_id = await primary_company_loader(info.context).load(self.record.id)
        if company_id is None:
            return None
        found = await record_loader(info.context, ObjectType.COMPANY).load(company_id)
        return Company(record=found) if found else None

    @strawberry.field(description="Every company the contact is associated with.")
    async def companies(self, info: Info) -> list[Company]:
        found = await linked_records(info.context, ObjectType.CONTACT, self.record.id, ObjectType.COMPANY)
        return [Company(record=r) for r in found]

    @strawberry.field(description="Every deal the contact is associated with.")
    async def deals(self, info: Info) -> list[Deal]:
        found = await linked_records(info.context, ObjectType.CONTACT, self.record.id, ObjectType.DEAL)
        return [Deal(record=r) for r in found]


@strawberry.type(description="An organisation the team sells to.")
class Company(LifecycleRecord):
    name: str | None = strawberry.field(default=None, description="The company's name; null when unknown.")
    domain: str | None = strawberry.field(
        default=None,
        description="The company's web domain (example.com); unique among companies, null when unknown.",
    )

    def fill(self, record: Record) -> None:
        super().fill(record)
        self.name, self.domain = _text(record.get("name")), _text(record.get("domain"))

    @strawberry.field(description="The contacts associated with the company.")
    async def contacts(self, info: Info) -> list[Contact]:
        found = await linked_records(info.context, ObjectType.COMPANY, self.record.id, ObjectType.CONTACT)
        return [Contact(record=r) for r in found]

    @strawberry.field(description="The deals associated with the company.")
    async def deals(self, info: Info) -> list[Deal]:
        found = await linked_records(info.context, ObjectType.COMPANY, self.record.id, ObjectType.DEAL)
        return [Deal(record=r) for r in found]


@strawberry.type(description="A sales opportunity: an amount moving through the stages of a pipeline.")
class Deal(CrmRecord):
    name: str = strawberry.field(default="", description="The deal's name.")
    amount: Decimal | None = strawberry.field(
        default=None, description="The expected revenue, in the deal's currency; null when not set."
    )
    currency: str = strawberry.field(
        default="", description="The ISO 4217 code of the amount's currency, for example EUR."
    )
    close_date: datetime | None = strawberry.field(
        default=None, description="When the deal closed or is expected to close; null when not set."
    )
    latest_approval_status: ApprovalStatus | None = strawberry.field(
        default=None,
        description="The status of the deal's latest approval; null when it never entered an approval stage.",
    )
    prefetched_contacts: strawberry.Private[Any] = UNLOADED

    def fill(self, record: Record) -> None:
        self.name, self.currency = str(record.get("name")), str(record.get("currency"))
        amount = record.get("amount")
        self.amount = amount if type(amount) is Decimal or amount is None else Decimal(str(amount))
        close = record.get("close_date")
        self.close_date = datetime.fromisoformat(close) if isinstance(close, str) else close  # type: ignore[assignment]
        status = record.get("latest_approval_status")
        self.latest_approval_status = ApprovalStatus(str(status)) if status else None

    @strawberry.field(description="The pipeline the deal is in.")
    async def pipeline(self, info: Info) -> Pipeline:
        found = await pipeline_loader(info.context).load(self.record.ref("pipeline_id"))
        assert found is not None
        return Pipeline.from_domain(found)

    @strawberry.field(description="The deal's stage in its pipeline.")
    async def stage(self, info: Info) -> Stage:
        found = await stage_loader(info.context).load(self.record.ref("stage_id"))
        assert found is not None
        return Stage.from_domain(found)

    @strawberry.field(description="The deal's latest approval, if it ever entered an approval stage.")
    async def approval(
        self, info: Info
    ) -> Annotated[DealApproval, strawberry.lazy("schema.approvals")] | None:
        from .approvals import DealApproval

        ctx = info.context
        if (
            ctx.me.user.view_scope is not Scope.ALL
            and await record_loader(ctx, ObjectType.DEAL).load(self.record.id) is None
        ):  # shown through a quote awaiting its approver: the approval thread is not theirs
            return None
        found = await latest_approval_loader(info.context).load(self.record.id)
        if found is None:
            return None
        process = await approval_process_loader(info.context).load(self.record.ref("pipeline_id"))
        approvers = process.approver_ids if process and process.id == found.process_id else ()
        return DealApproval(approval=found, approver_ids=approvers)

    @strawberry.field(description="The deal's quotes, oldest first.")
    async def quotes(self, info: Info) -> list[Annotated[Quote, strawberry.lazy("schema.quotes")]]:
        from .quotes import deal_quotes

        return await deal_quotes(info, self.record.id)

    @strawberry.field(
        description="The contacts associated with the deal.", metadata=prefetched("prefetched_contacts")
    )
    def contacts(self, info: Info) -> list[Contact]:
        if self.prefetched_contacts is not UNLOADED:
            return self.prefetched_contacts  # type: ignore[no-any-return]
        return self._contacts(info)  # type: ignore[return-value]  # an awaitable; graphql-core awaits it

    async def _contacts(self, info: Info) -> list[Contact]:
        found = await linked_records(info.context, ObjectType.DEAL, self.record.id, ObjectType.CONTACT)
        return [Contact(record=r) for r in found]

    @strawberry.field(description="The companies associated with the deal.")
    async def companies(self, info: Info) -> list[Company]:
        found = await linked_records(info.context, ObjectType.DEAL, self.record.id, ObjectType.COMPANY)
        return [Company(record=r) for r in found]


@strawberry.type(description="A support request from a customer.")
class Ticket(CrmRecord):
    subject: str = strawberry.field(default="", description="What the ticket is about, in a line.")

    def fill(self, record: Record) -> None:
        self.subject = str(record.get("subject"))


# The columns each field of a record type reads from its record: what a page that selects only some
# fields needs to read (decoding the rest of 800 rows costs more than the fields themselves).
# tests/api/test_board_columns.py holds it to every field of the types and to their answers.
_COMMON_FIELDS: dict[str, tuple[str, ...]] = {
    "id": (),
    "properties": ("properties",),
    "createdAt": ("created_at",),
    "updatedAt": ("updated_at",),
    "lastActivityDate": ("last_activity_date",),
    "lastContacted": ("last_contacted",),
    "version": ("version",),
    "owner": ("owner_id",),
    "propertyHistory": (),
}
FIELD_COLUMNS: dict[type[CrmRecord], dict[str, tuple[str, ...]]] = {
    Contact: {
        **_COMMON_FIELDS,
        "email": ("email",),
        "firstName": ("first_name",),
        "lastName": ("last_name",),
        "companyName": ("company_name",),
        "lifecycleStage": ("lifecycle_stage",),
        "closeDate": ("close_date",),
        "daysToClose": ("days_to_close",),
        "primaryCompany": (),
        "companies": (),
        "deals": (),
    },
    Deal: {
        **_COMMON_FIELDS,
        "name": ("name",),
        "amount": ("amount",),
        "currency": ("currency",),
        "closeDate": ("close_date",),
        "latestApprovalStatus": ("latest_approval_status",),
        "pipeline": ("pipeline_id",),
        "stage": ("stage_id",),
        "approval": ("pipeline_id",),
        "quotes": (),
        "contacts": (),
        "companies": (),
    },
}


def columns_for(kind: type[CrmRecord], requested: frozenset[str]) -> frozenset[str]:
    """The columns a page of `kind` must read when the names in `requested` are selected somewhere
    under the page: those of every field of the type so named (another type's field of the same
    name costs a column at most). FIELD_COLUMNS lists every field of the type (a test holds it to the
    schema), so no selected field goes without its columns."""
    known = FIELD_COLUMNS[kind]
    return frozenset(c for name in requested if name in known for c in known[name])


async def prefetch(info: Info, nodes: Sequence[CrmRecord], requested: frozenset[str]) -> None:
    """Load the owners (and deals' contacts) of a whole page at once, when the query asks for them,
    so their fields resolve synchronously: one statement each, through the same reads as the
    loaders (scope included), with no task, future or dataloader batch per node or key."""
    ctx = info.context
    if "owner" in requested:
        owner_ids = sorted({n.record.owner_id for n in nodes if n.record.owner_id is not None})
        users = {i: User.from_domain(u) for i, u in (await users_by_id(ctx, owner_ids)).items()}
        for n in nodes:
            n.prefetched_owner = users.get(n.record.owner_id) if n.record.owner_id is not None else None
    deals = [n for n in nodes if isinstance(n, Deal)]
    if "contacts" in requested and deals:
        links = await linked_ids(ctx, ObjectType.DEAL, [d.record.id for d in deals], ObjectType.CONTACT)
        ids = sorted({c for found in links.values() for c in found})
        found = await visible_records(ctx, ObjectType.CONTACT, ids, columns_for(Contact, requested))
        contacts = {i: Contact(record=r) for i, r in found.items()}
        for deal in deals:
            deal.prefetched_contacts = [contacts[c] for c in links.get(deal.record.id, ()) if c in contacts]


def requested_fields(info: Info) -> frozenset[str]:
    """Every field name selected anywhere under the current field."""
    names: set[str] = set()
    stack = list(info.selected_fields)
    while stack:
        field = stack.pop()
        for child in getattr(field, "selections", ()):
            names.add(getattr(child, "name", ""))
            stack.append(child)
    return frozenset(names)


TYPES: dict[ObjectType, type[CrmRecord]] = {
    ObjectType.CONTACT: Contact,
    ObjectType.COMPANY: Company,
    ObjectType.DEAL: Deal,
    ObjectType.TICKET: Ticket,
}


def from_record(record: Record) -> CrmRecord:
    return TYPES[record.type](record=record)


SearchHit = Annotated[
    Contact | Company | Deal | Ticket,
    strawberry.union(
        "SearchHit", description="A record that matched a search: a contact, company, deal or ticket."
    ),
]
