"""Per-token rate limits with a cost per operation (DESIGN 10), budgets shared through PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

import asyncpg
import graphql
import strawberry
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode

from db import ratelimits
from domain.records import Viewer
from schema import MAX_TOKENS
from schema.complexity import MAX_COMPLEXITY, Estimate

COST_UNIT = 100  # complexity points per rate-limit point, GitHub's normalisation: most reads cost 1
PROVISIONAL_COST = 1  # charged with the authentication, before the operation is known (RateLimiter)


@dataclass(frozen=True)
class Reading:
    """A token's window after a charge: what the X-RateLimit-* headers report."""

    granted: bool
    cost: int
    limit: int
    used: int
    reset_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at.timestamp())),
        }

    def retry_after(self, now: datetime) -> int:
        return max(1, math.ceil((self.reset_at - now).total_seconds()))

    def refusal(self) -> str:
        """What a client over its budget is told, over HTTP (429) and WebSocket alike."""
        return (
            f"Rate limit exceeded: this operation costs {self.cost} points and {self.remaining}"
            f" of {self.limit} are left until {self.reset_at.isoformat()}."
        )


class RateLimited(Exception):
    def __init__(self, reading: Reading) -> None:
        super().__init__(f"over budget: cost {reading.cost}, {reading.remaining} left")
        self.reading = reading


class OperationCosts:
    """An operation's cost in points: its complexity estimate over COST_UNIT, at least 1, with page
    sizes given as variables counted at their values."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self.operation = lru_cache(maxsize=512)(self._operation)

    @cached_property
    def graphql_schema(self) -> graphql.GraphQLSchema:
        return graphql.build_schema(self.schema.as_str())

    def of(
        self, query: str | None, operation_name: str | None, variables: Mapping[str, object] | None
    ) -> int:
        found = self.operation(query, operation_name)
        if found is None:
            return 1  # refused before execution: the minimum
        operation, fragments = found
        root = self.graphql_schema.get_root_type(operation.operation)
        defaults = {  # a variable left out takes its default: `$first: Int = 100` is 100
            d.variable.name.value: graphql.value_from_ast_untyped(d.default_value)
            for d in operation.variable_definitions or ()
            if d.default_value is not None
        }
        given = {**defaults, **(variables or {})}
        estimate = Estimate(self.graphql_schema, fragments, given).cost(
            operation.selection_set, root, frozenset()
        )
        if estimate > MAX_COMPLEXITY:
            return 1  # refused by validation
        return max(1, math.ceil(estimate / COST_UNIT))

    def _operation(
        self, query: str | None, operation_name: str | None
    ) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]] | None:
        if not query:
            return None
        try:
            document = graphql.parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [
            o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)
        ]
        if len(chosen) != 1:
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return chosen[0], fragments


class RateLimiter:
    """Charges a token's window; every process shares the counts through one table."""

    def __init__(self, points: int, window_seconds: int) -> None:
        self.points = points
        self.window = window_seconds

    async def charge(self, pool: asyncpg.Pool, token_hash: bytes, cost: int) -> Reading:
        granted, used, start = await ratelimits.charge(pool, token_hash, cost, self.points, self.window)
        return self._reading(granted, cost, used, start)

    def _reading(self, granted: bool, cost: int, used: int, start: datetime) -> Reading:
        reset_at = start + timedelta(seconds=self.window)
        return Reading(granted=granted, cost=cost, limit=self.points, used=used, reset_at=reset_at)

    # Over HTTP a request is authenticated and charged PROVISIONAL_COST points in one statement,
    # before its operation is known; `settle` charges the rest once it is, `refund` gives the points
    # back for a request that executed nothing. Most operations cost exactly that: one statement.

    async def authenticate(self, pool: asyncpg.Pool, token_hash: bytes) -> tuple[Viewer, Reading] | None:
        """The token's viewer and the provisional charge; None (nothing charged) for a bad token."""
        found = await ratelimits.authenticate_and_charge(
            pool, token_hash, PROVISIONAL_COST, self.points, self.window
        )
        if found is None:
            return None
        viewer, granted, used, start = found
        return viewer, self._reading(granted, PROVISIONAL_COST, used, start)

    async def settle(self, pool: asyncpg.Pool, token_hash: bytes, provisional: Reading, cost: int) -> Reading:
        """The operation's charge, `cost` in all: a refused operation is charged nothing."""
        if not provisional.granted:  # no room for the least an operation costs: nothing was charged
            return replace(provisional, cost=cost)
        if cost <= provisional.cost:
            return provisional
        rest = await self.charge(pool, token_hash, cost - provisional.cost)
        if rest.granted:
            return replace(rest, cost=cost)
        return replace(await self.refund(pool, token_hash, provisional), granted=False, cost=cost)

    async def refund(self, pool: asyncpg.Pool, token_hash: bytes, provisional: Reading) -> Reading:
        """Give the provisional charge back: the window after, for the response's headers."""
        if not provisional.granted:
            return replace(provisional, cost=0)
        start = provisional.reset_at - timedelta(seconds=self.window)
        used, now_start = await ratelimits.refund(pool, token_hash, provisional.cost, start, self.window)
        return self._reading(True, 0, used, now_start)
