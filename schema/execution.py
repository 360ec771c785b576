"""The schema's executor: queries run their compiled plan, with a differential check for the tests."""

from __future__ import annotations

import json
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult
from graphql.execution.executor import CollectedErrors
from graphql.pyutils import AwaitableOrValue

from resolvers.context import Context

from .compiled import Plan, plan_for
from .fanout import Outcome, SharedEventExecutionContext


@dataclass
class PlanStats:
    """Counters for tests and benchmarks: how operations were executed."""

    planned: int = 0  # answered by their compiled plan
    abandoned: int = 0  # started on a plan, answered by graphql-core
    general: int = 0  # no plan (not a query, or not plannable): graphql-core


@dataclass
class Differential:
    """While recording (the API tests do, tests/api/conftest.py), every planned query's executor is
    kept; `replay` later runs each both ways, on fresh loaders, and compares the answers as JSON
    text, key order included. A difference, or a plan giving up on a query graphql-core answers
    without errors, is a mismatch."""

    recording: bool = False
    recorded: list[tuple[Plan, PlannedExecutionContext]] = field(default_factory=list)
    compared: int = 0

    async def replay(self) -> list[str]:
        mismatches = []
        asked: set[tuple[str, str, str]] = set()
        for plan, executor in self.recorded:
            # The same query, variables and viewer answer alike at replay (a test polling a status
            # asks one question many times): each is compared once.
            question = _question(executor)
            if question in asked:
                continue
            asked.add(question)
            expected = await _general(_fresh(executor))
            planned = await _planned(plan, _fresh(executor))
            self.compared += 1
            want = json.dumps(expected.formatted)
            if planned is None and expected.errors:
                continue  # the plan gave up, as it must: graphql-core reports the errors
            got = "the plan gave up" if planned is None else json.dumps(planned.formatted)
            if got != want:
                mismatches.append(f"{executor.operation.loc and executor.operation.loc.source.body}\n"
                                  f"variables: {executor.variable_values.coerced}\n"
                                  f"graphql-core: {want}\nplan: {got}")  # fmt: skip
        self.recorded.clear()
        return mismatches


STATS = PlanStats()
DIFFERENTIAL = Differential()


class PlannedExecutionContext(SharedEventExecutionContext):
    """A query runs its compiled plan when it has one; anything the plan does not answer cleanly,
    and every other operation, runs through graphql-core as before (schema/compiled.py)."""

    _plan_arguments: dict[int, dict[str, Any]] | None = None

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Outcome]:
        plan = plan_for(self) if not serially and self.abort_signal is None else None
        if plan is None:
            STATS.general += 1
            return super().execute_operation(serially)
        if DIFFERENTIAL.recording:
            DIFFERENTIAL.recorded.append((plan, copy(self)))
        try:
            data = plan.run(self)
        except Exception:
            STATS.abandoned += 1
            return super().execute_operation(serially)
        if self.is_awaitable(data):
            return self._finish(data, serially)
        STATS.planned += 1
        return self.build_response(data)

    async def _finish(self, data: Any, serially: bool | None) -> Outcome:
        try:
            done = await data
        except Exception:
            STATS.abandoned += 1
            outcome = super().execute_operation(serially)
            if isinstance(outcome, Outcome):
                return outcome
            found: Outcome = await outcome
            return found
        STATS.planned += 1
        return self.build_response(done)


def _question(executor: PlannedExecutionContext) -> tuple[str, str, str]:
    operation = executor.operation
    source = f"{operation.name and operation.name.value} {operation.loc and operation.loc.source.body}"
    variables = json.dumps(executor.variable_values.coerced, sort_keys=True, default=repr)
    viewer = executor.context_value.viewer if isinstance(executor.context_value, Context) else None
    return source, variables, repr(viewer)


def _fresh(executor: PlannedExecutionContext) -> PlannedExecutionContext:
    """A copy to run again: no errors collected, no argument values, empty loaders."""
    again = copy(executor)
    again.collected_errors = CollectedErrors()
    again._plan_arguments = None
    if isinstance(executor.context_value, Context):
        again.context_value = executor.context_value.for_event()
    return again


async def _general(executor: PlannedExecutionContext) -> ExecutionResult:
    outcome = SharedEventExecutionContext.execute_operation(executor)
    if executor.is_awaitable(outcome):
        outcome = await outcome
    assert isinstance(outcome, ExecutionResult)
    return outcome


async def _planned(plan: Plan, executor: PlannedExecutionContext) -> ExecutionResult | None:
    try:
        data = plan.run(executor)
        if executor.is_awaitable(data):
            data = await data
    except Exception:
        return None
    result = executor.build_response(data)
    assert isinstance(result, ExecutionResult)
    return result
