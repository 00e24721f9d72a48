"""``bridge send-sample jira|zendesk``: sign and post a realistic delivery to a running bridge.

The two samples are independent: the Zendesk one is ticket 5001 referencing PROJ-1, the Jira one issue
PROJ-2 whose Zendesk field holds ticket 5002, so each makes links of its own whatever the order. (A Jira
sample naming a ticket the bridge linked already plans nothing: rule 4 leaves linked tickets to rule 1.)
"""

from __future__ import annotations

import argparse
import re
import sys

import httpx

from bridge import samples
from bridge.settings import Secret, Settings

HELP = "sign and post a realistic sample webhook to a running bridge"

DEFAULTS = {"zendesk": ("5001", "PROJ-1"), "jira": ("5002", "PROJ-2")}
"""Ticket id and issue key of each source's sample unless given: one pair each, so neither plans nothing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=["jira", "zendesk"])
    parser.add_argument("--url", help="the bridge's base URL (default http://127.0.0.1:$PORT)")
    parser.add_argument("--key", help="Jira issue key the sample references (zendesk: PROJ-1, jira: PROJ-2)")
    parser.add_argument(
        "--ticket", help="Zendesk ticket id the sample references (zendesk: 5001, jira: 5002)"
    )


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    ticket, key = args.ticket or DEFAULTS[args.source][0], args.key or DEFAULTS[args.source][1]
    if args.source == "jira":
        secret = _reveal(settings.jira_webhook_secret) or samples.DEV_JIRA_WEBHOOK_SECRET
        field = settings.jira_zendesk_field or "customfield_10050"
        payload = samples.jira_issue(key, ticket, field=field, issue_id=_issue_id(key))
        delivery = samples.sign_jira(payload, secret)
    else:
        secret = _reveal(settings.zendesk_webhook_secret) or samples.DEV_ZENDESK_WEBHOOK_SECRET
        delivery = samples.sign_zendesk(samples.zendesk_trigger(ticket, key), secret)
    base_url = (args.url or f"http://127.0.0.1:{settings.port}").rstrip("/")
    url = base_url + delivery.path
    try:
        response = httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=10)
    except httpx.HTTPError as exc:
        print(f"bridge send-sample: could not reach {url}: {exc}", file=sys.stderr)
        return 1
    print(
        f"POST {url} ({args.source} sample: ticket {ticket}, issue {key}) → {response.status_code} {response.text}"
    )
    event_id = _event_id(response)
    if response.is_success and event_id:
        print(f"follow it: {base_url}/dashboard/events/{event_id}")
    return 0 if response.is_success else 1


def _event_id(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return str(answer["event_id"]) if isinstance(answer, dict) and answer.get("event_id") else None


def _issue_id(key: str) -> str | None:
    """A stable issue id for a sample key (PROJ-2 → 10002): distinct keys are distinct issues."""
    number = re.search(r"-(\d+)$", key)
    return str(10000 + int(number.group(1))) if number else None


def _reveal(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None
