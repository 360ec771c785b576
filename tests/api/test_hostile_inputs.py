"""Property-based: hostile values in any field of any mutation are refused cleanly and write nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.pool import create_pool
from domain.limits import text_limit
from tests.harness import Client, Harness, clone_database, drop_database, dsn_for, live_server, server_dsn

from .mutation_inputs import Leaf, document, fingerprint, leaves, mutations, with_value

ON_SHARED_SERVER = pytest.mark.asyncio(loop_scope="module")

INT64 = 2**63
FUZZ = settings(
    max_examples=6,
    deadline=None,
    database=None,  # no example database in the worktree: each run draws afresh
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def hostile_text(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(limit + 1, limit + 5000).map(lambda n: "z" * n),
        st.tuples(st.text(max_size=20), st.text(max_size=20)).map(lambda p: p[0] + "\x00" + p[1]),
        st.sampled_from(["\ud800", "a\udfffb"]),
    )


HOSTILE_ID = st.one_of(
    st.integers(INT64, 10**40).map(str),
    st.integers(-(10**20), 0).map(str),
    st.text(min_size=1, max_size=30).filter(lambda t: not t.isdigit()),
    st.sampled_from(["1e3", " 1", "0x10", "١٢", ""]),
)
HOSTILE_DECIMAL = st.one_of(
    st.sampled_from(
        ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "1e30", "1E+400", "abc", "", "--1"]
    ),
    st.integers(10**17, 10**40).map(str),
    st.integers(0, 10**6).map(lambda n: f"{n}.{'1' * 19}"),
)
HOSTILE_DATE = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "yesterday",
            "2030-02-30",
            "",
            "10000-01-01",
        ]
    ),
    st.text(max_size=30).filter(lambda t: not t[:4].isdigit()),
)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_JSON = st.one_of(
    st.integers(33, 300).map(lambda d: {"deep": deep(d)}),
    st.integers(101, 400).map(lambda n: {f"k{i}": i for i in range(n)}),
    st.text(max_size=10).map(lambda t: {"nul": t + "\x00"}),
    st.just({"big": "b" * 70_000}),
)
HOSTILE_INT = st.one_of(st.integers(2**31, 10**30), st.integers(-(10**30), -(2**31) - 1))


def hostile(leaf: Leaf) -> st.SearchStrategy[Any] | None:
    """Values every field of this type must refuse; None for types with no hostile value (enums, booleans)."""
    if leaf.scalar == "String":
        limit = text_limit(str(leaf.path[-1]))
        return None if limit is None else hostile_text(limit)
    return {
        "ID": HOSTILE_ID,
        "Decimal": HOSTILE_DECIMAL,
        "DateTime": HOSTILE_DATE,
        "JSON": HOSTILE_JSON,
        "Int": HOSTILE_INT,
    }.get(leaf.scalar)


CASES = {m: [(leaf, s) for leaf in leaves(m) if (s := hostile(leaf)) is not None] for m in mutations()}


@dataclass
class Shared:
    pool: asyncpg.Pool
    admin: Client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(template_db: str) -> AsyncIterator[Shared]:
    """One database and live server for every example of the module."""
    name = await clone_database(template_db)
    dsn = dsn_for(server_dsn(), name)
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        async with live_server(dsn) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            harness = Harness(pool=pool, server=server, http=http)
            admin = await harness.user(super_admin=True, approver=True)
            yield Shared(pool, admin)
    finally:
        await pool.close()
        await drop_database(name)


def test_every_mutation_has_hostile_cases_except_those_taking_only_enums_booleans_or_a_file() -> None:
    empty = sorted(m for m, cases in CASES.items() if not cases)
    assert empty == ["startImport", "updateLifecycleSettings"], empty  # a file's cells: test_imports


@ON_SHARED_SERVER
@pytest.mark.parametrize("mutation", sorted(m for m, cases in CASES.items() if cases))
@FUZZ
@given(data=st.data())
async def test_hostile_values_are_refused_with_a_clear_error_no_5xx_and_nothing_written(
    shared: Shared, mutation: str, data: st.DataObject
) -> None:
    leaf, strategy = data.draw(st.sampled_from(CASES[mutation]), label="field")
    value = data.draw(strategy, label="value")
    before = await fingerprint(shared.pool)
    response = await shared.admin.http.post(
        "/graphql",
        content=json.dumps(
            {"query": document(mutation), "variables": {"input": with_value(mutation, leaf.path, value)}}
        ).encode(),
        headers={"Authorization": f"Bearer {shared.admin.token}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text[:300]
    body = response.json()
    text = json.dumps(body)
    assert "Unexpected error" not in text, text[:300]
    assert "invalid literal" not in text and "Traceback" not in text, text[:300]
    assert body.get("errors"), text[:300]
    assert await fingerprint(shared.pool) == before


@ON_SHARED_SERVER
async def test_deeply_nested_variables_answer_400_not_a_plain_text_500(shared: Shared) -> None:
    for depth in (100, 975, 5000):
        content = json.dumps({"query": document("createTicket"), "variables": {"input": deep(1)}})
        content = content.replace('"x"', "[" * depth + "]" * depth, 1)
        response = await shared.admin.http.post(
            "/graphql",
            content=content.encode(),
            headers={"Authorization": f"Bearer {shared.admin.token}", "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (depth, response.text[:200])
        assert response.json()["errors"], depth
        if depth >= 975:
            assert response.status_code == 400
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_JSON"
