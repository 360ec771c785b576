"""Pipeline and Stage types, the pipelines query and createPipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db import pipelines as pipeline_store
from domain.records import Pipeline as DomainPipeline
from domain.records import Stage as DomainStage
from resolvers import pipelines as use_cases
from resolvers.loaders import approval_process_loader

from .enums import StageKind
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id, number_of
from .permissions import IsSuperAdmin

if TYPE_CHECKING:
    from .approvals import ApprovalProcess


@strawberry.type(description="A step of a pipeline a deal moves through.")
class Stage(Node):
    id: strawberry.ID = strawberry.field(description="The stage's global id.")
    label: str = strawberry.field(description="The stage's name, as shown on the board.")
    display_order: int = strawberry.field(description="The stage's position in its pipeline, from 0.")
    probability: float = strawberry.field(description="The chance a deal in this stage is won, from 0 to 1.")
    kind: StageKind = strawberry.field(description="Whether the stage is open, closed won or closed lost.")
    is_approval_stage: bool = strawberry.field(
        description="True for a pipeline's approval stage: deals moving into it wait for an approver."
    )

    @classmethod
    def from_domain(cls, s: DomainStage) -> Stage:
        return cls(
            id=node_id("Stage", s.id),
            label=s.label,
            display_order=s.display_order,
            probability=s.probability,
            kind=s.kind,
            is_approval_stage=s.is_approval_stage,
        )


@strawberry.type(description="A sales process: the ordered stages deals move through.")
class Pipeline(Node):
    id: strawberry.ID = strawberry.field(description="The pipeline's global id.")
    label: str = strawberry.field(description="The pipeline's name.")
    stages: list[Stage] = strawberry.field(description="The pipeline's stages in order.")

    @strawberry.field(description="The pipeline's deal approval settings; null when deals need no approval.")
    async def approval_process(
        self, info: Info
    ) -> Annotated[ApprovalProcess, strawberry.lazy("schema.approvals")] | None:
        from .approvals import ApprovalProcess

        found = await approval_process_loader(info.context).load(number_of(self.id))
        return ApprovalProcess(process=found) if found else None

    @classmethod
    def from_domain(cls, p: DomainPipeline) -> Pipeline:
        return cls(
            id=node_id("Pipeline", p.id), label=p.label, stages=[Stage.from_domain(s) for s in p.stages]
        )


@strawberry.input(description="A stage of a new pipeline.")
class StageInput:
    label: str = strawberry.field(description="The stage's name.")
    probability: float = strawberry.field(description="The chance a deal in this stage is won, from 0 to 1.")
    kind: StageKind = strawberry.field(
        default=StageKind.OPEN, description="Whether the stage is open, closed won or closed lost."
    )


@strawberry.input(description="A new pipeline.")
class CreatePipelineInput:
    label: str = strawberry.field(description="The pipeline's name.")
    stages: list[StageInput] = strawberry.field(description="Its stages, in order.")


@strawberry.type(description="The result of createPipeline.")
class CreatePipelinePayload:
    pipeline: Pipeline | None = strawberry.field(
        description="The new pipeline as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class PipelineQueries:
    @strawberry.field(description="Every deal pipeline with its stages in order.")
    async def pipelines(self, info: Info) -> list[Pipeline]:
        return [Pipeline.from_domain(p) for p in await pipeline_store.list_pipelines(info.context.pool)]


@strawberry.type
class PipelineMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Create a deal pipeline with its stages (super admins only).",
    )
    async def create_pipeline(
        self,
        info: Info,
        input: Annotated[
            CreatePipelineInput,
            strawberry.argument(description="The pipeline's label and its stages in order."),
        ],
    ) -> CreatePipelinePayload:
        result = await use_cases.create_pipeline(
            info.context, input.label, [(s.label, s.probability, s.kind) for s in input.stages]
        )
        return CreatePipelinePayload(
            pipeline=value_or_none(result, Pipeline.from_domain), user_errors=user_errors(result)
        )
