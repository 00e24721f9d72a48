"""Repairing drift: links the senders' dropped deliveries never made, or that someone removed upstream.

Two passes, each enqueueing ordinary call jobs (so idempotency, claims, retries and records apply):
1. every Zendesk link (updated since ``since``) is in the bridge's index and has its Jira remote link;
2. every link in the index still exists at Zendesk (else the index entry goes and the link is re-created).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis import Redis

from bridge import defaults, job_queues
from bridge.errors import NotConfigured, UpstreamNotFound
from bridge.job_queues import ABANDONED_RETRY, destination_queue
from bridge.rules.model import PlannedAction
from bridge.settings import Settings
from bridge.stores import links
from bridge.upstreams import Clients
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.zendesk.client import ZendeskClient


@dataclass
class Drift:
    """What a reconcile run found and enqueued."""

    zendesk_links_seen: int = 0
    indexed: int = 0
    remote_links_missing: list[str] = field(default_factory=list)
    zendesk_links_missing: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


def reconcile(conn: Redis, clients: Clients, settings: Settings, since: datetime | None = None) -> Drift:
    """Compare the link index with Zendesk's links and Jira's remote links; enqueue the missing calls."""
    zendesk, jira = clients.get("zendesk", ZendeskClient), clients.get("jira", JiraClient)
    if zendesk is None or jira is None or not settings.zendesk_base_url:
        raise NotConfigured("reconcile needs Zendesk and Jira configured (ZENDESK_* and JIRA_* variables)")
    drift = Drift()
    run_id = f"reconcile-{int(time.time())}"
    sequence = int(time.time() * 1000)
    at_zendesk: set[tuple[str, str]] = set()
    for link in zendesk.iter_links():
        at_zendesk.add((link.ticket_id, link.issue_key))
        if since is not None and link.updated_at and datetime.fromisoformat(link.updated_at) < since:
            continue
        drift.zendesk_links_seen += 1
        links.add(conn, link.ticket_id, link.issue_key, link.id)
        global_id = f"system={settings.zendesk_base_url}&id={link.ticket_id}"
        if not _remote_link_exists(jira, link.issue_key, global_id):
            drift.remote_links_missing.append(f"{link.issue_key} ← Zendesk #{link.ticket_id}")
            action = _action(
                "jira.remote_link.upsert",
                "jira",
                f"jira:{link.issue_key}",
                {
                    "issue": link.issue_key,
                    "global_id": global_id,
                    "url": f"{settings.zendesk_base_url}/agent/tickets/{link.ticket_id}",
                    "title": f"Zendesk #{link.ticket_id}",
                },
                run_id,
                sequence,
                link.ticket_id,
            )
            drift.jobs.append(_enqueue(conn, settings, action, run_id))
    for (ticket_id, issue_key), _ in links.all_links(conn).items():
        drift.indexed += 1
        if (ticket_id, issue_key) in at_zendesk:
            continue
        drift.zendesk_links_missing.append(f"Zendesk #{ticket_id} → {issue_key}")
        links.remove(conn, ticket_id, issue_key)
        action = _action(
            "zendesk.jira_link.create",
            "zendesk",
            f"zendesk:{ticket_id}",
            {"ticket_id": ticket_id, "issue_key": issue_key},
            run_id,
            sequence,
            ticket_id,
        )
        drift.jobs.append(_enqueue(conn, settings, action, run_id))
    return drift


def _remote_link_exists(jira: JiraClient, issue_key: str, global_id: str) -> bool:
    try:
        return bool(jira.list_remote_links(issue_key, global_id=global_id))
    except UpstreamNotFound:
        # Jira answers 404 for a globalId the issue has no link with.
        return False


def _action(
    kind: str, destination: str, target: str, params: dict[str, Any], run_id: str, sequence: int, ticket: str
) -> PlannedAction:
    return PlannedAction(
        kind=kind,
        destination=destination,
        target=target,
        params=params,
        rule="reconcile",
        event_id=run_id,
        sequence=sequence,
        subject=f"reconcile:ticket:{ticket}",
    )


def _enqueue(conn: Redis, settings: Settings, action: PlannedAction, run_id: str) -> str:
    job = destination_queue(conn, action.destination).enqueue_call(
        job_queues.CALLS_JOB_FUNC,
        args=(run_id, action.destination, [action.to_dict()], 1),
        timeout=settings.calls_job_timeout_s,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=f"reconcile: {action.kind} {action.target}",
        meta={"event_id": run_id, "destination": action.destination},
        retry=ABANDONED_RETRY,
    )
    return str(job.id)
