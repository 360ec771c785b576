"""Seed 000: deal approvals: start guards, decisions, notifications and the approval-stage gate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from domain.approvals import (
    Action,
    ApprovalState,
    ApprovalStatus,
    EventType,
    Mode,
    Transition,
    Vote,
    decide,
    enters_approval_stage,
    move_blocker,
    start_approval,
    start_blocker,
    stuck,
)
from domain.codes import Refusal, RuleCode
from domain.records import Scope, User

OWNER, A, B, C, STRANGER, ADMIN = 1, 2, 3, 4, 8, 9
S = ApprovalStatus
VOTES = (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES)


def user(id: int, *, active: bool = True, can_approve: bool = True) -> User:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    return User(
        id, f"u{id}@example.com", f"User {id}", active, False, can_approve, Scope.ALL, Scope.ALL, created
    )


def state(
    status: ApprovalStatus = S.PENDING,
    mode: Mode = Mode.ANY,
    approvers: tuple[int, ...] = (A, B),
    owner: int | None = OWNER,
    votes: tuple[Vote, ...] = (),
) -> ApprovalState:
    return ApprovalState(7, owner, mode, tuple(user(i) for i in approvers), status, votes)


def moved(outcome: Transition | Refusal) -> Transition:
    assert isinstance(outcome, Transition), outcome
    return outcome


def code_of(outcome: Transition | Refusal | None) -> RuleCode:
    assert isinstance(outcome, Refusal), outcome
    return outcome.code


# --- start guards -------------------------------------------------------------------------------------


def test_an_approval_starts_pending_and_notifies_every_approver() -> None:
    t = start_approval(7, OWNER, [user(A), user(B)], Mode.ALL, actor_id=OWNER)
    assert t.state.status is S.PENDING
    (event,) = t.events
    assert (event.type, event.notify, event.to_status) == (EventType.STARTED, frozenset({A, B}), S.PENDING)


def test_a_deal_without_an_owner_cannot_start_an_approval() -> None:
    assert code_of(start_blocker(None, [user(A)], Mode.ANY)) is RuleCode.APPROVAL_NO_OWNER


@pytest.mark.parametrize("mode", list(Mode))
def test_owner_who_is_the_only_approver_cannot_start_an_approval(mode: Mode) -> None:
    assert code_of(start_blocker(OWNER, [user(OWNER)], mode)) is RuleCode.APPROVAL_OWNER_IS_APPROVER


def test_owner_who_is_an_approver_when_all_must_approve_cannot_start_an_approval() -> None:
    blocker = start_blocker(OWNER, [user(OWNER), user(A)], Mode.ALL)
    assert code_of(blocker) is RuleCode.APPROVAL_OWNER_IS_APPROVER


def test_owner_who_is_one_of_several_approvers_when_any_may_approve_can_start_an_approval() -> None:
    assert start_blocker(OWNER, [user(OWNER), user(A)], Mode.ANY) is None


@pytest.mark.parametrize(
    "approver", [user(B, active=False), user(B, can_approve=False)], ids=["deactivated", "no-permission"]
)
@pytest.mark.parametrize("mode", list(Mode))
def test_an_approver_deactivated_or_without_the_approve_permission_keeps_the_approval_from_starting(
    approver: User, mode: Mode
) -> None:
    blocker = start_blocker(OWNER, [user(A), approver], mode)
    assert code_of(blocker) is RuleCode.APPROVAL_APPROVER_INELIGIBLE
    assert blocker is not None and "User 3" in blocker.reason


@pytest.mark.parametrize(
    ("owner", "approvers", "mode"),
    [
        (None, [user(A)], Mode.ANY),
        (OWNER, [user(OWNER)], Mode.ANY),
        (OWNER, [user(OWNER), user(A)], Mode.ALL),
        (OWNER, [user(A, active=False)], Mode.ANY),
    ],
)
def test_an_approval_that_cannot_start_stays_not_started_with_a_reason_and_a_next_step(
    owner: int | None, approvers: list[User], mode: Mode
) -> None:
    t = start_approval(7, owner, approvers, mode, actor_id=A)
    assert t.state.status is S.NOT_STARTED
    assert t.state.blocker is not None and t.state.blocker.reason and "restart" in t.state.blocker.next_step
    assert [(e.type, e.notify) for e in t.events] == [(EventType.NOT_STARTED, frozenset())]


# --- every status x every action ------------------------------------------------------------------------

WRONG = RuleCode.APPROVAL_WRONG_STATUS
STATUSES = list(S)  # NOT_STARTED PENDING CHANGES_REQUESTED APPROVED REJECTED CANCELLED
ACTOR = {Action.RESUBMIT: OWNER, Action.RESTART: OWNER, Action.CANCEL: ADMIN}
OUTCOMES: dict[Mode, dict[Action, tuple[ApprovalStatus | RuleCode, ...]]] = {
    Mode.ANY: {
        Action.APPROVE: (WRONG, S.APPROVED, WRONG, WRONG, WRONG, WRONG),
        Action.REJECT: (WRONG, S.REJECTED, WRONG, WRONG, WRONG, WRONG),
        Action.REQUEST_CHANGES: (WRONG, S.CHANGES_REQUESTED, WRONG, WRONG, WRONG, WRONG),
        Action.RESUBMIT: (WRONG, WRONG, S.PENDING, WRONG, WRONG, WRONG),
        Action.RESTART: (S.PENDING, WRONG, WRONG, WRONG, WRONG, WRONG),
        Action.CANCEL: (S.CANCELLED,) * 6,
    },
}
OUTCOMES[Mode.ALL] = {**OUTCOMES[Mode.ANY], Action.APPROVE: (WRONG, S.PENDING, WRONG, WRONG, WRONG, WRONG)}
TABLE = [
    (mode, action, status, outcomes[i])
    for mode, by_action in OUTCOMES.items()
    for action, outcomes in by_action.items()
    for i, status in enumerate(STATUSES)
]


@pytest.mark.parametrize(("mode", "action", "status", "expected"), TABLE)
def test_every_action_in_every_status_moves_the_approval_or_is_refused_with_its_code(
    mode: Mode, action: Action, status: ApprovalStatus, expected: ApprovalStatus | RuleCode
) -> None:
    outcome = decide(state(status, mode), ACTOR.get(action, A), action, "a reason")
    if isinstance(expected, ApprovalStatus):
        assert moved(outcome).state.status is expected
    else:
        assert code_of(outcome) is expected


def test_the_table_covers_every_status_and_every_action() -> None:
    assert len(TABLE) == len(Mode) * len(Action) * len(ApprovalStatus)


# --- who may act ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", VOTES)
def test_only_an_approver_may_decide(action: Action, status: ApprovalStatus) -> None:
    assert code_of(decide(state(status), STRANGER, action, "why")) is RuleCode.NOT_APPROVER


@pytest.mark.parametrize("action", VOTES)
def test_a_deal_owner_cannot_decide_on_their_own_deal_even_when_listed_as_an_approver(action: Action) -> None:
    listed = state(mode=Mode.ANY, approvers=(OWNER, A))
    assert code_of(decide(listed, OWNER, action, "why")) is RuleCode.NOT_APPROVER


@pytest.mark.parametrize("actor", [A, STRANGER])
def test_only_the_deal_owner_may_resubmit(actor: int) -> None:
    assert code_of(decide(state(S.CHANGES_REQUESTED), actor, Action.RESUBMIT)) is RuleCode.NOT_DEAL_OWNER


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_rejecting_needs_a_reason(reason: str | None) -> None:
    assert code_of(decide(state(), A, Action.REJECT, reason)) is RuleCode.APPROVAL_REASON_REQUIRED


@pytest.mark.parametrize("comment", [None, "", "\n\t"])
def test_requesting_changes_needs_a_comment(comment: str | None) -> None:
    outcome = decide(state(), A, Action.REQUEST_CHANGES, comment)
    assert code_of(outcome) is RuleCode.APPROVAL_COMMENT_REQUIRED


@pytest.mark.parametrize("message", [None, "", "Looks good"])
def test_approving_takes_an_optional_message(message: str | None) -> None:
    (event,) = moved(decide(state(), A, Action.APPROVE, message)).events
    assert event.text == (message or None)


@pytest.mark.parametrize("action", VOTES)
def test_an_approver_who_has_decided_cannot_decide_again(action: Action) -> None:
    after_a = moved(decide(state(mode=Mode.ALL), A, Action.APPROVE)).state
    assert code_of(decide(after_a, A, action, "again")) is RuleCode.APPROVAL_ALREADY_DECIDED


# --- modes ---------------------------------------------------------------------------------------------


def test_when_any_may_approve_the_first_approval_approves() -> None:
    assert (
        moved(decide(state(mode=Mode.ANY, approvers=(A, B, C)), B, Action.APPROVE)).state.status is S.APPROVED
    )


def test_when_all_must_approve_the_deal_is_approved_only_after_every_approver() -> None:
    s = state(mode=Mode.ALL, approvers=(A, B, C))
    for approver, status in [(A, S.PENDING), (C, S.PENDING), (B, S.APPROVED)]:
        s = moved(decide(s, approver, Action.APPROVE)).state
        assert s.status is status
    assert {v.approver_id for v in s.votes} == {A, B, C}


def test_when_all_must_approve_one_rejection_rejects() -> None:
    s = moved(decide(state(mode=Mode.ALL), A, Action.APPROVE)).state
    assert moved(decide(s, B, Action.REJECT, "Too cheap")).state.status is S.REJECTED


@pytest.mark.parametrize("mode", list(Mode))
def test_requesting_changes_moves_the_approval_to_changes_requested_in_either_mode(mode: Mode) -> None:
    outcome = decide(state(mode=mode), B, Action.REQUEST_CHANGES, "Fix the amount")
    assert moved(outcome).state.status is S.CHANGES_REQUESTED


# --- notifications and events --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("action", VOTES)
def test_the_owner_is_notified_of_every_decision(action: Action, mode: Mode) -> None:
    (event,) = moved(decide(state(mode=mode), A, action, "text")).events
    assert (event.type, event.action, event.actor_id, event.notify) == (
        EventType.DECIDED,
        action,
        A,
        frozenset({OWNER}),
    )


def test_resubmitting_makes_the_approval_pending_clears_decisions_and_notifies_the_approvers() -> None:
    s = state(mode=Mode.ALL, approvers=(A, B, C))
    s = moved(decide(s, A, Action.APPROVE)).state
    s = moved(decide(s, B, Action.REQUEST_CHANGES, "Lower the discount")).state
    t = moved(decide(s, OWNER, Action.RESUBMIT, "Done"))
    assert (t.state.status, t.state.votes) == (S.PENDING, ())
    (event,) = t.events
    assert (event.type, event.notify, event.text) == (EventType.RESUBMITTED, frozenset({A, B, C}), "Done")
    assert moved(decide(t.state, A, Action.APPROVE)).state.status is S.PENDING  # A decides afresh


def test_restart_starts_the_approval_once_the_cause_is_fixed_and_notifies_the_approvers() -> None:
    blocked = start_approval(7, None, [user(A)], Mode.ANY, actor_id=A).state
    fixed = ApprovalState(7, OWNER, Mode.ANY, blocked.approvers, blocked.status, blocker=blocked.blocker)
    t = moved(decide(fixed, OWNER, Action.RESTART))
    assert (t.state.status, t.state.blocker) == (S.PENDING, None)
    assert [(e.type, e.from_status, e.notify) for e in t.events] == [
        (EventType.STARTED, S.NOT_STARTED, frozenset({A}))
    ]


def test_restart_while_the_cause_remains_is_refused_with_the_cause() -> None:
    blocked = state(S.NOT_STARTED, approvers=(OWNER,))
    assert code_of(decide(blocked, OWNER, Action.RESTART)) is RuleCode.APPROVAL_OWNER_IS_APPROVER


@pytest.mark.parametrize("status", [s for s in STATUSES if s is not S.CANCELLED])
def test_disabling_the_process_cancels_the_approval_whatever_its_status(status: ApprovalStatus) -> None:
    t = moved(decide(state(status), ADMIN, Action.CANCEL))
    assert [(e.type, e.from_status, e.to_status) for e in t.events] == [
        (EventType.CANCELLED, status, S.CANCELLED)
    ]


def test_cancelling_a_cancelled_approval_changes_nothing() -> None:
    cancelled = state(S.CANCELLED)
    assert decide(cancelled, ADMIN, Action.CANCEL) == Transition(cancelled, ())


def test_approval_events_reach_the_approvers_whatever_their_scope() -> None:
    (event,) = moved(decide(state(), A, Action.REJECT, "No budget")).events
    stored = event.to_new_event({"id": 3, "status": "REJECTED"}, pipeline_id=2)
    assert (stored.type, stored.deal_id, stored.pipeline_id, stored.owner_id, stored.audience) == (
        "approval.decided",
        7,
        2,
        OWNER,
        frozenset({A, B, OWNER}),
    )
    assert stored.payload == {
        "approval": {"id": 3, "status": "REJECTED"},
        "action": "REJECT",
        "actor_id": A,
        "from_status": "PENDING",
        "text": "No budget",
    }


# --- the approval-stage gate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    id: int
    display_order: int
    kind: str = "OPEN"


S0, S1, GATE, S3 = Stage(10, 0), Stage(11, 1), Stage(12, 2), Stage(13, 3)
WON, LOST = Stage(14, 4, "CLOSED_WON"), Stage(15, 5, "CLOSED_LOST")
STAGES = (S0, S1, GATE, S3, WON, LOST)
FROM: tuple[Stage | None, ...] = (None, *STAGES)  # None: the deal is being created

# Rows: from (created, S0, S1, GATE, S3, WON, LOST); columns: to (S0, S1, GATE, S3, WON, LOST).
# "." allowed, "A" APPROVAL_REQUIRED, "X" APPROVAL_REJECTED_ONLY_CLOSED_LOST.
NOT_APPROVED = ("...AA.", "...AA.", "...AA.", "...AA.", "....A.", "...A..", "...AA.")
GATES = {
    None: NOT_APPROVED,
    S.APPROVED: ("......",) * 7,
    S.REJECTED: ("XXXXX.", ".XXXX.", "X.XXX.", "XX.XX.", "XXX.X.", "XXXX..", "XXXXX."),
}
CODES = {".": None, "A": RuleCode.APPROVAL_REQUIRED, "X": RuleCode.APPROVAL_REJECTED_ONLY_CLOSED_LOST}
GATE_TABLE = [
    (status, origin, target, CODES[GATES.get(status, NOT_APPROVED)[row][col]])
    for status in [None, *STATUSES]
    for row, origin in enumerate(FROM)
    for col, target in enumerate(STAGES)
]


def gate(
    origin: Stage | None, target: Stage, status: ApprovalStatus | None, exempt: bool = False
) -> RuleCode | None:
    blocker = move_blocker(origin, target, STAGES, GATE.id, status, exempt)
    return None if blocker is None else blocker.code


@pytest.mark.parametrize(("status", "origin", "target", "expected"), GATE_TABLE)
def test_every_move_between_stages_in_every_approval_state_obeys_the_gate(
    status: ApprovalStatus | None, origin: Stage | None, target: Stage, expected: RuleCode | None
) -> None:
    assert gate(origin, target, status) == expected


def test_the_gate_table_has_a_row_per_origin_and_a_column_per_target() -> None:
    assert all(len(rows) == len(FROM) and {len(r) for r in rows} == {len(STAGES)} for rows in GATES.values())


@pytest.mark.parametrize("status", [S.NOT_STARTED, S.PENDING, S.CHANGES_REQUESTED, S.CANCELLED, None])
@pytest.mark.parametrize("origin", [S0, S1, GATE])
@pytest.mark.parametrize("target", [S3, WON])
def test_a_deal_cannot_move_past_the_approval_stage_without_approval(
    origin: Stage, target: Stage, status: ApprovalStatus | None
) -> None:
    assert gate(origin, target, status) is RuleCode.APPROVAL_REQUIRED


@pytest.mark.parametrize("target", [S3, WON])
def test_an_approved_deal_may_move_past_the_approval_stage(target: Stage) -> None:
    assert gate(GATE, target, S.APPROVED) is None


@pytest.mark.parametrize("exempt", [False, True])
@pytest.mark.parametrize("status", [None, *STATUSES])
@pytest.mark.parametrize("origin", FROM)
def test_a_deal_may_move_to_closed_lost_from_any_stage_in_any_state(
    origin: Stage | None, status: ApprovalStatus | None, exempt: bool
) -> None:
    assert gate(origin, LOST, status, exempt) is None


@pytest.mark.parametrize("target", [S0, S1, S3, WON])
def test_rejected_deal_can_only_move_to_closed_lost(target: Stage) -> None:
    assert gate(GATE, target, S.REJECTED) is RuleCode.APPROVAL_REJECTED_ONLY_CLOSED_LOST


@pytest.mark.parametrize("target", [S3, WON])
def test_creating_a_deal_directly_past_the_approval_stage_is_refused(target: Stage) -> None:
    assert gate(None, target, None) is RuleCode.APPROVAL_REQUIRED


@pytest.mark.parametrize("target", [S0, S1, GATE])
def test_creating_a_deal_in_or_before_the_approval_stage_is_allowed(target: Stage) -> None:
    assert gate(None, target, None) is None


@pytest.mark.parametrize(("origin", "target"), [(S3, WON), (WON, S3), (S3, S0), (WON, GATE)])
def test_deals_already_past_the_approval_stage_when_it_was_enabled_are_not_gated(
    origin: Stage, target: Stage
) -> None:
    assert gate(origin, target, None, exempt=True) is None


@pytest.mark.parametrize(("origin", "target"), [(S1, S0), (S0, S1), (GATE, S0), (S3, S1), (WON, GATE)])
@pytest.mark.parametrize("status", [None, S.NOT_STARTED, S.PENDING, S.CHANGES_REQUESTED])
def test_moving_back_or_within_the_stages_before_approval_is_always_allowed(
    origin: Stage, target: Stage, status: ApprovalStatus | None
) -> None:
    assert gate(origin, target, status) is None


def test_a_deal_in_closed_lost_cannot_skip_approval_on_its_way_to_closed_won() -> None:
    assert gate(LOST, WON, None) is RuleCode.APPROVAL_REQUIRED


@pytest.mark.parametrize("status", [None, *STATUSES])
@pytest.mark.parametrize("origin", FROM)
@pytest.mark.parametrize("target", STAGES)
def test_a_pipeline_without_an_approval_process_gates_nothing(
    origin: Stage | None, target: Stage, status: ApprovalStatus | None
) -> None:
    assert move_blocker(origin, target, STAGES, None, status, False) is None


def test_a_gate_whose_stage_is_not_in_the_pipeline_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="approval stage 99"):
        move_blocker(S0, S3, STAGES, 99, None, False)


@pytest.mark.parametrize(
    ("origin", "target", "approval_stage", "enters"),
    [
        (S1.id, GATE.id, GATE.id, True),
        (None, GATE.id, GATE.id, True),
        (S3.id, GATE.id, GATE.id, True),
        (GATE.id, GATE.id, GATE.id, False),
        (S0.id, S1.id, GATE.id, False),
        (GATE.id, S3.id, GATE.id, False),
        (S1.id, GATE.id, None, False),
    ],
)
def test_a_deal_requests_approval_when_it_enters_the_approval_stage(
    origin: int | None, target: int, approval_stage: int | None, enters: bool
) -> None:
    assert enters_approval_stage(origin, target, approval_stage) is enters


# --- who may decide now, and approvals that cannot finish (seed 000) -----------------------------------


@pytest.mark.parametrize(("active", "can_approve"), [(False, True), (True, False), (False, False)])
def test_only_an_active_approver_holding_the_permission_decides(active: bool, can_approve: bool) -> None:
    unfit = replace(state(), approvers=(user(A, active=active, can_approve=can_approve), user(B)))
    for action in VOTES:
        assert code_of(decide(unfit, A, action, "why")) is RuleCode.NOT_APPROVER


def test_an_all_approval_waiting_on_an_approver_who_lost_the_permission_is_stuck_and_restartable() -> None:
    waiting = replace(
        state(mode=Mode.ALL, votes=(Vote(A, Action.APPROVE),)),
        approvers=(user(A), user(B, can_approve=False)),
    )
    assert code_of(stuck(waiting)) is RuleCode.APPROVAL_APPROVER_INELIGIBLE
    assert code_of(decide(waiting, OWNER, Action.RESTART)) is RuleCode.APPROVAL_APPROVER_INELIGIBLE
    fixed = replace(waiting, approvers=(user(A), user(C)))
    assert stuck(fixed) is None
    assert code_of(decide(fixed, OWNER, Action.RESTART)) is RuleCode.APPROVAL_WRONG_STATUS


def test_an_approval_whose_approvers_all_changed_after_voting_restarts_for_the_new_ones() -> None:
    changed = state(mode=Mode.ALL, approvers=(A,), votes=(Vote(A, Action.APPROVE),))
    assert stuck(changed) is not None
    restarted = moved(decide(changed, OWNER, Action.RESTART))
    assert (restarted.state.status, restarted.state.votes) == (S.PENDING, ())


def test_an_any_approval_is_never_stuck_while_one_approver_can_decide() -> None:
    assert stuck(replace(state(), approvers=(user(A), user(B, active=False)))) is None


def test_a_request_for_changes_notifies_the_owner_and_the_submitter() -> None:
    submitted = replace(state(), submitted_by=ADMIN)
    (event,) = moved(decide(submitted, A, Action.REQUEST_CHANGES, "Lower it")).events
    assert event.notify == frozenset({OWNER, ADMIN})
