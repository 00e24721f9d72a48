"""Zendesk's client: every operation against the sandbox over real HTTP on loopback, checked in its state."""

from __future__ import annotations

from bridge.upstreams.sandbox import SandboxControl
from bridge.upstreams.zendesk.client import ZendeskClient


def test_zendesk_links_every_operation_and_cursor_pages(
    zendesk_client: ZendeskClient, upstreams_control: SandboxControl
) -> None:
    made = [zendesk_client.create_link(str(5000 + n % 3), str(10000 + n), f"PROJ-{n}") for n in range(7)]

    everything = list(zendesk_client.iter_links(page_size=2))
    of_ticket = list(zendesk_client.iter_links(ticket_id="5001", page_size=1))

    assert [link.id for link in everything] == [link.id for link in made]
    assert {link.issue_key for link in of_ticket} == {"PROJ-1", "PROJ-4"}
    pages = [call for call in upstreams_control.calls("zendesk") if call["method"] == "GET"]
    assert len(pages) >= 4 + 2  # several pages were followed
    assert zendesk_client.get_link(made[0].id).issue_key == "PROJ-0"
    since = zendesk_client.list_links_since(since_id=made[4].id, limit=10)
    assert [link.id for link in since] == [made[5].id, made[6].id]
    zendesk_client.delete_link(made[0].id)
    assert made[0].id not in {link.id for link in zendesk_client.iter_links()}
