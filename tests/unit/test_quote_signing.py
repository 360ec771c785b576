"""Seed 001 without a database: when a quote may be signed, what a signer gives, quote lists and workflows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.codes import RuleCode
from domain.filters import Direction, FilterError, Kind, parse_filter_groups
from domain.quote_lists import LIST_CATALOG, parse_quote_sort
from domain.quote_signing import sign_blocker, signer_problems
from domain.quotes import QuoteStatus, from_snapshot, to_snapshot
from domain.workflows import QUOTE_CATALOG, Action, ActionType, action_problem
from tests.unit.test_quotes import quote

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
S = QuoteStatus


def code(found: object) -> RuleCode | None:
    return getattr(found, "code", None)


@pytest.mark.parametrize(
    ("status", "expires_at", "expected"),
    [
        (S.PUBLISHED, None, None),
        (S.PUBLISHED, NOW + timedelta(seconds=1), None),
        (S.PUBLISHED, NOW, RuleCode.QUOTE_EXPIRED),
        (S.PUBLISHED, NOW - timedelta(days=1), RuleCode.QUOTE_EXPIRED),
        (S.RECALLED, None, RuleCode.QUOTE_RECALLED),
        (S.SIGNED, NOW - timedelta(days=1), RuleCode.QUOTE_ALREADY_SIGNED),
        (S.DRAFT, None, RuleCode.QUOTE_WRONG_STATUS),
        (S.PENDING_APPROVAL, None, RuleCode.QUOTE_WRONG_STATUS),
        (S.APPROVED, None, RuleCode.QUOTE_WRONG_STATUS),
    ],
)
def test_only_a_published_unexpired_quote_may_be_signed(
    status: QuoteStatus, expires_at: datetime | None, expected: RuleCode | None
) -> None:
    assert code(sign_blocker(status, expires_at, NOW)) == expected


@pytest.mark.parametrize(
    ("name", "email", "fields"),
    [
        ("Ada Lovelace", "ada@example.com", []),
        ("  ", "ada@example.com", ["name"]),
        ("x" * 201, "ada@example.com", ["name"]),
        ("Ada", "not-an-address", ["email"]),
        ("Ada", "ada @example.com", ["email"]),
        ("", "", ["name", "email"]),
    ],
)
def test_a_signer_gives_a_name_and_a_valid_email_address(name: str, email: str, fields: list[str]) -> None:
    found = signer_problems(name, email)
    assert [p.field for p in found] == fields
    assert all(p.code is RuleCode.INVALID for p in found)


def test_a_signed_quotes_event_snapshot_keeps_the_signer() -> None:
    signed = quote(status=S.SIGNED, signed_at=NOW, signer_name="Ada", signer_email="ada@example.com")
    rebuilt = from_snapshot(to_snapshot(signed))
    assert (rebuilt.status, rebuilt.signed_at, rebuilt.signer_name, rebuilt.signer_email) == (
        S.SIGNED, NOW, "Ada", "ada@example.com",
    )  # fmt: skip
    assert from_snapshot({k: v for k, v in to_snapshot(quote()).items() if "sign" not in k}).signed_at is None


def test_quotes_filter_on_status_deal_creator_and_approver() -> None:
    raw = [[{"property": "status", "operator": "EQ", "value": "PENDING_APPROVAL"},
            {"property": "approverId", "operator": "EQ", "value": "7"}],
           [{"property": "dealId", "operator": "IN", "values": ["1", "2"]},
            {"property": "createdById", "operator": "EQ", "value": "3"}]]  # fmt: skip
    groups = parse_filter_groups("QUOTE", raw, LIST_CATALOG)
    assert [[(c.target, c.kind, c.value or c.values) for c in g] for g in groups.groups] == [
        [("status", Kind.ENUM, "PENDING_APPROVAL"), ("approver_id", Kind.ID, 7)],
        [("deal_id", Kind.ID, (1, 2)), ("created_by", Kind.ID, 3)],
    ]
    with pytest.raises(FilterError, match="not one of"):
        parse_filter_groups(
            "QUOTE", [[{"property": "status", "operator": "EQ", "value": "SENT"}]], LIST_CATALOG
        )
    with pytest.raises(FilterError, match="unknown property 'ownerId'"):
        parse_filter_groups(
            "QUOTE", [[{"property": "ownerId", "operator": "EQ", "value": "1"}]], LIST_CATALOG
        )


def test_quotes_sort_newest_first_by_default_and_only_on_their_own_properties() -> None:
    default = parse_quote_sort()
    assert (default.column, default.direction) == ("created_at", Direction.DESC)
    assert parse_quote_sort("total", "ASC").kind is Kind.NUMBER
    for bad in (("stageId", "ASC"), ("properties.x", "ASC"), ("title", "UP")):
        with pytest.raises(FilterError):
            parse_quote_sort(*bad)


def test_signed_is_a_status_quote_workflows_filter_on() -> None:
    assert "SIGNED" in QUOTE_CATALOG["status"].choices
    assert set(LIST_CATALOG["status"].choices) == set(QuoteStatus)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("12", None), (None, "stage id"), ("", "stage id"), ("twelve", "stage id"), ("9" * 20, "stage id")],
)
def test_a_quote_workflow_moves_the_quotes_deal_only_to_a_stage_id(
    value: str | None, problem: str | None
) -> None:
    found = action_problem(
        Action(0, 0, ActionType.SET_PROPERTY, property="deal.stageId", value=value), "QUOTE"
    )
    assert (found is None) if problem is None else (problem in (found or ""))
    deal_workflow = action_problem(
        Action(0, 0, ActionType.SET_PROPERTY, property="status", value="X"), "QUOTE"
    )
    assert deal_workflow is not None
