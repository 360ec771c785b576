"""Scopes: OWNED sees its own, TEAM adds teammates', ALL sees everything; audiences see regardless."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.records import Scope, User, Viewer
from domain.visibility import can_edit, can_see, visible_owner_ids


def viewer(scope: Scope, *, edit: Scope = Scope.ALL, teammates: frozenset[int] = frozenset()) -> Viewer:
    user = User(1, "a@example.com", "A", True, False, False, scope, edit, datetime.now(UTC))
    return Viewer(user=user, teammate_ids=teammates)


@pytest.mark.parametrize(
    ("scope", "owner_id", "visible"),
    [
        (Scope.ALL, 1, True), (Scope.ALL, 2, True), (Scope.ALL, 3, True), (Scope.ALL, None, True),
        (Scope.TEAM, 1, True), (Scope.TEAM, 2, True), (Scope.TEAM, 3, False), (Scope.TEAM, None, False),
        (Scope.OWNED, 1, True), (Scope.OWNED, 2, False), (Scope.OWNED, 3, False), (Scope.OWNED, None, False),
    ],
)  # fmt: skip
def test_view_scope_decides_which_owners_records_are_visible(
    scope: Scope, owner_id: int | None, visible: bool
) -> None:
    assert can_see(viewer(scope, teammates=frozenset({2})), owner_id) is visible


def test_an_approver_in_the_audience_sees_a_record_outside_their_scope() -> None:
    assert can_see(viewer(Scope.OWNED), owner_id=7, audience=frozenset({1}))


def test_edit_scope_is_checked_separately_from_view_scope() -> None:
    v = viewer(Scope.ALL, edit=Scope.OWNED)
    assert can_see(v, 2) and not can_edit(v, 2) and can_edit(v, 1)


def test_all_scope_has_no_owner_filter() -> None:
    assert visible_owner_ids(viewer(Scope.ALL), Scope.ALL) is None
