"""Contact, Company, Deal and Ticket types, resolved through per-request loaders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db import records as record_store
from domain.records import ObjectType, Record
from resolvers.loaders import (
    approval_process_loader,
    latest_approval_loader,
    linked_records,
    pipeline_loader,
    primary_company_loader,
    record_loader,
    stage_loader,
)

from .enums import ApprovalStatus, ChangeSource, LifecycleStage
from .info import Info
from .pipelines import Pipeline, Stage
from .users import User, load_user

if TYPE_CHECKING:
    from .approvals import DealApproval


@strawberry.type
class PropertyChange:
    name: str
    old_value: str | None
    new_value: str | None
    source: ChangeSource
    changed_by_id: strawberry.Private[int | None]
    changed_at: datetime

    @strawberry.field
    async def changed_by(self, info: Info) -> User | None:
        return await load_user(info, self.changed_by_id)


@strawberry.interface
class CrmRecord:
    record: strawberry.Private[Record]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.id))

    @strawberry.field
    def properties(self) -> JSON:
        return self.record.properties  # type: ignore[return-value]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field
    def last_activity_date(self) -> datetime | None:
        return self.record.last_activity_date

    @strawberry.field
    def last_contacted(self) -> datetime | None:
        return self.record.last_contacted

    @strawberry.field
    def version(self) -> int:
        return self.record.version

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        return await load_user(info, self.record.owner_id)

    @strawberry.field
    async def property_history(self, info: Info, name: str) -> list[PropertyChange]:
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

    def text(self, column: str) -> str | None:
        value = self.record.get(column)
        return None if value is None else str(value)

    def raw(self, column: str) -> Any:
        return self.record.get(column)


@strawberry.interface
class LifecycleRecord(CrmRecord):
    @strawberry.field
    def lifecycle_stage(self) -> LifecycleStage | None:
        return _stage(self.record.get("lifecycle_stage"))

    @strawberry.field(description="Set when an associated deal is won (deal-won setting on).")
    def close_date(self) -> datetime | None:
        value = self.raw("close_date")
        return value if isinstance(value, datetime) else None

    @strawberry.field
    def days_to_close(self) -> int | None:
        value = self.raw("days_to_close")
        return int(value) if value is not None else None


def _stage(value: object) -> LifecycleStage | None:
    return LifecycleStage(str(value)) if value else None


@strawberry.type
class Contact(LifecycleRecord):
    @strawberry.field
    def email(self) -> str | None:
        return self.text("email")

    @strawberry.field
    def first_name(self) -> str | None:
        return self.text("first_name")

    @strawberry.field
    def last_name(self) -> str | None:
        return self.text("last_name")

    @strawberry.field
    def company_name(self) -> str | None:
        return self.text("company_name")

    @strawberry.field
    async def primary_company(self, info: Info) -> Company | None:
        company_id = await primary_company_loader(info.context).load(self.record.id)
        if company_id is None:
            return None
        found = await record_loader(info.context, ObjectType.COMPANY).load(company_id)
        return Company(record=found) if found else None

    @strawberry.field
    async def companies(self, info: Info) -> list[Company]:
        found = await linked_records(info.context, ObjectType.CONTACT, self.record.id, ObjectType.COMPANY)
        return [Company(record=r) for r in found]

    @strawberry.field
    async def deals(self, info: Info) -> list[Deal]:
        found = await linked_records(info.context, ObjectType.CONTACT, self.record.id, ObjectType.DEAL)
        return [Deal(record=r) for r in found]


@strawberry.type
class Company(LifecycleRecord):
    @strawberry.field
    def name(self) -> str | None:
        return self.text("name")

    @strawberry.field
    def domain(self) -> str | None:
        return self.text("domain")

    @strawberry.field
    async def contacts(self, info: Info) -> list[Contact]:
        found = await linked_records(info.context, ObjectType.COMPANY, self.record.id, ObjectType.CONTACT)
        return [Contact(record=r) for r in found]

    @strawberry.field
    async def deals(self, info: Info) -> list[Deal]:
        found = await linked_records(info.context, ObjectType.COMPANY, self.record.id, ObjectType.DEAL)
        return [Deal(record=r) for r in found]


@strawberry.type
class Deal(CrmRecord):
    @strawberry.field
    def name(self) -> str:
        return str(self.text("name"))

    @strawberry.field
    def amount(self) -> Decimal | None:
        value = self.raw("amount")
        return Decimal(value) if value is not None else None

    @strawberry.field
    def currency(self) -> str:
        return str(self.text("currency"))

    @strawberry.field
    def close_date(self) -> datetime | None:
        value = self.raw("close_date")
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    @strawberry.field
    def latest_approval_status(self) -> ApprovalStatus | None:
        value = self.text("latest_approval_status")
        return ApprovalStatus(value) if value else None

    @strawberry.field
    async def pipeline(self, info: Info) -> Pipeline:
        found = await pipeline_loader(info.context).load(int(self.raw("pipeline_id")))
        assert found is not None
        return Pipeline.from_domain(found)

    @strawberry.field
    async def stage(self, info: Info) -> Stage:
        found = await stage_loader(info.context).load(int(self.raw("stage_id")))
        assert found is not None
        return Stage.from_domain(found)

    @strawberry.field(description="The deal's latest approval, if it ever entered an approval stage.")
    async def approval(
        self, info: Info
    ) -> Annotated[DealApproval, strawberry.lazy("schema.approvals")] | None:
        from .approvals import DealApproval

        found = await latest_approval_loader(info.context).load(self.record.id)
        if found is None:
            return None
        process = await approval_process_loader(info.context).load(int(self.raw("pipeline_id")))
        approvers = process.approver_ids if process and process.id == found.process_id else ()
        return DealApproval(approval=found, approver_ids=approvers)

    @strawberry.field
    async def contacts(self, info: Info) -> list[Contact]:
        found = await linked_records(info.context, ObjectType.DEAL, self.record.id, ObjectType.CONTACT)
        return [Contact(record=r) for r in found]

    @strawberry.field
    async def companies(self, info: Info) -> list[Company]:
        found = await linked_records(info.context, ObjectType.DEAL, self.record.id, ObjectType.COMPANY)
        return [Company(record=r) for r in found]


@strawberry.type
class Ticket(CrmRecord):
    @strawberry.field
    def subject(self) -> str:
        return str(self.text("subject"))


TYPES: dict[ObjectType, type[CrmRecord]] = {
    ObjectType.CONTACT: Contact,
    ObjectType.COMPANY: Company,
    ObjectType.DEAL: Deal,
    ObjectType.TICKET: Ticket,
}


def from_record(record: Record) -> CrmRecord:
    return TYPES[record.type](record=record)


SearchHit = Annotated[Contact | Company | Deal | Ticket, strawberry.union("SearchHit")]
