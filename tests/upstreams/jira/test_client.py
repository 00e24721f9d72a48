"""Jira's client: every operation against the sandbox over real HTTP on loopback, checked in its state."""

from __future__ import annotations

import pytest

from bridge.errors import PermanentUpstreamError
from bridge.upstreams.jira.client import JiraClient, RemoteLink, RemoteLinkObject
from bridge.upstreams.sandbox import SandboxControl


def _link(global_id: str, title: str, summary: str | None = None) -> RemoteLink:
    return RemoteLink(
        globalId=global_id,
        object=RemoteLinkObject(url=f"https://support.example.com/{title}", title=title, summary=summary),
    )


def test_jira_get_issue_and_every_remote_link_operation(
    jira_client: JiraClient, upstreams_control: SandboxControl
) -> None:
    issue = jira_client.get_issue("PROJ-7")
    assert issue.key == "PROJ-7"
    assert issue.id

    created = jira_client.upsert_remote_link(
        "PROJ-7", _link("system=zd&id=1", "Zendesk #1", "first"), idempotency_key="k1"
    )
    updated = jira_client.upsert_remote_link("PROJ-7", _link("system=zd&id=1", "Zendesk #1"))
    assert created.created is True
    assert updated.created is False
    assert updated.id == created.id
    # An update replaces the whole link: the summary not sent is gone.
    (stored,) = jira_client.list_remote_links("PROJ-7", global_id="system=zd&id=1")
    assert stored.object.summary is None

    second = jira_client.upsert_remote_link("PROJ-7", _link("system=zd&id=2", "Zendesk #2"))
    assert {link.global_id for link in jira_client.list_remote_links("PROJ-7")} == {
        "system=zd&id=1",
        "system=zd&id=2",
    }
    assert jira_client.get_remote_link("PROJ-7", second.id).object.title == "Zendesk #2"
    jira_client.update_remote_link("PROJ-7", second.id, _link("system=zd&id=2", "Zendesk #2 (moved)"))
    assert jira_client.get_remote_link(issue.id, second.id).object.title == "Zendesk #2 (moved)"
    jira_client.delete_remote_link("PROJ-7", second.id)
    jira_client.delete_remote_link_by_global_id("PROJ-7", "system=zd&id=1")
    assert jira_client.list_remote_links("PROJ-7") == []

    first_call = upstreams_control.calls("jira")[1]
    assert first_call["idempotency_key"] == "k1"


def test_jira_answers_404_for_a_missing_issue_as_a_permanent_error(jira_client: JiraClient) -> None:
    with pytest.raises(PermanentUpstreamError) as caught:
        jira_client.get_issue("not a key")
    assert caught.value.status == 404
    assert not caught.value.retryable
