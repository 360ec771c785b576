"""Deal approval types, the approval mutations and their payloads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.approvals import Action
from domain.records import ApprovalProcess as DomainProcess
from domain.records import Comment as DomainComment
from domain.records import DealApproval as DomainApproval
from domain.records import ObjectType
from resolvers import approval_process as process_cases
from resolvers import approvals as use_cases
from resolvers.approval_process import ProcessSettings
from resolvers.loaders import (
    approval_comments_loader,
    approval_history_loader,
    decided_deal_loader,
    record_loader,
    stage_loader,
    user_loader,
)

from .enums import ApprovalMode, ApprovalStatus
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id
from .permissions import IsSuperAdmin
from .pipelines import Pipeline, Stage
from .users import User, load_user

if TYPE_CHECKING:
    from .records import Deal


@strawberry.type(description="A pipeline's deal approval settings: its approval stage and approvers.")
class ApprovalProcess:
    process: strawberry.Private[DomainProcess]

    @strawberry.field(description="The settings' global id.")
    def id(self) -> strawberry.ID:
        return node_id("ApprovalProcess", self.process.id)

    @strawberry.field(description="Whether every approver or any one must approve.")
    def mode(self) -> ApprovalMode:
        return ApprovalMode(self.process.mode.value)

    @strawberry.field(description="Guidance shown to approvers and deal owners; null when none.")
    def note(self) -> str:
        return self.process.note

    @strawberry.field(description="Whether deals entering the approval stage need approval now.")
    def enabled(self) -> bool:
        return self.process.enabled

    @strawberry.field(description="The stage deals wait in for approval.")
    async def approval_stage(self, info: Info) -> Stage:
        stage = await stage_loader(info.context).load(self.process.approval_stage_id)
        assert stage is not None
        return Stage.from_domain(stage)

    @strawberry.field(description="The users who decide.")
    async def approvers(self, info: Info) -> list[User]:
        users = await user_loader(info.context).load_many(list(self.process.approver_ids))
        return [User.from_domain(u) for u in users if u is not None]


@strawberry.type(description="An approver's decision on a deal.")
class ApproverDecision:
    approver_id: strawberry.Private[int]
    decision: ApprovalStatus | None = strawberry.field(
        description="The decision (APPROVED, REJECTED or CHANGES_REQUESTED); null while the approver has not decided."
    )
    message: str | None = strawberry.field(
        description="The approver's message, reason or requested changes; null when none."
    )
    decided_at: datetime | None = strawberry.field(
        description="When the decision was made; null while undecided."
    )

    @strawberry.field(description="The approver.")
    async def approver(self, info: Info) -> User:
        user = await load_user(info, self.approver_id)
        assert user is not None
        return user


@strawberry.type(description="A change of an approval's status.")
class ApprovalStatusChange:
    status: ApprovalStatus = strawberry.field(description="The status it changed to.")
    actor_id: strawberry.Private[int | None]
    at: datetime = strawberry.field(description="When it changed.")

    @strawberry.field(description="Who changed it; null for the system.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_id)


@strawberry.type(description="A comment on a deal's approval.")
class Comment:
    comment: strawberry.Private[DomainComment]

    @strawberry.field(description="The comment's global id.")
    def id(self) -> strawberry.ID:
        return node_id("Comment", self.comment.id)

    @strawberry.field(description="The comment's text.")
    def body(self) -> str:
        return self.comment.body

    @strawberry.field(description="When it was written.")
    def created_at(self) -> datetime:
        return self.comment.created_at

    @strawberry.field(description="Who wrote it.")
    async def author(self, info: Info) -> User:
        user = await load_user(info, self.comment.author_id)
        assert user is not None
        return user


VOTE_STATUS = {"APPROVE": ApprovalStatus.APPROVED, "REJECT": ApprovalStatus.REJECTED,
               "REQUEST_CHANGES": ApprovalStatus.CHANGES_REQUESTED}  # fmt: skip


@strawberry.type(description="One approval of a deal: its status, decisions, history and comments.")
class DealApproval(Node):
    approval: strawberry.Private[DomainApproval]
    approver_ids: strawberry.Private[tuple[int, ...]] = ()
    decided_now: strawberry.Private[bool] = False  # answering the approver who just acted on it

    @strawberry.field(description="The approval's global id.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return node_id("DealApproval", self.approval.id)

    @strawberry.field(description="Where the approval stands.")
    def status(self) -> ApprovalStatus:
        return ApprovalStatus(self.approval.status.value)

    @strawberry.field(description="The note to approvers, as it was when approval was requested.")
    def note(self) -> str | None:
        return self.approval.note

    @strawberry.field(description="Why the approval did not start (NOT_STARTED).")
    def reason(self) -> str | None:
        return self.approval.reason

    @strawberry.field(description="What to do so that the approval can start.")
    def next_step(self) -> str | None:
        return self.approval.next_step

    @strawberry.field(description="The deal being approved.")
    async def deal(self, info: Info) -> Annotated[Deal, strawberry.lazy("schema.records")]:
        from .records import Deal

        found = await record_loader(info.context, ObjectType.DEAL).load(self.approval.deal_id)
        if found is None and self.decided_now:
            # A final decision closes the approval, and an approver outside the deal's scope stops
            # seeing it; the answer to that decision still shows the deal it was recorded on.
            found = await decided_deal_loader(info.context).load(self.approval.deal_id)
        assert found is not None, "an approval is read only through its visible deal"
        return Deal(record=found)

    @strawberry.field(description="Each approver's latest decision.")
    def decisions(self) -> list[ApproverDecision]:
        votes = {v.approver_id: v for v in self.approval.votes}
        ids = list(self.approver_ids or self.approval.approver_ids) or list(votes)
        return [
            ApproverDecision(
                approver_id=i,
                decision=VOTE_STATUS[votes[i].action] if i in votes else None,
                message=votes[i].text if i in votes else None,
                decided_at=votes[i].decided_at if i in votes else None,
            )
            for i in ids
        ]

    @strawberry.field(description="Every status change, oldest first.")
    async def history(self, info: Info) -> list[ApprovalStatusChange]:
        changes = await approval_history_loader(info.context).load(self.approval.id)
        return [
            ApprovalStatusChange(status=ApprovalStatus(c.status), actor_id=c.actor_id, at=c.at)
            for c in changes
        ]

    @strawberry.field(description="The discussion between the owner and the approvers, oldest first.")
    async def comments(self, info: Info) -> list[Comment]:
        return [
            Comment(comment=c) for c in await approval_comments_loader(info.context).load(self.approval.id)
        ]


@strawberry.input(description="A pipeline's deal approval settings.")
class DealApprovalsInput:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline.")
    stage_label: str | None = strawberry.field(default=None, description="The approval stage's label.")
    probability: float | None = strawberry.field(
        default=None, description="The approval stage's win probability, from 0 to 1."
    )
    position: int | None = strawberry.field(
        default=None,
        description="The 0-based index in the stage order at which the approval stage goes; left out, just before the first closed stage.",
    )
    approver_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The users who decide; each must be allowed to approve deals."
    )
    mode: ApprovalMode | None = strawberry.field(
        default=None, description="Whether every approver (ALL) or any one (ANY) must approve."
    )
    note: str | None = strawberry.field(
        default=None, description="Guidance shown to approvers and deal owners."
    )

    def settings(self) -> ProcessSettings:
        return ProcessSettings(
            stage_label=self.stage_label,
            probability=self.probability,
            position=self.position,
            approver_ids=[int(i) for i in self.approver_ids] if self.approver_ids is not None else None,
            mode=self.mode.value if self.mode else None,
            note=self.note,
        )


@strawberry.input(description="The pipeline whose approval stage to remove.")
class DisableDealApprovalsInput:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline.")


@strawberry.type(description="The result of a deal approval settings mutation.")
class PipelinePayload:
    pipeline: Pipeline | None = strawberry.field(
        description="The pipeline as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="An approval of a deal.")
class ApproveDealInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal waiting for approval.")
    message: str | None = strawberry.field(
        default=None, description="An optional message to the deal's owner."
    )


@strawberry.input(description="A rejection of a deal.")
class RejectDealInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal waiting for approval.")
    reason: str = strawberry.field(description="Why the deal is rejected, for its owner.")


@strawberry.input(description="A request for changes to a deal.")
class RequestDealChangesInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal waiting for approval.")
    comment: str = strawberry.field(description="What should change, for the deal's owner.")


@strawberry.input(description="A deal sent back for approval after changes.")
class ResubmitDealInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal whose changes were requested.")
    comment: str | None = strawberry.field(default=None, description="An optional comment for the approvers.")


@strawberry.input(description="A deal whose approval could not start.")
class RestartDealApprovalInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal.")


@strawberry.input(description="A comment on a deal's approval.")
class CommentOnDealApprovalInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal.")
    body: str = strawberry.field(description="The comment's text.")


@strawberry.type(description="The result of a deal approval mutation.")
class ApprovalPayload:
    approval: DealApproval | None = strawberry.field(
        description="The approval as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of commentOnDealApproval.")
class CommentPayload:
    comment: Comment | None = strawberry.field(
        description="The new comment as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


async def _act(info: Info, deal_id: strawberry.ID, action: Action, text: str | None) -> ApprovalPayload:
    result = await use_cases.act(info.context, int(deal_id), action, text)
    return ApprovalPayload(
        approval=value_or_none(result, lambda a: DealApproval(approval=a, decided_now=True)),
        user_errors=user_errors(result),
    )


@strawberry.type
class ApprovalMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Add an approval stage to a pipeline (super admins only): deals moving into it wait for the approvers.",
    )
    async def enable_deal_approvals(
        self,
        info: Info,
        input: Annotated[
            DealApprovalsInput,
            strawberry.argument(
                description="The pipeline, the approval stage's label, probability and position, the approvers and how they decide."
            ),
        ],
    ) -> PipelinePayload:
        result = await process_cases.enable(info.context, int(input.pipeline_id), input.settings())
        return PipelinePayload(
            pipeline=value_or_none(result, Pipeline.from_domain), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Change a pipeline's approval stage and approvers (super admins only).",
    )
    async def update_deal_approvals(
        self,
        info: Info,
        input: Annotated[
            DealApprovalsInput,
            strawberry.argument(description="The pipeline and the approval settings to set."),
        ],
    ) -> PipelinePayload:
        result = await process_cases.update(info.context, int(input.pipeline_id), input.settings())
        return PipelinePayload(
            pipeline=value_or_none(result, Pipeline.from_domain), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Remove a pipeline's approval stage (super admins only).",
    )
    async def disable_deal_approvals(
        self,
        info: Info,
        input: Annotated[DisableDealApprovalsInput, strawberry.argument(description="The pipeline.")],
    ) -> PipelinePayload:
        result = await process_cases.disable(info.context, int(input.pipeline_id))
        return PipelinePayload(
            pipeline=value_or_none(result, Pipeline.from_domain), user_errors=user_errors(result)
        )

    @strawberry.mutation(description="Approve a deal waiting in an approval stage (its approvers only).")
    async def approve_deal(
        self,
        info: Info,
        input: Annotated[
            ApproveDealInput, strawberry.argument(description="The deal and an optional message.")
        ],
    ) -> ApprovalPayload:
        return await _act(info, input.deal_id, Action.APPROVE, input.message)

    @strawberry.mutation(description="Reject a deal waiting in an approval stage (its approvers only).")
    async def reject_deal(
        self,
        info: Info,
        input: Annotated[RejectDealInput, strawberry.argument(description="The deal and the reason.")],
    ) -> ApprovalPayload:
        return await _act(info, input.deal_id, Action.REJECT, input.reason)

    @strawberry.mutation(
        description="Send a deal waiting for approval back to its owner for changes (its approvers only)."
    )
    async def request_deal_changes(
        self,
        info: Info,
        input: Annotated[
            RequestDealChangesInput, strawberry.argument(description="The deal and what should change.")
        ],
    ) -> ApprovalPayload:
        return await _act(info, input.deal_id, Action.REQUEST_CHANGES, input.comment)

    @strawberry.mutation(description="Submit a deal again after changes were requested.")
    async def resubmit_deal(
        self,
        info: Info,
        input: Annotated[
            ResubmitDealInput,
            strawberry.argument(description="The deal and an optional comment for the approvers."),
        ],
    ) -> ApprovalPayload:
        return await _act(info, input.deal_id, Action.RESUBMIT, input.comment)

    @strawberry.mutation(
        description="Try again to start a deal's approval that could not start (status NOT_STARTED)."
    )
    async def restart_deal_approval(
        self,
        info: Info,
        input: Annotated[RestartDealApprovalInput, strawberry.argument(description="The deal.")],
    ) -> ApprovalPayload:
        return await _act(info, input.deal_id, Action.RESTART, None)

    @strawberry.mutation(description="Comment on a deal's current approval.")
    async def comment_on_deal_approval(
        self,
        info: Info,
        input: Annotated[
            CommentOnDealApprovalInput, strawberry.argument(description="The deal and the comment.")
        ],
    ) -> CommentPayload:
        result = await use_cases.comment(info.context, int(input.deal_id), input.body)
        return CommentPayload(
            comment=value_or_none(result, lambda c: Comment(comment=c)), user_errors=user_errors(result)
        )
