"""Lua scripts sent by their SHA, in a pipeline with other writes or on their own, in one round trip.

redis-py's script objects, queued in a pipeline, first ask Redis whether their scripts are loaded
(``SCRIPT EXISTS``: one more round trip per pipeline). A ``Lua`` script is queued as a bare ``EVALSHA``
instead, and ``execute`` runs again, by its source, any that Redis answered ``NOSCRIPT`` (its script
cache is empty after a restart or a ``SCRIPT FLUSH``): a script that was not found did nothing, so running
it once more is its only run. Scripts are what the hot path uses to write a record whose parts would each
be a command of their own (a call's record, an event's record): one command to pack and answer instead
of ten.
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
        """Run the script now and return its reply: one round trip, two when Redis lost the script."""
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return conn.eval(self.source, len(keys), *keys, *args)


def execute(pipe: Pipeline) -> list[Any]:
    """Send a pipeline (not a transaction) and return its replies, running again by source each ``Lua``
    script Redis did not have, after the pipeline's other commands (one more round trip, only then).

    Raises the first error any other command answered (as ``Pipeline.execute`` does), once the
    pipeline's other commands and the scripts run again have been sent.
    """
    stack = [args for args, _ in pipe.command_stack]
    replies = pipe.execute(raise_on_error=False)
    missing = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        for index in missing:
            _, sha, *rest = stack[index]
            pipe.eval(_SOURCES[str(sha)], *rest)
        for index, reply in zip(missing, pipe.execute(raise_on_error=False), strict=True):
            replies[index] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
