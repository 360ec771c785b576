"""The shared quote page in a real headless Chromium: the prospect sees line items, totals and expiry."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.api.test_quotes import LINES, PUBLISH, call, draft, setup
from tests.harness import Harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


def chromium_or_skip() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return CHROMIUM


async def test_a_prospect_sees_the_line_items_and_total_of_a_published_quote_in_a_browser(
    app: Harness, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    s = await setup(app, approval=False)
    quote = await draft(s, title="Licences for <Acme>", expiresAt="2099-12-31T00:00:00Z")
    url = (await call(s.seller, PUBLISH, id=quote["id"]))["quote"]["shareUrl"]
    async with async_playwright() as p:
        browser = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True, args=FLAGS
        )
        try:
            page = await browser.new_page()
            response = await page.goto(app.server.url + url)
            assert response is not None and response.status == 200
            assert await page.title() == "Licences for <Acme>"
            assert await page.inner_text("h1") == "Licences for <Acme>"
            rows = [await r.inner_text() for r in await page.query_selector_all("tr.line-item")]
            assert [r.split("\t")[0] for r in rows] == [line["name"] for line in LINES]
            assert "50.97 USD" in rows[0] and "15%" in rows[0]
            assert await page.inner_text("#total") == "51.10 USD"
            assert await page.inner_text("#subtotal") == "60.10 USD"
            assert "Valid until 31 December 2099" in await page.inner_text(".expiry")
            missing = await page.goto(app.server.url + "/quotes/no-such-token-at-all-here")
            assert missing is not None and missing.status == 404
        finally:
            await browser.close()


async def test_a_prospect_signs_a_published_quote_in_a_browser_under_the_strict_csp(
    app: Harness, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    s = await setup(app, approval=False)
    quote = await draft(s, title="Licences", expiresAt="2099-12-31T00:00:00Z")
    url = (await call(s.seller, PUBLISH, id=quote["id"]))["quote"]["shareUrl"]
    async with async_playwright() as p:
        browser = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True, args=FLAGS
        )
        try:
            page = await browser.new_page()
            blocked: list[str] = []
            page.on(
                "console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None
            )
            await page.goto(app.server.url + url)
            assert await page.query_selector_all("script") == []
            await page.fill("input[name=name]", "Ada Lovelace")
            await page.fill("input[name=email]", "ada@example.com")
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            assert page.url == app.server.url + url
            assert "Signed by Ada Lovelace (ada@example.com)" in await page.inner_text("#signed")
            assert await page.query_selector("form") is None and blocked == []
            again = await page.request.post(
                app.server.url + url + "/sign", form={"name": "Eve", "email": "e@x.io"}
            )
            assert again.status == 409 and "already signed" in await again.text()
        finally:
            await browser.close()
    signed = await app.pool.fetchrow("SELECT status, signer_name, signer_email FROM quotes")
    assert tuple(signed) == ("SIGNED", "Ada Lovelace", "ada@example.com")
