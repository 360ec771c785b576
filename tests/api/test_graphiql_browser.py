"""GraphiQL in dev opens signed in: the token dev start-up logs loads the schema and runs queries."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from dealflow.graphiql import DEV_EMAIL
from dealflow.settings import Settings
from tests.api.test_quote_page_browser import FLAGS, chromium_or_skip
from tests.harness import live_server
from tests.npm import node_modules

TYPES = {".js": "application/javascript", ".css": "text/css"}


async def serve_unpkg_from_node_modules(page: Any, modules: Path) -> None:
    """unpkg.com/<package>@<version>/<file> from tests/js/node_modules (same files, same SRI hashes)."""

    async def fulfil(route: Any) -> None:
        package_at_version, _, file = route.request.url.removeprefix("https://unpkg.com/").partition("/")
        path = modules / package_at_version.rpartition("@")[0] / file
        await route.fulfill(
            body=path.read_bytes(),
            content_type=TYPES[path.suffix],
            headers={"Access-Control-Allow-Origin": "*"},
        )

    await page.route("https://unpkg.com/**", fulfil)


@contextlib.asynccontextmanager
async def graphiql(p: Any, profile: Path, url: str, modules: Path) -> AsyncIterator[tuple[Any, Any]]:
    """A fresh browser profile (GraphiQL keeps its editors in localStorage) on `url`: the page and
    the response to its first POST, the schema's introspection."""
    browser = await p.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_or_skip(), headless=True, args=FLAGS
    )
    try:
        page = await browser.new_page()
        await serve_unpkg_from_node_modules(page, modules)
        async with page.expect_response(
            lambda r: r.url == url.partition("?")[0] and r.request.method == "POST"
        ) as introspection:
            await page.goto(url)
        yield page, await introspection.value
    finally:
        await browser.close()


async def test_graphiql_opened_with_the_dev_token_shows_the_schema_and_runs_queries(
    db_dsn: str, pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chromium_or_skip()
    modules = node_modules()
    from playwright.async_api import async_playwright

    with caplog.at_level(logging.INFO, logger="dealflow.app"):
        async with live_server(db_dsn, Settings(env="dev")) as api, async_playwright() as p:
            logged = re.search(r"GraphiQL signed in as dev@localhost: (\S+)", caplog.text)
            assert logged is not None, caplog.text
            token = logged.group(1).partition("?token=")[2]
            async with graphiql(p, tmp_path / "a", f"{api.url}/graphql?token={token}", modules) as (
                page,
                schema,
            ):
                assert schema.status == 200
                assert "__schema" in (await schema.json())["data"]
                await page.click(".graphiql-execute-button")
                await page.wait_for_function(
                    "document.querySelector('.result-window')?.innerText.includes('dev@localhost')",
                    polling=250,
                )
                shown = await page.inner_text("body")
                assert "UNAUTHENTICATED" not in shown and "Error fetching schema" not in shown

            async with graphiql(p, tmp_path / "b", f"{api.url}/graphql", modules) as (page, schema):
                assert schema.status == 401
                await page.wait_for_selector("text=Sign in: open this page as /graphql?token=")
                await page.wait_for_function(  # the failed schema fetch, shown in the result pane
                    "document.body.innerText.includes('UNAUTHENTICATED')", polling=250
                )
    assert await pool.fetchval("SELECT is_super_admin FROM users WHERE email = $1", DEV_EMAIL) is True


async def test_the_graphiql_page_needs_no_token_but_a_query_sent_like_it_does(
    db_dsn: str, pool: asyncpg.Pool
) -> None:
    async with live_server(db_dsn, Settings(env="dev")) as api, httpx.AsyncClient(base_url=api.url) as http:
        browser_like = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = await http.get("/graphql", headers=browser_like)
        assert page.status_code == 200 and "graphiql.min.js" in page.text
        sneaky = await http.get("/graphql", params={"query": "{ users { email } }"}, headers=browser_like)
        assert sneaky.status_code == 401
        assert sneaky.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
