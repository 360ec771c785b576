"""What the outbox stores: one event per change a client may watch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# One shared empty audience: an import appends thousands of events, each of which made its own.
NO_ONE: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append in the transaction of its change.

    `owner_id` scopes it like the record it is about; `audience` names users who
    see it whatever their scope (a notification's recipient, a deal's approvers).
    """

    type: str
    payload: dict[str, Any]
    owner_id: int | None = None
    audience: frozenset[int] = NO_ONE
    pipeline_id: int | None = None
    deal_id: int | None = None
    quote_id: int | None = None
    import_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    sequence: int
    type: str
    payload: dict[str, Any]
    owner_id: int | None
    audience: frozenset[int]
    pipeline_id: int | None
    deal_id: int | None
    quote_id: int | None
    import_id: int | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "type": self.type,
            "payload": self.payload,
            "owner_id": self.owner_id,
            "audience": sorted(self.audience),
            "pipeline_id": self.pipeline_id,
            "deal_id": self.deal_id,
            "quote_id": self.quote_id,
            "import_id": self.import_id,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StoredEvent:
        return cls(
            sequence=int(data["sequence"]),
            type=data["type"],
            payload=data["payload"],
            owner_id=data["owner_id"],
            audience=frozenset(data["audience"]),
            pipeline_id=data["pipeline_id"],
            deal_id=data["deal_id"],
            quote_id=data["quote_id"],
            import_id=data["import_id"],
        )


SESSION_CHANGED = "session.changed"


def session_changed(
    user_ids: frozenset[int] = frozenset(), token_ids: frozenset[int] = frozenset()
) -> NewEvent:
    """DESIGN 2: a token revoked or a user's access changed; every process re-checks its open sessions
    of these users and tokens (no subscription streams it: its audience and owner are empty)."""
    return NewEvent(
        type=SESSION_CHANGED, payload={"user_ids": sorted(user_ids), "token_ids": sorted(token_ids)}
    )
