"""Every client operation against the sandbox over real HTTP on loopback, checked in the sandbox's state."""

from __future__ import annotations

import pytest

from bridge.clients import Clients
from bridge.clients.errors import PermanentUpstreamError, RequestRefused
from bridge.clients.jira import RemoteLink, RemoteLinkObject
from bridge.clients.jira_software import SoftwareRemoteLink
from bridge.clients.salesforce import Association
from bridge.sandbox import SandboxControl


def _link(global_id: str, title: str, summary: str | None = None) -> RemoteLink:
    return RemoteLink(
        globalId=global_id,
        object=RemoteLinkObject(url=f"https://support.example.com/{title}", title=title, summary=summary),
    )


def test_jira_get_issue_and_every_remote_link_operation(clients: Clients, control: SandboxControl) -> None:
    jira = clients.jira
    assert jira is not None
    issue = jira.get_issue("PROJ-7")
    assert issue.key == "PROJ-7"
    assert issue.id

    created = jira.upsert_remote_link(
        "PROJ-7", _link("system=zd&id=1", "Zendesk #1", "first"), idempotency_key="k1"
    )
    updated = jira.upsert_remote_link("PROJ-7", _link("system=zd&id=1", "Zendesk #1"))
    assert created.created is True
    assert updated.created is False
    assert updated.id == created.id
    # An update replaces the whole link: the summary not sent is gone.
    (stored,) = jira.list_remote_links("PROJ-7", global_id="system=zd&id=1")
    assert stored.object.summary is None

    second = jira.upsert_remote_link("PROJ-7", _link("system=zd&id=2", "Zendesk #2"))
    assert {link.global_id for link in jira.list_remote_links("PROJ-7")} == {
        "system=zd&id=1",
        "system=zd&id=2",
    }
    assert jira.get_remote_link("PROJ-7", second.id).object.title == "Zendesk #2"
    jira.update_remote_link("PROJ-7", second.id, _link("system=zd&id=2", "Zendesk #2 (moved)"))
    assert jira.get_remote_link(issue.id, second.id).object.title == "Zendesk #2 (moved)"
    jira.delete_remote_link("PROJ-7", second.id)
    jira.delete_remote_link_by_global_id("PROJ-7", "system=zd&id=1")
    assert jira.list_remote_links("PROJ-7") == []

    first_call = control.calls("jira")[1]
    assert first_call["idempotency_key"] == "k1"


def test_jira_answers_404_for_a_missing_issue_as_a_permanent_error(clients: Clients) -> None:
    assert clients.jira is not None
    with pytest.raises(PermanentUpstreamError) as caught:
        clients.jira.get_issue("not a key")
    assert caught.value.status == 404
    assert not caught.value.retryable


def test_jira_software_links_with_connect_jwt_split_on_413_and_ignore_old_sequences(
    clients: Clients, control: SandboxControl
) -> None:
    software = clients.jira_software
    assert software is not None
    links = [
        SoftwareRemoteLink(
            id=f"zendesk-{n}",
            updateSequenceNumber=10,
            displayName=f"Zendesk #{n}",
            url=f"https://support.example.com/tickets/{n}",
            type="other",
            lastUpdated="2026-11-25T03:00:00Z",
            associations=[{"associationType": "issueKeys", "values": ["PROJ-7"]}],
        )
        for n in range(10)
    ]

    result = software.submit_remote_links(links, properties={"source": "zendesk"})

    # The sandbox takes at most 4 per batch: 413, then halves until every batch fits.
    assert sorted(result.accepted_remote_links) == sorted(link.id for link in links)
    assert any(call["status"] == 413 for call in control.calls("jira_software"))
    older = links[0].model_copy(update={"update_sequence_number": 5, "display_name": "older"})
    software.submit_remote_links([older])
    assert software.get_remote_link("zendesk-0").display_name == "Zendesk #0"

    software.delete_remote_link("zendesk-0")
    with pytest.raises(PermanentUpstreamError) as caught:
        software.get_remote_link("zendesk-0")
    assert caught.value.status == 404
    software.delete_remote_links_by_properties({"source": "zendesk"})
    with pytest.raises(PermanentUpstreamError):
        software.get_remote_link("zendesk-1")


def test_zendesk_links_every_operation_and_cursor_pages(clients: Clients, control: SandboxControl) -> None:
    zendesk = clients.zendesk
    assert zendesk is not None
    made = [zendesk.create_link(str(5000 + n % 3), str(10000 + n), f"PROJ-{n}") for n in range(7)]

    everything = list(zendesk.iter_links(page_size=2))
    of_ticket = list(zendesk.iter_links(ticket_id="5001", page_size=1))

    assert [link.id for link in everything] == [link.id for link in made]
    assert {link.issue_key for link in of_ticket} == {"PROJ-1", "PROJ-4"}
    pages = [call for call in control.calls("zendesk") if call["method"] == "GET"]
    assert len(pages) >= 4 + 2  # several pages were followed
    assert zendesk.get_link(made[0].id).issue_key == "PROJ-0"
    since = zendesk.list_links_since(since_id=made[4].id, limit=10)
    assert [link.id for link in since] == [made[5].id, made[6].id]
    zendesk.delete_link(made[0].id)
    assert made[0].id not in {link.id for link in zendesk.iter_links()}


def test_salesforce_add_replace_list_and_the_1000_limit(clients: Clients, control: SandboxControl) -> None:
    salesforce = clients.salesforce
    assert salesforce is not None
    case_a, case_b = Association(son="Case", soid="500A"), Association(son="Case", soid="500B")

    salesforce.add_associations("PROJ-7", [case_a])
    salesforce.add_associations("PROJ-7", [case_a, case_b])
    assert sorted(a.soid for a in salesforce.list_associations("PROJ-7")) == ["500A", "500B"]
    salesforce.replace_associations("PROJ-7", [case_b])
    assert [a.soid for a in salesforce.list_associations("PROJ-7")] == ["500B"]

    calls_before = len(control.calls("salesforce"))
    with pytest.raises(RequestRefused):
        salesforce.add_associations("PROJ-7", [Association(son="Case", soid=f"5{n:05}") for n in range(1001)])
    assert len(control.calls("salesforce")) == calls_before


def test_jsm_actions_every_operation_with_pages(clients: Clients, control: SandboxControl) -> None:
    jsm = clients.jsm
    assert jsm is not None
    integration = "sandbox-integration"
    control.seed_integration(integration)
    body = {
        "type": "create",
        "domain": "alert",
        "direction": "incoming",
        "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []},
    }
    made = [jsm.create_action(integration, {**body, "name": f"action {n}"}) for n in range(60)]

    listed = list(jsm.iter_actions(integration))
    assert [action.name for action in listed] == [f"action {n}" for n in range(60)]
    assert len([call for call in control.calls("jsm") if call["method"] == "GET"]) == 2

    first = made[0].id
    assert first is not None
    assert jsm.update_action(integration, first, {"enabled": True}).enabled is True
    assert jsm.get_action(integration, first).enabled is True
    jsm.reorder_action(integration, first, None)
    assert [action.name for action in jsm.iter_actions(integration)][-1] == "action 0"
    jsm.delete_action(integration, first)
    assert len(list(jsm.iter_actions(integration))) == 59
