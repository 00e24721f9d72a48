"""Who is acting: the dashboard's or API's logged-in user, or the OS user of a command, for the audit log.

The entry points say who acts once, around the whole request or command (``acting``); the operations in
``bridge.ops.service`` that change something read it (``current``) when they record themselves in the
audit log (``bridge.stores.audit``). A context variable, so that it follows a request into the thread
that runs its Redis calls, and no function between the entry point and the record has to pass it on.
"""

from __future__ import annotations

import base64
import binascii
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.requests import Request


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
