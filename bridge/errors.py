"""The bridge's exception tree: every error it raises on purpose derives from ``BridgeError``.

BridgeError
├── SettingsError                a variable is missing or malformed (start-up); names the variable
├── DeliveryRejected             an inbound webhook is refused (carries the HTTP status and reason)
├── RulesError                   a rules (or JSM actions) file is invalid: every problem with its line
├── RuleError                    a valid rule could not be applied to one event (plan time)
├── UpstreamError                an upstream API call failed: method, URL, status, body, Retry-After
│   ├── RetryableUpstreamError   408, 409, 425, 429, 5xx: worth another attempt later
│   │   ├── RateLimited          429: the upstream's rate limit (honour its Retry-After)
│   │   ├── UpstreamUnavailable  503: the upstream is unavailable for now (honour its Retry-After)
│   │   └── UpstreamUnreachable  no answer at all: timeout, refused or dropped connection (status None)
│   └── PermanentUpstreamError   any other answer (4xx, or a 2xx whose body is not the documented shape)
│       ├── UpstreamNotFound     404: what the call names is not there (a delete counts it as done)
│       └── UpstreamInvalid      422: the record is refused as it stands (e.g. a link that exists already)
├── RequestRefused               a client refused to send a request the upstream is documented to reject
├── NotConfigured                an action or command needs an upstream whose variables are not set
├── DestinationHeld              a request was not sent: the destination's pace, pause or circuit holds it
├── RetryLater                   a call could not be made now; the job tries again after ``delay_s``
├── CallFailed                   a call failed for good; carries its record (upstream status and answer)
├── EventFailed                  an event's calls failed for good (the job ends in RQ's failed registry)
├── NotFound                     a job, event or queue an operator asked for does not exist (any more)
└── BadParameter                 an operator's request has a malformed parameter (the ops API's 400)

Decisions are made on the type, never on a message or a status number: ``RetryableUpstreamError`` is
retried, ``PermanentUpstreamError``, ``RequestRefused`` and ``NotConfigured`` are not; ``RateLimited``
and ``UpstreamUnavailable`` wait as long as their ``Retry-After`` says, as a rate limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bridge.defaults import UPSTREAM_BODY_LIMIT

if TYPE_CHECKING:
    from bridge.rules.problems import RuleProblem
    from bridge.stores.history import CallRecord


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""


class SettingsError(BridgeError):
    """A configuration variable is missing or malformed; the message names the variable."""


class DeliveryRejected(BridgeError):
    """An inbound delivery is refused with ``status`` and a reason the sender can read."""

    def __init__(self, status: int, reason: str, code: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        # Short machine-readable reason, the label of the rejections metric.
        self.code = code


class RulesError(BridgeError):
    """A rules file is invalid; ``problems`` lists all that was found, not just the first."""

    def __init__(self, problems: Sequence[RuleProblem], path: str = "<rules>") -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        count = len(self.problems)
        lines = [f"{self.path}: {count} problem{'s' if count != 1 else ''}"]
        lines += [problem.format(self.path) for problem in self.problems]
        return "\n".join(lines)


class RuleError(BridgeError):
    """A rule failed on one event (a missing field, a value of the wrong type, a refused operation)."""

    def __init__(self, rule: str, message: str, action: str | None = None, line: int | None = None) -> None:
        self.rule = rule
        self.action = action
        self.line = line
        where = f"rule {rule!r}" + (f", action {action}" if action else "")
        if line is not None:
            where += f" (line {line})"
        super().__init__(f"{where}: {message}")


class UpstreamError(BridgeError):
    """An upstream call that failed; ``url`` never carries credentials (they travel in headers)."""

    retryable = False

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        body: str = "",
        retry_after: float | None = None,
        reason: str = "",
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body[:UPSTREAM_BODY_LIMIT]
        self.retry_after = retry_after
        answered = f"answered {status}" if status is not None else f"did not answer ({reason})"
        super().__init__(f"{method} {url} {answered}" + (f": {self.body[:300]}" if self.body else ""))


class RetryableUpstreamError(UpstreamError):
    """Worth retrying later (honouring ``retry_after`` when the upstream sent one)."""

    retryable = True


class RateLimited(RetryableUpstreamError):
    """429: the upstream's rate limit; ``retry_after`` says when to come back, when it says."""


class UpstreamUnavailable(RetryableUpstreamError):
    """503: the upstream is unavailable for now; ``retry_after`` says when to come back, when it says."""


class UpstreamUnreachable(RetryableUpstreamError):
    """No answer: connection refused or dropped, or a timeout in any phase."""


class PermanentUpstreamError(UpstreamError):
    """The upstream refused the request; sending it again would be refused again."""


class UpstreamNotFound(PermanentUpstreamError):
    """404: the record the call names does not exist (any more)."""


class UpstreamInvalid(PermanentUpstreamError):
    """422: the upstream refuses the record as it stands (Zendesk: a link that exists already)."""


class RequestRefused(BridgeError):
    """A request the client does not send because the upstream documents that it would reject it."""


class NotConfigured(BridgeError):
    """An action or command needs an upstream whose variables are not set."""


class DestinationHeld(BridgeError):
    """A request to ``destination`` was not sent: its rate limit's next slot is too far, a 429 paused it,
    or its circuit is open; ``until`` (epoch seconds) is when it may go, ``reason`` says which."""

    def __init__(self, destination: str, until: float, reason: str) -> None:
        super().__init__(f"{destination}: {reason}")
        self.destination = destination
        self.until = until
        self.reason = reason


class RetryLater(BridgeError):
    """The call could not be made now; try the job again after ``delay_s``."""

    def __init__(self, delay_s: float, reason: str, rate_limited: bool = False, counts: bool = True) -> None:
        super().__init__(reason)
        self.delay_s = delay_s
        self.reason = reason
        self.rate_limited = rate_limited
        # A busy target or the bridge's own rate limit is not a failed attempt.
        self.counts = counts


class CallFailed(BridgeError):
    """The call failed for good; ``record`` says how (upstream status and answer)."""

    def __init__(self, record: CallRecord) -> None:
        super().__init__(record.get("error") or "call failed")
        self.record = record


class EventFailed(BridgeError):
    """An event's calls failed for good; the message names each call and the upstream's answer."""


class NotFound(BridgeError):
    """The job, event or queue asked for does not exist (any more)."""


class BadParameter(BridgeError):
    """A parameter of an operator's request is malformed or out of range (answered 400, never 500)."""
