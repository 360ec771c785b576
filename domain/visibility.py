"""Which records a viewer may see or change: DESIGN 2."""

from __future__ import annotations

from .records import Scope, Viewer


def visible_owner_ids(viewer: Viewer, scope: Scope) -> frozenset[int] | None:
    """Owner ids a scope admits, or None for every record (scope ALL).

    OWNED admits the viewer's own records; TEAM adds those owned by members of the
    viewer's teams. Unowned records are admitted only by ALL, as in HubSpot.
    """
    if scope is Scope.ALL:
        return None
    if scope is Scope.TEAM:
        return viewer.teammate_ids | {viewer.id}
    return frozenset({viewer.id})


def can_see(viewer: Viewer, owner_id: int | None, audience: frozenset[int] = frozenset()) -> bool:
    """A record is visible in scope, or because the viewer is in its audience (an approver)."""
    if viewer.id in audience:
        return True
    owners = visible_owner_ids(viewer, viewer.user.view_scope)
    return owners is None or (owner_id is not None and owner_id in owners)


def can_edit(viewer: Viewer, owner_id: int | None) -> bool:
    owners = visible_owner_ids(viewer, viewer.user.edit_scope)
    return owners is None or (owner_id is not None and owner_id in owners)
