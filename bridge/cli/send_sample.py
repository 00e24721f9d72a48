"""``bridge send-sample jira|zendesk``: sign and post a realistic delivery to a running bridge."""

from __future__ import annotations

import argparse
import sys

import httpx

from bridge import samples
from bridge.settings import Secret, Settings

HELP = "sign and post a realistic sample webhook to a running bridge"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=["jira", "zendesk"])
    parser.add_argument("--url", help="the bridge's base URL (default http://127.0.0.1:$PORT)")
    parser.add_argument("--key", default="PROJ-1", help="Jira issue key the sample references")
    parser.add_argument("--ticket", default="5001", help="Zendesk ticket id the sample references")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.source == "jira":
        secret = _reveal(settings.jira_webhook_secret) or samples.DEV_JIRA_WEBHOOK_SECRET
        field = settings.jira_zendesk_field or "customfield_10050"
        delivery = samples.sign_jira(samples.jira_issue(args.key, args.ticket, field=field), secret)
    else:
        secret = _reveal(settings.zendesk_webhook_secret) or samples.DEV_ZENDESK_WEBHOOK_SECRET
        delivery = samples.sign_zendesk(samples.zendesk_trigger(args.ticket, args.key), secret)
    base_url = args.url or f"http://127.0.0.1:{settings.port}"
    url = base_url.rstrip("/") + delivery.path
    try:
        response = httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=10)
    except httpx.HTTPError as exc:
        print(f"bridge send-sample: could not reach {url}: {exc}", file=sys.stderr)
        return 1
    print(f"POST {url} → {response.status_code} {response.text}")
    return 0 if response.is_success else 1


def _reveal(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None
