"""Deal approvals: start guards, the decision state machine and the approval-stage gate (seed 000)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from .codes import Refusal, RuleCode
from .events import NewEvent
from .records import ApprovalStatus as ApprovalStatus
from .records import Mode as Mode
from .records import User


class Action(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    REQUEST_CHANGES = "REQUEST_CHANGES"
    RESUBMIT = "RESUBMIT"
    RESTART = "RESTART"
    CANCEL = "CANCEL"


class EventType(StrEnum):
    STARTED = "approval.started"
    NOT_STARTED = "approval.not_started"
    DECIDED = "approval.decided"
    RESUBMITTED = "approval.resubmitted"
    CANCELLED = "approval.cancelled"


THEN = "then restart the approval."
NO_OWNER = Refusal(RuleCode.APPROVAL_NO_OWNER, "The deal has no owner.", f"Assign an owner, {THEN}")
OWNER_ONLY_APPROVER = Refusal(
    RuleCode.APPROVAL_OWNER_IS_APPROVER,
    "No one but the deal owner is an approver.",
    f"Assign the deal to another owner or add another approver, {THEN}",
)
OWNER_APPROVER_IN_ALL_MODE = Refusal(
    RuleCode.APPROVAL_OWNER_IS_APPROVER,
    "The deal owner is an approver and every approver must approve.",
    f"Assign the deal to another owner, remove the owner from the approvers or let any approver approve, {THEN}",
)
REJECTED_ONLY_CLOSED_LOST = Refusal(
    RuleCode.APPROVAL_REJECTED_ONLY_CLOSED_LOST,
    "The deal's approval was rejected.",
    "A rejected deal can only move to a closed lost stage.",
)
APPROVAL_REQUIRED = Refusal(
    RuleCode.APPROVAL_REQUIRED,
    "The deal needs an approved approval to move past the approval stage.",
    "Move the deal to the approval stage to request approval.",
)
NOT_APPROVER = Refusal(RuleCode.NOT_APPROVER, "You are not an approver of this deal.")
LOST_PERMISSION = Refusal(
    RuleCode.NOT_APPROVER, "Only an active approver with the Approve deals permission may decide."
)
NOT_DEAL_OWNER = Refusal(RuleCode.NOT_DEAL_OWNER, "Only the deal owner can resubmit it for approval.")
ALREADY_DECIDED = Refusal(RuleCode.APPROVAL_ALREADY_DECIDED, "You have already decided on this approval.")
REASON_REQUIRED = Refusal(RuleCode.APPROVAL_REASON_REQUIRED, "A rejection needs a reason.")
COMMENT_REQUIRED = Refusal(RuleCode.APPROVAL_COMMENT_REQUIRED, "A request for changes needs a comment.")


@dataclass(frozen=True, slots=True)
class Vote:
    approver_id: int
    action: Action  # APPROVE, REJECT or REQUEST_CHANGES
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalState:
    deal_id: int
    owner_id: int | None
    mode: Mode
    approvers: tuple[User, ...]
    status: ApprovalStatus = ApprovalStatus.NOT_STARTED
    votes: tuple[Vote, ...] = ()
    blocker: Refusal | None = None  # set while NOT_STARTED
    submitted_by: int | None = None  # who requested approval (moved the deal in, or resubmitted)

    @property
    def deciders(self) -> frozenset[int]:
        """The approvers who decide: never the deal's own owner."""
        return frozenset(a.id for a in self.approvers) - {self.owner_id}


@dataclass(frozen=True, slots=True)
class ApprovalEvent:
    type: EventType
    deal_id: int
    owner_id: int | None
    actor_id: int | None
    action: Action | None
    from_status: ApprovalStatus | None
    to_status: ApprovalStatus
    text: str | None
    notify: frozenset[int]  # in-app and email
    audience: frozenset[int]  # who sees it whatever their scope: the approvers and those notified

    def to_new_event(self, approval: Mapping[str, Any], pipeline_id: int) -> NewEvent:
        """What the outbox stores: the approval as it stands after the change, and the change itself."""
        payload = {"approval": dict(approval), "action": self.action, "actor_id": self.actor_id,
                   "from_status": self.from_status, "text": self.text}  # fmt: skip
        return NewEvent(self.type, payload, self.owner_id, self.audience, pipeline_id, self.deal_id)


@dataclass(frozen=True, slots=True)
class Transition:
    state: ApprovalState
    events: tuple[ApprovalEvent, ...]


class StageRef(Protocol):
    """What the gate needs of a pipeline stage."""

    @property
    def id(self) -> int: ...
    @property
    def display_order(self) -> int: ...
    @property
    def kind(self) -> str: ...


def start_blocker(owner_id: int | None, approvers: Sequence[User], mode: Mode) -> Refusal | None:
    """Seed 000: why an approval stays NOT_STARTED (no owner, owner approves own deal, approver unfit)."""
    ids = {a.id for a in approvers}
    if owner_id is None:
        return NO_OWNER
    if not ids - {owner_id}:
        return OWNER_ONLY_APPROVER
    if owner_id in ids and mode is Mode.ALL:
        return OWNER_APPROVER_IN_ALL_MODE
    unfit = sorted(a.name for a in approvers if not a.active or not a.can_approve_deals)
    if unfit:
        return Refusal(
            RuleCode.APPROVAL_APPROVER_INELIGIBLE,
            f"Deactivated or without the Approve deals permission: {', '.join(unfit)}.",
            f"Reactivate them, give them the Approve deals permission or choose other approvers, {THEN}",
        )
    return None


def start_approval(
    deal_id: int, owner_id: int | None, approvers: Sequence[User], mode: Mode, actor_id: int | None
) -> Transition:
    """Seed 000: entering the approval stage starts a PENDING approval and notifies the approvers."""
    state = ApprovalState(deal_id, owner_id, mode, tuple(approvers))
    blocker = start_blocker(owner_id, approvers, mode)
    if blocker is not None:
        blocked = replace(state, blocker=blocker)
        return Transition(blocked, (_event(EventType.NOT_STARTED, None, blocked, actor_id, None, None),))
    return _start(state, actor_id, None)


def decide(
    state: ApprovalState, actor_id: int, action: Action, text: str | None = None
) -> Transition | Refusal:
    """Seed 000: apply one action to an approval, or refuse it with a code.

    Approvers approve (optional message), reject (reason required) or request changes (comment
    required) while PENDING; ANY: the first approval approves; ALL: every approver must. The owner
    resubmits after CHANGES_REQUESTED. RESTART retries a NOT_STARTED approval. CANCEL (the process was
    disabled; the caller checks super admin) cancels whatever the status.
    """
    if action in (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES):
        return _vote(state, actor_id, action, _clean(text))
    if action is Action.RESUBMIT:
        return _resubmit(state, actor_id, _clean(text))
    if action is Action.RESTART:
        if state.status is not ApprovalStatus.NOT_STARTED and stuck(state) is None:
            return _wrong_status(state, action)
        blocker = start_blocker(state.owner_id, state.approvers, state.mode)
        return blocker if blocker is not None else _start(state, actor_id, action)
    if state.status is ApprovalStatus.CANCELLED:
        return Transition(state, ())
    cancelled = replace(state, status=ApprovalStatus.CANCELLED, blocker=None)
    return Transition(cancelled, (_event(EventType.CANCELLED, state, cancelled, actor_id, action, None),))


def for_deal(transition: Transition, deal_id: int) -> Transition:
    """A transition decided for a deal not yet inserted, given the deal's id."""
    events = tuple(replace(e, deal_id=deal_id) for e in transition.events)
    return Transition(replace(transition.state, deal_id=deal_id), events)


def enters_approval_stage(from_stage_id: int | None, to_stage_id: int, approval_stage_id: int | None) -> bool:
    """Seed 000: a deal moved (or created) into the approval stage requests approval."""
    return approval_stage_id is not None and to_stage_id == approval_stage_id and from_stage_id != to_stage_id


def move_blocker(
    from_stage: StageRef | None,
    to_stage: StageRef,
    stages: Sequence[StageRef],
    approval_stage_id: int | None,
    approval_status: ApprovalStatus | None,
    exempt: bool,
) -> Refusal | None:
    """Seed 000: no move (or creation) past the approval stage without approval, except to closed lost.

    A REJECTED deal moves only to a CLOSED_LOST stage. Deals already past the approval stage when the
    process was enabled (`exempt`) are not gated. Moves to the approval stage or any stage before it
    (by display order, so backwards too) are free; `stages` are the pipeline's, to place the gate.
    """
    if approval_stage_id is None or to_stage.kind == "CLOSED_LOST":
        return None
    if from_stage is not None and from_stage.id == to_stage.id:
        return None
    if approval_status is ApprovalStatus.REJECTED:
        return REJECTED_ONLY_CLOSED_LOST
    if exempt:
        return None
    gate = next((s.display_order for s in stages if s.id == approval_stage_id), None)
    if gate is None:
        raise ValueError(f"approval stage {approval_stage_id} is not among the pipeline's stages")
    if to_stage.display_order <= gate or approval_status is ApprovalStatus.APPROVED:
        return None
    return APPROVAL_REQUIRED


def _vote(state: ApprovalState, actor_id: int, action: Action, text: str | None) -> Transition | Refusal:
    if actor_id not in state.deciders:
        return NOT_APPROVER
    if not _fit(state, actor_id):
        return LOST_PERMISSION
    if state.status is not ApprovalStatus.PENDING:
        return _wrong_status(state, action)
    if any(v.approver_id == actor_id for v in state.votes):
        return ALREADY_DECIDED
    if action is Action.REJECT and text is None:
        return REASON_REQUIRED
    if action is Action.REQUEST_CHANGES and text is None:
        return COMMENT_REQUIRED
    votes = (*state.votes, Vote(actor_id, action, text))
    decided = replace(state, status=_status_after(state, votes, action), votes=votes)
    notify = frozenset() if state.owner_id is None else frozenset({state.owner_id})
    if action is Action.REQUEST_CHANGES and state.submitted_by is not None:
        notify |= {state.submitted_by}  # seed 000: whoever submitted the deal hears of it too
    return Transition(decided, (_event(EventType.DECIDED, state, decided, actor_id, action, text, notify),))


def _fit(state: ApprovalState, user_id: int) -> bool:
    """Seed 000: only an active approver holding the Approve permission now may decide."""
    user = next((a for a in state.approvers if a.id == user_id), None)
    return user is not None and user.active and user.can_approve_deals


def stuck(state: ApprovalState) -> Refusal | None:
    """Seed 000: why a pending approval cannot finish, so that restarting it is the way on: in mode ALL
    it waits on an approver who lost the permission (or was deactivated) before deciding; or the
    approvers changed and none of the current ones is left to decide."""
    if state.status is not ApprovalStatus.PENDING:
        return None
    decided = {v.approver_id for v in state.votes}
    waiting = state.deciders - decided
    if not waiting:
        return Refusal(
            RuleCode.APPROVAL_APPROVER_INELIGIBLE,
            "The approvers changed: no current approver is left to decide.",
            "Restart the approval to request it from the current approvers.",
        )
    unfit = sorted(a.name for a in state.approvers if a.id in waiting and not _fit(state, a.id))
    if state.mode is not Mode.ALL or not unfit:
        return None
    return Refusal(
        RuleCode.APPROVAL_APPROVER_INELIGIBLE,
        f"Waiting on approvers who cannot decide any more: {', '.join(unfit)}.",
        f"Give them back the Approve deals permission, or choose other approvers, {THEN}",
    )


def _status_after(state: ApprovalState, votes: tuple[Vote, ...], action: Action) -> ApprovalStatus:
    if action is Action.REJECT:
        return ApprovalStatus.REJECTED
    if action is Action.REQUEST_CHANGES:
        return ApprovalStatus.CHANGES_REQUESTED
    approved = {v.approver_id for v in votes if v.action is Action.APPROVE}
    if state.mode is Mode.ANY or state.deciders <= approved:
        return ApprovalStatus.APPROVED
    return ApprovalStatus.PENDING


def _resubmit(state: ApprovalState, actor_id: int, text: str | None) -> Transition | Refusal:
    if actor_id != state.owner_id:
        return NOT_DEAL_OWNER
    if state.status is not ApprovalStatus.CHANGES_REQUESTED:
        return _wrong_status(state, Action.RESUBMIT)
    pending = replace(state, status=ApprovalStatus.PENDING, votes=(), submitted_by=actor_id)
    event = _event(EventType.RESUBMITTED, state, pending, actor_id, Action.RESUBMIT, text, state.deciders)
    return Transition(pending, (event,))


def _start(state: ApprovalState, actor_id: int | None, action: Action | None) -> Transition:
    before = state if action is not None else None
    pending = replace(state, status=ApprovalStatus.PENDING, votes=(), blocker=None, submitted_by=actor_id)
    event = _event(EventType.STARTED, before, pending, actor_id, action, None, state.deciders)
    return Transition(pending, (event,))


def _wrong_status(state: ApprovalState, action: Action) -> Refusal:
    return Refusal(RuleCode.APPROVAL_WRONG_STATUS, f"{action} is not possible while {state.status}.")


def _event(
    kind: EventType,
    before: ApprovalState | None,
    after: ApprovalState,
    actor_id: int | None,
    action: Action | None,
    text: str | None,
    notify: frozenset[int] = frozenset(),
) -> ApprovalEvent:
    from_status = before.status if before is not None else None
    audience = notify | {a.id for a in after.approvers}
    fields = (after.deal_id, after.owner_id, actor_id, action, from_status, after.status, text)
    return ApprovalEvent(kind, *fields, notify, audience)


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None
