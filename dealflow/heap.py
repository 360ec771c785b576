"""The garbage collector and the event loop of a long-running dealflow process."""

from __future__ import annotations

import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def freeze_start_up() -> None:
    """Take what start-up allocated (modules, the schema, settings: objects that live as long as the
    process) out of the collector's sight, after collecting what start-up left as garbage.

    CPython collects its oldest generation whenever the objects that survived into it since the last
    full collection reach a quarter of those it holds, and a full collection walks every object it
    holds. An import's batches (records, rows, events, thousands each) reach that quarter every few
    batches, so each 100,000-row import walked the start-up heap some 30 times: a third of its time in
    a server's process (bench/README.md, import). Frozen objects are never collected; they live as
    long as the process anyway."""
    gc.collect()
    gc.freeze()


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop, the loop `dealflow serve` runs on (uvicorn's, with uvicorn[standard])."""
    return uvloop.run(main)
