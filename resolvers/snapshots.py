"""How records appear in events: text values and the deal snapshot every subscriber is shown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.events import NewEvent
from domain.records import ObjectType, Record


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def deal_snapshot(deal: Record) -> dict[str, Any]:
    """Everything a subscriber is shown of a deal, built once per event."""
    return {
        "id": deal.id,
        "name": deal.get("name"),
        "amount": as_text(deal.get("amount")),
        "currency": deal.get("currency"),
        "pipeline_id": deal.get("pipeline_id"),
        "stage_id": deal.get("stage_id"),
        "close_date": as_text(deal.get("close_date")),
        "latest_approval_status": deal.get("latest_approval_status"),
        "owner_id": deal.owner_id,
        "properties": deal.properties,
        "created_at": deal.created_at.isoformat(),
        "updated_at": deal.updated_at.isoformat(),
        "version": deal.version,
    }


def deal_event(kind: str, deal: Record, **extra: Any) -> NewEvent:
    return NewEvent(
        type=f"deal.{kind}",
        payload={"deal": deal_snapshot(deal), **extra},
        owner_id=deal.owner_id,
        pipeline_id=int(str(deal.get("pipeline_id"))),
        deal_id=deal.id,
    )


def deal_from_snapshot(snapshot: Mapping[str, Any]) -> Record:
    """The deal an event carries, rebuilt without a query (one payload serves every subscriber)."""
    amount = snapshot.get("amount")
    close = snapshot.get("close_date")
    return Record(
        type=ObjectType.DEAL,
        id=snapshot["id"],
        values={
            "name": snapshot["name"],
            "amount": Decimal(amount) if amount is not None else None,
            "currency": snapshot["currency"],
            "pipeline_id": snapshot["pipeline_id"],
            "stage_id": snapshot["stage_id"],
            "close_date": datetime.fromisoformat(close) if close else None,
            "latest_approval_status": snapshot.get("latest_approval_status"),
        },
        owner_id=snapshot["owner_id"],
        properties=snapshot.get("properties") or {},
        created_at=datetime.fromisoformat(snapshot["created_at"]),
        updated_at=datetime.fromisoformat(snapshot["updated_at"]),
        last_activity_date=None,
        last_contacted=None,
        version=snapshot["version"],
    )
