"""``bridge send-sample jira|zendesk``: sign and post a realistic delivery to a running bridge."""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from bridge import samples

HELP = "sign and post a realistic sample webhook to a running bridge"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=["jira", "zendesk"])
    parser.add_argument(
        "--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}", help="the bridge's base URL"
    )
    parser.add_argument("--key", default="PROJ-1", help="Jira issue key the sample references")
    parser.add_argument("--ticket", default="5001", help="Zendesk ticket id the sample references")


def run(args: argparse.Namespace) -> int:
    if args.source == "jira":
        secret = os.environ.get("JIRA_WEBHOOK_SECRET") or samples.DEV_JIRA_WEBHOOK_SECRET
        field = os.environ.get("JIRA_ZENDESK_FIELD") or "customfield_10050"
        delivery = samples.sign_jira(samples.jira_issue(args.key, args.ticket, field=field), secret)
    else:
        secret = os.environ.get("ZENDESK_WEBHOOK_SECRET") or samples.DEV_ZENDESK_WEBHOOK_SECRET
        delivery = samples.sign_zendesk(samples.zendesk_trigger(args.ticket, args.key), secret)
    url = args.url.rstrip("/") + delivery.path
    try:
        response = httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=10)
    except httpx.HTTPError as exc:
        print(f"bridge send-sample: could not reach {url}: {exc}", file=sys.stderr)
        return 1
    print(f"POST {url} → {response.status_code} {response.text}")
    return 0 if response.is_success else 1
