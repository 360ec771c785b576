"""Rotate to owner: who is eligible, who gets the next record, when counts reset (seed 003)."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping

from .records import TeamMember


def eligible_owners(chosen: Iterable[int | TeamMember], active_user_ids: Collection[int]) -> tuple[int, ...]:
    """Seed 003: chosen users, or a team's PRIMARY members only (never additional ones), if active.

    Pass user ids for "specific people" (which may name additional team members one by one) or a
    team's memberships; deactivated users are never chosen (DESIGN 2).
    """
    picks = list(chosen)
    users = {c for c in picks if isinstance(c, int)}
    primaries = {c.user_id for c in picks if isinstance(c, TeamMember) and c.is_primary}
    return tuple(sorted((users | primaries) & set(active_user_ids)))


def should_rotate(current_owner_id: int | None, overwrite: bool) -> bool:
    """Seed 003: by default the action skips records that already have an owner, unless overwrite is on."""
    return current_owner_id is None or overwrite


def counts_for(owner_ids: Iterable[int], counts: Mapping[int, int]) -> dict[int, int]:
    """Seed 003: the action's own count for each eligible owner (zero for one not yet counted)."""
    return {owner_id: counts.get(owner_id, 0) for owner_id in owner_ids}


def choose_owner(counts: Mapping[int, int], rng: random.Random) -> int:
    """Seed 003: the owner with the lowest count for this action; ties are broken at random."""
    if not counts:
        raise ValueError("a rotation needs at least one eligible owner")
    lowest = min(counts.values())
    return rng.choice(sorted(owner_id for owner_id, n in counts.items() if n == lowest))


def counts_after_assignment(counts: Mapping[int, int], owner_id: int) -> dict[int, int]:
    """Seed 003: each record the action assigns adds one to its owner's count."""
    return {**counts, owner_id: counts.get(owner_id, 0) + 1}


def counts_after_owner_list_change(
    old_ids: Iterable[int], new_ids: Iterable[int], counts: Mapping[int, int]
) -> dict[int, int]:
    """Seed 003: adding or removing owners of the action resets its counts; reordering is no change."""
    new = list(new_ids)
    if set(old_ids) == set(new):
        return dict(counts)
    return dict.fromkeys(new, 0)
