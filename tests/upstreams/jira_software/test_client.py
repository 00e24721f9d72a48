"""Jira Software's client: every operation against the sandbox over real HTTP on loopback, checked in its state."""

from __future__ import annotations

import pytest

from bridge.errors import PermanentUpstreamError
from bridge.upstreams.jira_software.client import JiraSoftwareClient, SoftwareRemoteLink
from bridge.upstreams.sandbox import SandboxControl


def test_jira_software_links_with_connect_jwt_split_on_413_and_ignore_old_sequences(
    software_client: JiraSoftwareClient, upstreams_control: SandboxControl
) -> None:
    software = software_client
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
    assert any(call["status"] == 413 for call in upstreams_control.calls("jira_software"))
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
