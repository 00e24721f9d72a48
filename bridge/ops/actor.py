"""Who is acting — the dashboard's or API's logged-in user, or the OS user of a command — and what they did.

The entry points say who acts once, around the whole request or command (``acting``); the operations that
change something (``bridge.ops.service``, ``bridge jsm apply``, ``bridge reconcile``) run inside
``audited``, which records who did it, what, and how it ended in the audit log (``bridge.stores.audit``).
Who acts is a context variable, so that it follows a request into the thread that runs its Redis calls
and no function between the entry point and the record has to pass it on.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from starlette.requests import Request

from bridge.stores import audit

log = logging.getLogger("bridge.audit")


@dataclass(frozen=True)
class Actor:
    """Who acts (a user name) and through what (``dashboard``, ``api``, ``cli``, ``schedule``)."""

    name: str
    via: str


UNKNOWN = Actor("unknown", "unknown")
"""The actor of an operation no entry point claimed (a library call, a test)."""

_current: ContextVar[Actor] = ContextVar("bridge_actor", default=UNKNOWN)


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Make ``actor`` the one acting until the block ends."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def current() -> Actor:
    """Return who is acting now."""
    return _current.get()


def os_user(via: str = "cli") -> Actor:
    """Return the operating system's user of this process (from the password database, not $USER)."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = f"uid {os.getuid()}"
    return Actor(name, via)


def from_request(request: Request, via: str) -> Actor:
    """Return the user a request logged in as (HTTP Basic; the login was checked before)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return Actor(base64.b64decode(encoded.strip(), validate=True).decode().partition(":")[0], via)
        except (binascii.Error, UnicodeDecodeError):
            pass
    return Actor("unknown", via)


@dataclass
class Outcome:
    """How an audited action ended: set ``detail`` (and ``ok`` to False for a refusal that raised nothing)."""

    ok: bool = True
    detail: str = ""


@contextmanager
def audited(conn: Redis, action: str, target: str) -> Iterator[Outcome]:
    """Run the block as ``action`` on ``target`` by the current actor, and record it with its outcome.

    An exception is recorded as a failed action (its message the detail) and raised on. When Redis cannot
    take the record, the action stands and a warning says it went unrecorded.
    """
    outcome = Outcome()
    try:
        yield outcome
    except RedisError:
        raise  # Redis did not answer the action: it cannot take its record either
    except Exception as error:
        _record(conn, action, target, Outcome(False, str(error) or type(error).__name__))
        raise
    _record(conn, action, target, outcome)


def _record(conn: Redis, action: str, target: str, outcome: Outcome) -> None:
    who = current()
    try:
        audit.record(
            conn,
            actor=who.name,
            via=who.via,
            action=action,
            target=target,
            ok=outcome.ok,
            detail=outcome.detail,
        )
    except RedisError as error:
        log.warning("%s of %s by %s was not recorded in the audit log: %s", action, target, who.name, error)
