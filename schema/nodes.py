"""node(id) and nodes(ids): any object by its global id, through the reads that scope it elsewhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import strawberry

from db import approvals as approval_store
from db import engagements as engagement_store
from db import notifications as notification_store
from db import properties as property_store
from db import tokens as token_store
from db import users as user_store
from db import webhooks as webhook_store
from db import workflows as workflow_store
from db.engagements import EngagementType
from domain.codes import RuleCode
from domain.ids import decode_global_id
from domain.limits import NODES_MAX, BadInput
from domain.records import ObjectType
from resolvers import imports as import_cases
from resolvers.engagements import may_see_tasks_of
from resolvers.loaders import (
    approval_process_loader,
    pipeline_loader,
    record_loader,
    stage_loader,
    user_loader,
)

from .approvals import DealApproval
from .engagements import Engagement, Task
from .imports import Import
from .info import Info
from .node_ids import Node
from .notifications import Notification
from .pipelines import Pipeline, Stage
from .properties import PropertyDefinition
from .quotes import Quote, quote_loader
from .records import TYPES
from .tokens import ApiToken
from .users import Team, User
from .webhooks import Webhook
from .workflows import Workflow, WorkflowAction

Fetch = Callable[[Info, list[int]], Awaitable[dict[int, Node]]]


def _records(object_type: ObjectType) -> Fetch:
    async def fetch(info: Info, ids: list[int]) -> dict[int, Node]:
        found = await record_loader(info.context, object_type).load_many(ids)
        return {r.id: TYPES[object_type](record=r) for r in found if r is not None}

    return fetch


async def _users(info: Info, ids: list[int]) -> dict[int, Node]:
    return {u.id: User.from_domain(u) for u in await user_loader(info.context).load_many(ids) if u}


async def _teams(info: Info, ids: list[int]) -> dict[int, Node]:
    return {t.id: Team.from_domain(t) for t in await user_store.list_teams(info.context.pool, ids)}


async def _pipelines(info: Info, ids: list[int]) -> dict[int, Node]:
    return {p.id: Pipeline.from_domain(p) for p in await pipeline_loader(info.context).load_many(ids) if p}


async def _stages(info: Info, ids: list[int]) -> dict[int, Node]:
    return {s.id: Stage.from_domain(s) for s in await stage_loader(info.context).load_many(ids) if s}


async def _quotes(info: Info, ids: list[int]) -> dict[int, Node]:
    return {q.id: Quote.from_domain(q) for q in await quote_loader(info.context).load_many(ids) if q}


async def _notifications(info: Info, ids: list[int]) -> dict[int, Node]:
    ctx = info.context
    found = await notification_store.get_notifications(ctx.pool, ctx.me.id, ids)
    return {n.id: Notification.from_domain(n) for n in found}


async def _visible_engagements(info: Info, ids: list[int]) -> list[engagement_store.Engagement]:
    """Tasks as the tasks list shows them (by their assignee); other engagements through a record they
    are logged on that the viewer may see."""
    ctx = info.context
    found = await engagement_store.get_engagements(ctx.pool, ids)
    logged: dict[int, list[tuple[ObjectType, int]]] = defaultdict(list)
    for engagement_id, object_type, object_id in await engagement_store.list_logged_on(ctx.pool, ids):
        logged[engagement_id].append((object_type, object_id))
    visible = []
    for e in found:
        if e.type is EngagementType.TASK and may_see_tasks_of(ctx, e.assignee_id):
            visible.append(e)
            continue
        for object_type, object_id in logged[e.id]:
            if await record_loader(ctx, object_type).load(object_id) is not None:
                visible.append(e)
                break
    return visible


async def _engagements(info: Info, ids: list[int]) -> dict[int, Node]:
    return {e.id: Engagement.from_domain(e) for e in await _visible_engagements(info, ids)}


async def _tasks(info: Info, ids: list[int]) -> dict[int, Node]:
    found = await _visible_engagements(info, ids)
    return {e.id: Task.from_domain(e) for e in found if e.type is EngagementType.TASK}


async def _approvals(info: Info, ids: list[int]) -> dict[int, Node]:
    """An approval is seen with its deal (as Deal.approval shows it)."""
    ctx = info.context
    shown: dict[int, Node] = {}
    for found in await approval_store.get_approvals(ctx.pool, ids):
        deal = await record_loader(ctx, ObjectType.DEAL).load(found.deal_id)
        if deal is None:
            continue
        process = await approval_process_loader(ctx).load(int(str(deal.get("pipeline_id"))))
        approvers = process.approver_ids if process and process.id == found.process_id else ()
        shown[found.id] = DealApproval(approval=found, approver_ids=approvers)
    return shown


async def _tokens(info: Info, ids: list[int]) -> dict[int, Node]:
    """A token is seen by its user and by super admins, as User.apiTokens shows it."""
    me = info.context.me
    found = await token_store.get_tokens(info.context.pool, ids)
    return {t.id: ApiToken.from_domain(t) for t in found if me.user.is_super_admin or t.user_id == me.id}


async def _definitions(info: Info, ids: list[int]) -> dict[int, Node]:
    found = await property_store.get_definitions(info.context.pool, ids)
    return {d.id: PropertyDefinition(definition=d) for d in found}


async def _imports(info: Info, ids: list[int]) -> dict[int, Node]:
    jobs = [await import_cases.get_import(info.context, i) for i in ids]
    return {j.id: Import.from_domain(j) for j in jobs if j is not None}


def _super_admins_only(fetch: Fetch) -> Fetch:
    """Workflows and webhooks: their queries are for super admins only, and so is node."""

    async def guarded(info: Info, ids: list[int]) -> dict[int, Node]:
        return await fetch(info, ids) if info.context.me.user.is_super_admin else {}

    return guarded


async def _workflows(info: Info, ids: list[int]) -> dict[int, Node]:
    wanted = set(ids)
    found = await workflow_store.list_workflows(info.context.pool)
    return {w.id: Workflow(workflow=w) for w in found if w.id in wanted}


async def _workflow_actions(info: Info, ids: list[int]) -> dict[int, Node]:
    wanted = set(ids)
    found = await workflow_store.list_workflows(info.context.pool)
    return {a.id: WorkflowAction(action=a) for w in found for a in w.actions if a.id in wanted}


async def _webhooks(info: Info, ids: list[int]) -> dict[int, Node]:
    wanted = set(ids)
    found = await webhook_store.list_webhooks(info.context.pool)
    return {w.id: Webhook.from_domain(w) for w in found if w.id in wanted}


# Every type that implements Node, and how node(id) fetches it; tests/api/test_node_ids.py covers each.
FETCH: dict[str, Fetch] = {
    "Contact": _records(ObjectType.CONTACT),
    "Company": _records(ObjectType.COMPANY),
    "Deal": _records(ObjectType.DEAL),
    "Ticket": _records(ObjectType.TICKET),
    "User": _users,
    "Team": _teams,
    "Pipeline": _pipelines,
    "Stage": _stages,
    "Quote": _quotes,
    "Notification": _notifications,
    "Engagement": _engagements,
    "Task": _tasks,
    "DealApproval": _approvals,
    "ApiToken": _tokens,
    "PropertyDefinition": _definitions,
    "Import": _imports,
    "Workflow": _super_admins_only(_workflows),
    "WorkflowAction": _super_admins_only(_workflow_actions),
    "Webhook": _super_admins_only(_webhooks),
}


async def fetch_nodes(info: Info, ids: Sequence[str]) -> list[Node | None]:
    """Each id's object, or None where it does not exist, is outside the viewer's scope or is of a
    type node cannot fetch: the three read the same, so an answer never tells them apart."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    decoded = [decode_global_id(i) for i in ids]
    for found in decoded:
        if found is not None and found[0] in FETCH:
            by_kind[found[0]].append(found[1])
    fetched = {kind: await FETCH[kind](info, sorted(set(numbers))) for kind, numbers in by_kind.items()}
    return [fetched.get(f[0], {}).get(f[1]) if f is not None else None for f in decoded]


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object by its global id (the `id` of every type implementing Node); null when "
        "nothing has this id or the viewer may not see it, which read the same."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id from any answer.")],
    ) -> Node | None:
        return (await fetch_nodes(info, [id]))[0]

    @strawberry.field(
        description=f"Objects by their global ids, in the order given, at most {NODES_MAX}; null in the "
        "place of each id that nothing has or the viewer may not see."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description=f"Global ids from any answers, at most {NODES_MAX}."),
        ],
    ) -> list[Node | None]:
        if len(ids) > NODES_MAX:
            raise BadInput(
                RuleCode.TOO_LARGE, f"nodes takes at most {NODES_MAX} ids, not {len(ids)}", ("ids",)
            )
        return await fetch_nodes(info, ids)
