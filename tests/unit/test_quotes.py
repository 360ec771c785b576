"""Seed 001: the quote status machine (every status, every action), exact totals and input checks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.codes import RuleCode
from domain.quotes import (
    APPROVED,
    CHANGES_REQUESTED,
    NEEDS_APPROVAL,
    LineItem,
    Quote,
    QuoteAction,
    QuoteStatus,
    Refusal,
    approval_automations,
    decide,
    from_snapshot,
    line_item_problems,
    line_total,
    quote_problems,
    render,
    settings_problem,
    to_snapshot,
    totals,
)

S = QuoteStatus
A = QuoteAction
CREATOR, APPROVER, STRANGER = 1, 2, 3
WRONG = RuleCode.QUOTE_WRONG_STATUS
LOCKED = RuleCode.QUOTE_NOT_EDITABLE

# With approval required, acting as the quote's approver, with notes: what each action does in each status.
MACHINE: dict[tuple[QuoteStatus, QuoteAction], tuple[QuoteStatus, ...] | RuleCode] = {
    (S.DRAFT, A.EDIT): (),
    (S.DRAFT, A.PUBLISH): (S.PENDING_APPROVAL,),
    (S.DRAFT, A.APPROVE): WRONG,
    (S.DRAFT, A.REQUEST_CHANGES): WRONG,
    (S.DRAFT, A.RECALL): WRONG,
    (S.PENDING_APPROVAL, A.EDIT): LOCKED,
    (S.PENDING_APPROVAL, A.PUBLISH): WRONG,
    (S.PENDING_APPROVAL, A.APPROVE): (S.APPROVED, S.PUBLISHED),
    (S.PENDING_APPROVAL, A.REQUEST_CHANGES): (S.CHANGES_REQUESTED,),
    (S.PENDING_APPROVAL, A.RECALL): (S.RECALLED,),
    (S.CHANGES_REQUESTED, A.EDIT): (),
    (S.CHANGES_REQUESTED, A.PUBLISH): (S.PENDING_APPROVAL,),
    (S.CHANGES_REQUESTED, A.APPROVE): WRONG,
    (S.CHANGES_REQUESTED, A.REQUEST_CHANGES): WRONG,
    (S.CHANGES_REQUESTED, A.RECALL): WRONG,
    (S.APPROVED, A.EDIT): LOCKED,
    (S.APPROVED, A.PUBLISH): WRONG,
    (S.APPROVED, A.APPROVE): WRONG,
    (S.APPROVED, A.REQUEST_CHANGES): WRONG,
    (S.APPROVED, A.RECALL): WRONG,
    (S.PUBLISHED, A.EDIT): LOCKED,
    (S.PUBLISHED, A.PUBLISH): WRONG,
    (S.PUBLISHED, A.APPROVE): WRONG,
    (S.PUBLISHED, A.REQUEST_CHANGES): WRONG,
    (S.PUBLISHED, A.RECALL): (S.RECALLED,),
    (S.RECALLED, A.EDIT): (S.DRAFT,),
    (S.RECALLED, A.PUBLISH): (S.PENDING_APPROVAL,),
    (S.RECALLED, A.APPROVE): WRONG,
    (S.RECALLED, A.REQUEST_CHANGES): WRONG,
    (S.RECALLED, A.RECALL): WRONG,
    (S.DRAFT, A.SIGN): WRONG,
    (S.PENDING_APPROVAL, A.SIGN): WRONG,
    (S.CHANGES_REQUESTED, A.SIGN): WRONG,
    (S.APPROVED, A.SIGN): WRONG,
    (S.PUBLISHED, A.SIGN): (S.SIGNED,),
    (S.RECALLED, A.SIGN): RuleCode.QUOTE_RECALLED,
    (S.SIGNED, A.EDIT): LOCKED,
    (S.SIGNED, A.PUBLISH): WRONG,
    (S.SIGNED, A.APPROVE): WRONG,
    (S.SIGNED, A.REQUEST_CHANGES): WRONG,
    (S.SIGNED, A.RECALL): WRONG,
    (S.SIGNED, A.SIGN): RuleCode.QUOTE_ALREADY_SIGNED,
}


def outcome(found: tuple[QuoteStatus, ...] | Refusal) -> tuple[QuoteStatus, ...] | RuleCode:
    return found.code if isinstance(found, Refusal) else found


def test_the_table_covers_every_status_and_every_action() -> None:
    assert set(MACHINE) == {(s, a) for s in QuoteStatus for a in QuoteAction}


@pytest.mark.parametrize(("status", "action"), sorted(MACHINE))
def test_each_action_in_each_status_follows_the_quote_status_machine(
    status: QuoteStatus, action: QuoteAction
) -> None:
    found = decide(status, action, actor_id=APPROVER, approver_id=APPROVER, approval_required=True, notes="n")
    assert outcome(found) == MACHINE[(status, action)]


@pytest.mark.parametrize("status", [S.DRAFT, S.CHANGES_REQUESTED, S.RECALLED])
def test_without_required_approval_publishing_goes_straight_to_published(status: QuoteStatus) -> None:
    found = decide(status, A.PUBLISH, actor_id=CREATOR, approver_id=None, approval_required=False)
    assert found == (S.PUBLISHED,)


@pytest.mark.parametrize("action", [A.APPROVE, A.REQUEST_CHANGES])
@pytest.mark.parametrize("actor", [CREATOR, STRANGER])
def test_only_the_quotes_approver_approves_or_requests_changes(action: QuoteAction, actor: int) -> None:
    found = decide(
        S.PENDING_APPROVAL, action, actor_id=actor, approver_id=APPROVER, approval_required=True, notes="n"
    )
    assert outcome(found) is RuleCode.NOT_APPROVER


def test_a_creator_who_is_the_approver_may_approve_their_own_quote() -> None:
    found = decide(
        S.PENDING_APPROVAL, A.APPROVE, actor_id=CREATOR, approver_id=CREATOR, approval_required=True
    )
    assert found == (S.APPROVED, S.PUBLISHED)


@pytest.mark.parametrize("notes", [None, "", "   "])
def test_requesting_changes_needs_notes(notes: str | None) -> None:
    found = decide(
        S.PENDING_APPROVAL, A.REQUEST_CHANGES, actor_id=APPROVER, approver_id=APPROVER,
        approval_required=True, notes=notes,
    )  # fmt: skip
    assert isinstance(found, Refusal)
    assert (found.code, found.field) == (RuleCode.QUOTE_NOTES_REQUIRED, "notes")


def test_a_published_quote_is_read_only_until_recalled() -> None:
    found = decide(S.PUBLISHED, A.EDIT, actor_id=CREATOR, approver_id=None, approval_required=False)
    assert isinstance(found, Refusal)
    assert "recall" in found.reason


def item(quantity: int, price: str, discount: str = "0") -> LineItem:
    return LineItem("Seat", quantity, Decimal(price), Decimal(discount))


@pytest.mark.parametrize(
    ("line", "amount"),
    [
        (item(3, "19.99"), "59.97"),
        (item(3, "19.99", "15"), "50.97"),  # 50.9745
        (item(1, "0.125"), "0.13"),  # half up, not half even
        (item(1, "10.10", "2.5"), "9.85"),  # 9.8475
        (item(2, "100", "100"), "0.00"),
        (item(0, "99.99", "10"), "0.00"),
        (item(1_000_000_000, "999999999999.99", "33.3333"), "666666999999993333330.00"),
    ],
)
def test_a_line_amount_is_quantity_times_price_less_discount_rounded_half_up_to_cents(
    line: LineItem, amount: str
) -> None:
    assert line_total(line) == Decimal(amount)
    assert str(line_total(line)) == amount


def test_totals_are_exact_decimal_sums_of_the_rounded_lines() -> None:
    found = totals([item(1, "0.10"), item(1, "0.20"), item(3, "19.99", "15"), item(1, "0.005")])
    assert (found.subtotal, found.discount, found.total) == (
        Decimal("60.28"), Decimal("9.00"), Decimal("51.28"),
    )  # fmt: skip
    assert found.subtotal - found.discount == found.total


def test_a_quote_without_line_items_totals_zero() -> None:
    found = totals([])
    assert (str(found.subtotal), str(found.discount), str(found.total)) == ("0.00", "0.00", "0.00")


def test_rounding_never_makes_a_negative_discount() -> None:
    lines = [item(1, "0.005"), item(1, "0.005"), item(7, "0.0049", "0.1")]
    assert totals(lines).discount >= 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (item(-1, "10"), "lineItems.0.quantity"),
        (item(1, "-0.01"), "lineItems.0.unitPrice"),
        (item(1, "10", "-1"), "lineItems.0.discountPercent"),
        (item(1, "10", "100.01"), "lineItems.0.discountPercent"),
        (item(1, "NaN"), "lineItems.0.unitPrice"),
        (LineItem("  ", 1, Decimal(1)), "lineItems.0.name"),
    ],
)
def test_bad_line_items_are_named_by_their_field(line: LineItem, field: str) -> None:
    assert [f for f, _ in line_item_problems([line])] == [field]


@pytest.mark.parametrize("discount", ["0", "100", "12.5"])
def test_discounts_from_zero_to_one_hundred_are_accepted(discount: str) -> None:
    assert line_item_problems([item(1, "10", discount)]) == []


def test_every_bad_line_is_reported_at_once() -> None:
    found = line_item_problems([item(1, "1"), item(-2, "1", "101")])
    assert [f for f, _ in found] == ["lineItems.1.quantity", "lineItems.1.discountPercent"]


def test_a_quote_needs_a_title_and_a_three_letter_currency() -> None:
    assert [f for f, _ in quote_problems(" ", None, "usd")] == ["title", "currency"]
    assert quote_problems("Q", "terms", "EUR") == []
    assert quote_problems(None, None, None) == []


def test_requiring_approval_needs_one_active_approver() -> None:
    missing = settings_problem(True, None)
    inactive = settings_problem(True, False)
    assert missing is not None and missing.code is RuleCode.QUOTE_APPROVER_REQUIRED
    assert inactive is not None and inactive.code is RuleCode.INACTIVE_USER
    assert settings_problem(True, True) is None
    assert settings_problem(False, None) is None


def test_requiring_approval_installs_three_workflows_on_the_quote_status() -> None:
    found = {a.system_key: a for a in approval_automations(APPROVER)}
    assert set(found) == {NEEDS_APPROVAL, CHANGES_REQUESTED, APPROVED}
    assert found[NEEDS_APPROVAL].status is S.PENDING_APPROVAL
    assert [a["type"] for a in found[NEEDS_APPROVAL].actions] == ["CREATE_TASK", "SEND_NOTIFICATION"]
    assert all(a["owner_ids"] == [APPROVER] for a in found[NEEDS_APPROVAL].actions)
    assert found[CHANGES_REQUESTED].actions[0]["body"] == "{{notes}}"
    assert {a["type"] for a in found[APPROVED].actions} == {"SEND_NOTIFICATION", "SET_PROPERTY"}
    assert found[APPROVED].filter_groups == [[{"property": "status", "operator": "EQ", "value": "APPROVED"}]]


def quote(**changes: object) -> Quote:
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": 7, "deal_id": 3, "title": "Q-7", "status": S.CHANGES_REQUESTED,
        "line_items": (item(2, "12.50", "10"),), "currency": "EUR", "terms": None, "expires_at": at,
        "created_by": CREATOR, "approver_id": APPROVER, "change_notes": "Lower the discount",
        "public_token": "secret", "published_at": None, "created_at": at, "updated_at": at, "version": 3,
    }  # fmt: skip
    return Quote(**{**fields, **changes})  # type: ignore[arg-type]


def test_workflow_texts_hold_the_quote_title_and_the_approvers_notes() -> None:
    assert render("Fix '{{title}}': {{notes}}", quote()) == "Fix 'Q-7': Lower the discount"
    assert render(None, quote()) == ""


def test_an_event_snapshot_rebuilds_the_quote_without_its_public_token() -> None:
    original = quote()
    rebuilt = from_snapshot(to_snapshot(original))
    assert "secret" not in str(to_snapshot(original))
    assert rebuilt.line_items == original.line_items
    assert rebuilt.totals == original.totals
    assert (rebuilt.public_token, rebuilt.expires_at, rebuilt.version) == ("", original.expires_at, 3)
