"""How records appear in events: text values and the deal snapshot every subscriber is shown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.events import NewEvent
from domain.records import ObjectType, Record


def camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(p.title() for p in rest)


def history_rows(before: Record | None, after: Record) -> list[tuple[int, str, str | None, str | None]]:
    rows = []
    for column, new in after.values.items():
        old = before.values.get(column) if before else None
        if as_text(old) != as_text(new):
            rows.append((after.id, camel(column), as_text(old), as_text(new)))
    if (before.owner_id if before else None) != after.owner_id:
        rows.append(
            (after.id, "ownerId", as_text(before.owner_id if before else None), as_text(after.owner_id))
        )
    old_props = before.properties if before else {}
    for key in sorted(set(old_props) | set(after.properties)):
        if as_text(old_props.get(key)) != as_text(after.properties.get(key)):
            rows.append(
                (
                    after.id,
                    f"properties.{key}",
                    as_text(old_props.get(key)),
                    as_text(after.properties.get(key)),
                )
            )
    return rows


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
        pipeline_id=deal.ref("pipeline_id"),
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
