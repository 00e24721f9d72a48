"""What the upstreams must hold when the bridge has converged: the rules applied to the newest state of every
ticket and issue, read from the sandbox's own sources (its Zendesk tickets and Jira issues), compared with
what its upstreams hold, as counts of what is lost, duplicated or stale.

The rules are the built-in ones (bridge/rules/default.yaml): a ticket and an issue are linked when either
names the other — the ticket's Jira field holds one of the issue's keys (current, or one it had before a
move), or the issue's Zendesk field holds the ticket's id — and neither is deleted. A linked pair has a
Jira remote link on the issue (globalId of the ticket, the ticket's subject and status), one Zendesk link
(the issue's id and current key), and the ticket's Jira Software link is associated with the current keys
of all its linked issues (none: no link).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bridge.sources import refs

SOLVED = ("solved", "closed")
APPEARANCES = {"new": "new", "open": "inprogress", "pending": "inprogress", "hold": "default"}


@dataclass
class Verdict:
    """How far the upstreams are from what the rules define."""

    lost: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    expected_links: int = 0

    @property
    def converged(self) -> bool:
        return not (self.lost or self.duplicate or self.stale)

    def counts(self) -> str:
        return f"lost {len(self.lost)}, duplicate {len(self.duplicate)}, stale {len(self.stale)}"


def judge(state: dict[str, Any], zendesk_base: str, ticket_field: str, issue_field: str) -> Verdict:
    """Compare the sandbox's upstreams with what its sources define (``state``: ``GET /_sandbox/state``)."""
    tickets = {
        str(ticket["id"]): ticket for ticket in state["zendesk"]["tickets"] if ticket["status"] != "deleted"
    }
    issues = {issue["id"]: issue for issue in state["jira"]["issues"]}
    aliases = {alias: issue_id for alias, issue_id in state["jira"]["aliases"].items() if issue_id in issues}
    by_key = {issue["key"]: issue["id"] for issue in issues.values()} | aliases
    pairs: set[tuple[str, str]] = set()
    for ticket_id, ticket in tickets.items():
        value = next((f["value"] for f in ticket["custom_fields"] if str(f["id"]) == ticket_field), None)
        for key in refs.jira_keys(value):
            if key in by_key:
                pairs.add((ticket_id, by_key[key]))
    for issue_id, issue in issues.items():
        for ticket_id in refs.ids(issue["fields"].get(issue_field)):
            if ticket_id in tickets:
                pairs.add((ticket_id, issue_id))
    verdict = Verdict(expected_links=len(pairs))
    _remote_links(state, tickets, issues, pairs, zendesk_base, verdict)
    _zendesk_links(state, issues, pairs, verdict)
    _software_links(state, tickets, issues, pairs, verdict)
    return verdict


def _remote_links(
    state: dict[str, Any],
    tickets: dict[str, Any],
    issues: dict[str, Any],
    pairs: set[tuple[str, str]],
    zendesk_base: str,
    verdict: Verdict,
) -> None:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    key_to_id = {issue["key"]: issue_id for issue_id, issue in issues.items()}
    prefix = f"system={zendesk_base}&id="
    for key, links in state["jira"]["remote_links"].items():
        issue_id = key_to_id.get(key)
        for link in links:
            ticket_id = str(link.get("globalId", ""))[len(prefix) :]
            if issue_id is None or not str(link.get("globalId", "")).startswith(prefix):
                verdict.stale.append(f"remote link {link.get('globalId')} on {key}, an issue that is gone")
                continue
            found[(ticket_id, issue_id)] = link
    for pair in pairs - set(found):
        verdict.lost.append(f"remote link of ticket {pair[0]} on issue {issues[pair[1]]['key']}")
    for pair in set(found) - pairs:
        verdict.stale.append(f"remote link of ticket {pair[0]} on issue {issues[pair[1]]['key']}")
    for pair in set(found) & pairs:
        ticket, link = tickets[pair[0]], found[pair]
        wanted = {
            "title": f"Zendesk #{pair[0]}",
            "summary": ticket["subject"],
            "url": f"{zendesk_base}/agent/tickets/{pair[0]}",
            "status": {"resolved": ticket["status"] in SOLVED},
        }
        got = {name: link["object"].get(name) for name in wanted}
        if got != wanted:
            verdict.stale.append(
                f"remote link of ticket {pair[0]} on {issues[pair[1]]['key']}: {got} ≠ {wanted}"
            )


def _zendesk_links(
    state: dict[str, Any], issues: dict[str, Any], pairs: set[tuple[str, str]], verdict: Verdict
) -> None:
    counted = Counter((link["ticket_id"], link["issue_id"]) for link in state["zendesk"]["links"])
    keys = {(link["ticket_id"], link["issue_id"]): link["issue_key"] for link in state["zendesk"]["links"]}
    for pair, count in counted.items():
        if count > 1:
            verdict.duplicate.append(f"{count} Zendesk links of ticket {pair[0]} and issue {pair[1]}")
        if pair not in pairs:
            verdict.stale.append(f"Zendesk link of ticket {pair[0]} and issue {pair[1]}")
        elif keys[pair] != issues[pair[1]]["key"]:
            verdict.stale.append(
                f"Zendesk link of ticket {pair[0]} shows {keys[pair]}, not {issues[pair[1]]['key']}"
            )
    for pair in pairs - set(counted):
        verdict.lost.append(f"Zendesk link of ticket {pair[0]} and issue {issues[pair[1]]['key']}")


def _software_links(
    state: dict[str, Any],
    tickets: dict[str, Any],
    issues: dict[str, Any],
    pairs: set[tuple[str, str]],
    verdict: Verdict,
) -> None:
    wanted: dict[str, list[str]] = {}
    for ticket_id, issue_id in pairs:
        wanted.setdefault(ticket_id, []).append(issues[issue_id]["key"])
    found = {
        stored["link"]["id"].removeprefix("zendesk-ticket-"): stored["link"]
        for stored in state["jira_software"]["remote_links"]
    }
    for ticket_id in set(wanted) - set(found):
        verdict.lost.append(f"Jira Software link of ticket {ticket_id}")
    for ticket_id in set(found) - set(wanted):
        verdict.stale.append(f"Jira Software link of ticket {ticket_id}, linked with nothing")
    for ticket_id in set(found) & set(wanted):
        link = found[ticket_id]
        keys = sorted(value for association in link["associations"] for value in association["values"])
        status = tickets[ticket_id]["status"]
        appearance = "success" if status in SOLVED else APPEARANCES.get(status, "default")
        got = (keys, (link.get("status") or {}).get("appearance"))
        if got != (sorted(wanted[ticket_id]), appearance):
            verdict.stale.append(
                f"Jira Software link of ticket {ticket_id}: {got} ≠ {sorted(wanted[ticket_id]), appearance}"
            )
