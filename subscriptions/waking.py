"""How every background loop (relay, mailer, webhook sender, import runner) waits for its next turn."""

from __future__ import annotations

import asyncio
import contextlib


async def next_turn(wake: asyncio.Event, poll_seconds: float) -> bool:
    """Until `wake` is set or `poll_seconds` pass; `wake` is then cleared for the next turn. Whether
    it was woken (else the poll interval passed).

    A cancellation always gets through: `asyncio.wait_for` of Python 3.11 returns normally when its
    task is cancelled in the same moment the awaited event is set (CPython gh-86296), so a loop
    woken as it was being stopped went on for ever and its server never shut down."""
    woken = False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(poll_seconds):
            woken = await wake.wait()
    wake.clear()
    return woken
