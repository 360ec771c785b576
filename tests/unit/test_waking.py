"""A background loop stops when it is stopped, even when it is woken in the same moment."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from subscriptions.waking import next_turn

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "db", "resolvers", "schema", "subscriptions", "dealflow")
# Every loop that waits for a wake-up or its poll interval; a new one without a row is a defect.
# (subscriptions/sessions.py waits for its wake-up alone, with no interval: a plain Event.wait.)
LOOPS = {
    "subscriptions/relay.py": "Relay",
    "resolvers/mailer.py": "Mailer",
    "resolvers/webhook_sender.py": "WebhookSender",
    "resolvers/imports.py": "ImportRunner",
}


async def test_a_loop_woken_as_it_is_cancelled_stops() -> None:
    wake = asyncio.Event()
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            await next_turn(wake, poll_seconds=60)
            turns += 1

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)  # parked in its wait
    wake.set()
    task.cancel()  # in the same moment: asyncio.wait_for of Python 3.11 lost this cancellation
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):
            await task
    assert turns == 0


async def test_a_turn_comes_when_woken_or_when_the_poll_interval_passes_and_clears_the_wake() -> None:
    wake = asyncio.Event()
    wake.set()
    async with asyncio.timeout(1):
        await next_turn(wake, poll_seconds=60)  # woken: at once
    assert not wake.is_set()
    async with asyncio.timeout(1):
        await next_turn(wake, poll_seconds=0.01)  # not woken: after the interval


def test_every_background_loop_waits_through_next_turn_and_nothing_uses_wait_for() -> None:
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            relative = str(path.relative_to(ROOT))
            assert "wait_for(" not in text, f"{relative}: asyncio.wait_for can lose a cancellation"
            if "_wake = asyncio.Event()" in text and "POLL_SECONDS" in text:
                assert relative in LOOPS, f"{relative} has a polling loop without a row in LOOPS"
    for relative, name in LOOPS.items():
        text = (ROOT / relative).read_text()
        assert f"class {name}" in text and "await next_turn(self._wake, " in text, relative


async def test_the_old_wait_for_loop_lost_the_cancellation_on_this_python() -> None:
    """The control: the same loop on asyncio.wait_for, on the Python versions whose wait_for has the
    race, does not stop (so the first test can fail)."""
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("wait_for keeps cancellations from Python 3.12 on")
    wake = asyncio.Event()

    async def loop() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 60)
            wake.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    wake.set()
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # still looping: the bug next_turn exists for
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
