"""Repairing drift: links someone removed upstream, or that dropped deliveries left unmade or unmade.

Two passes over the links, then one re-plan per ticket that drifted (``job_queues.enqueue_replan``), so
the repair is whatever the rules want for the ticket's newest state, with the ordinary idempotency,
claims, retries and records:
1. every Zendesk link (updated since ``since``) is in the bridge's index and has its Jira remote link;
2. every link in the index still exists at Zendesk (else the index entry goes, and the re-plan makes the
   link again if the rules still want it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis

from bridge import job_queues
from bridge.errors import NotConfigured, UpstreamNotFound
from bridge.settings import Settings
from bridge.stores import links
from bridge.upstreams import Clients
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.zendesk.client import ZendeskClient


@dataclass
class Drift:
    """What a reconcile run found, and the tickets it planned again."""

    zendesk_links_seen: int = 0
    indexed: int = 0
    remote_links_missing: list[str] = field(default_factory=list)
    zendesk_links_missing: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


def reconcile(conn: Redis, clients: Clients, settings: Settings, since: datetime | None = None) -> Drift:
    """Compare the link index with Zendesk's links and Jira's remote links; re-plan the tickets that drifted."""
    zendesk, jira = clients.get("zendesk", ZendeskClient), clients.get("jira", JiraClient)
    if zendesk is None or jira is None or not settings.zendesk_base_url:
        raise NotConfigured("reconcile needs Zendesk and Jira configured (ZENDESK_* and JIRA_* variables)")
    drift = Drift()
    drifted: set[str] = set()
    at_zendesk: set[tuple[str, str]] = set()
    for link in zendesk.iter_links():
        at_zendesk.add((link.ticket_id, link.issue_id))
        if since is not None and link.updated_at and datetime.fromisoformat(link.updated_at) < since:
            continue
        drift.zendesk_links_seen += 1
        if links.get(conn, link.ticket_id, link.issue_id) is None:
            links.add(conn, link.ticket_id, link.issue_id, link.issue_key, link.id)
        global_id = f"system={settings.zendesk_base_url}&id={link.ticket_id}"
        if not _remote_link_exists(jira, link.issue_id, global_id):
            drift.remote_links_missing.append(f"{link.issue_key} ← Zendesk #{link.ticket_id}")
            drifted.add(link.ticket_id)
    for (ticket_id, issue_id), indexed in links.all_links(conn).items():
        drift.indexed += 1
        if (ticket_id, issue_id) in at_zendesk:
            continue
        drift.zendesk_links_missing.append(f"Zendesk #{ticket_id} → {indexed.issue_key}")
        links.remove(conn, ticket_id, issue_id)
        drifted.add(ticket_id)
    with conn.pipeline() as pipe:
        for ticket_id in sorted(drifted):
            job_queues.enqueue_replan(conn, pipe, "ticket", ticket_id, "reconcile")
            drift.jobs.append(f"ticket {ticket_id}")
        pipe.execute()
    return drift


def _remote_link_exists(jira: JiraClient, issue: str, global_id: str) -> bool:
    try:
        found = jira.list_remote_links(issue, global_id=global_id)
    except UpstreamNotFound:
        # Jira answers 404 for a globalId the issue has no link with.
        return False
    # A record read back is checked field by field: the link asked for, not any link of the issue.
    return any(link.global_id == global_id for link in found)
