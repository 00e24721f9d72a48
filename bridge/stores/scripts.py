"""Lua scripts sent by their SHA, in a pipeline with other writes or on their own, in one round trip.

redis-py's script objects, queued in a pipeline, first ask Redis whether their scripts are loaded
(``SCRIPT EXISTS``: one more round trip per pipeline). A ``Lua`` script is queued as a bare ``EVALSHA``
instead, and ``execute`` runs again any that Redis answered ``NOSCRIPT`` (its script cache is empty after
a restart or a ``SCRIPT FLUSH``): a script that was not found did nothing, so running it once more is its
only run. Scripts are what the hot path uses to write a record whose parts would each be a command of
their own (a call's record, an event's record): one command to pack and answer instead of ten.

A ``NOSCRIPT`` loads every ``Lua`` script of the process at once (``SCRIPT LOAD``, which Redis 7.4+ never
evicts, unlike scripts it learnt from ``EVAL``), so that after a restart Redis has all of them or, for the
moment of the first pipeline that finds it empty, none: a pipeline's scripts then run in their order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

Arg = str | bytes | int | float

_SOURCES: dict[str, str] = {}
"""Every ``Lua`` script's source by its SHA1 (what ``EVALSHA`` names)."""


class Lua:
    """A Lua script, known to Redis by the SHA1 of its source."""

    def __init__(self, source: str) -> None:
        self.source = source
        # The name Redis gives a script (EVALSHA), not a security measure.
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        _SOURCES[self.sha] = source

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[Arg]) -> None:
        """Add the script's run to ``pipe`` (sent, and its ``NOSCRIPT`` handled, by ``execute``)."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)

    def __call__(self, conn: Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run the script now and return its reply: one round trip, two when Redis lost its scripts."""
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            with conn.pipeline(transaction=False) as pipe:
                _load_all(pipe)
                pipe.evalsha(self.sha, len(keys), *keys, *args)
                return pipe.execute()[-1]


def execute(pipe: Pipeline) -> list[Any]:
    """Send a pipeline (not a transaction: its scripts could not run again inside it) and return its
    replies; each ``Lua`` script Redis did not have runs again, in order, after every script is loaded (one
    more round trip, only then).

    Raises the first error a command answered (as ``Pipeline.execute`` does; a ``NOSCRIPT`` of a script
    that is no ``Lua`` one stays an error), once the pipeline and the scripts run again have been sent.
    """
    # The pipeline's own flag (its class also has a ``transaction`` method, which is what type checkers see).
    assert not vars(pipe).get("transaction"), "scripts.execute sends pipelines, not transactions"
    stack = [args for args, _ in pipe.command_stack]
    replies = pipe.execute(raise_on_error=False)
    missing = [
        index
        for index, reply in enumerate(replies)
        if isinstance(reply, NoScriptError) and str(stack[index][1]) in _SOURCES
    ]
    if missing:
        loaded = _load_all(pipe)
        for index in missing:
            _, sha, count, *keys_and_args = stack[index]
            pipe.evalsha(sha, count, *keys_and_args)
        for index, reply in zip(missing, pipe.execute(raise_on_error=False)[loaded:], strict=True):
            replies[index] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _load_all(pipe: Pipeline) -> int:
    """Queue a ``SCRIPT LOAD`` of every ``Lua`` script; return how many."""
    for source in _SOURCES.values():
        pipe.script_load(source)
    return len(_SOURCES)
