"""Zendesk tickets over HTTP: show, show many, the incremental export, and changes made by the control API."""

from __future__ import annotations

import httpx
import pytest

from bridge.upstreams.sandbox import SandboxControl
from tests.upstreams.conftest import CONFIG

FIELD = CONFIG.zendesk_jira_field_id


def test_a_ticket_changed_by_an_agent_reads_back_with_its_keys_and_whole_seconds(
    zendesk: httpx.Client, control: SandboxControl
) -> None:
    control.put_ticket(
        5001,
        subject="Refund button",
        status="open",
        jira_keys="PROJ-1 PROJ-2",
        updated_at="2026-11-30T04:38:12.780Z",
    )
    answer = zendesk.get("/api/v2/tickets/5001.json")
    assert answer.status_code == 200
    ticket = answer.json()["ticket"]
    assert ticket["id"] == 5001
    assert (ticket["subject"], ticket["status"]) == ("Refund button", "open")
    assert ticket["updated_at"] == "2026-11-30T04:38:12Z"
    assert {"id": int(FIELD), "value": "PROJ-1 PROJ-2"} in ticket["custom_fields"]
    assert zendesk.get("/api/v2/tickets/5001").json() == answer.json()


def test_a_soft_deleted_ticket_is_not_found_until_restored_and_a_permanent_delete_is_final(
    zendesk: httpx.Client, control: SandboxControl
) -> None:
    control.put_ticket(5002, subject="s", status="open")
    control.delete_ticket(5002)
    gone = zendesk.get("/api/v2/tickets/5002.json")
    assert gone.status_code == 404
    assert gone.json()["error"] == "RecordNotFound"
    with pytest.raises(httpx.HTTPStatusError):
        control.put_ticket(5002, subject="edited while deleted")
    control.restore_ticket(5002)
    assert zendesk.get("/api/v2/tickets/5002.json").json()["ticket"]["status"] == "open"
    control.delete_ticket(5002, permanent=True)
    assert zendesk.get("/api/v2/tickets/5002.json").status_code == 404
    with pytest.raises(httpx.HTTPStatusError):
        control.restore_ticket(5002)


def test_show_many_leaves_out_deleted_and_unknown_tickets(
    zendesk: httpx.Client, control: SandboxControl
) -> None:
    for ticket_id in (7001, 7002, 7003):
        control.put_ticket(ticket_id, subject=str(ticket_id))
    control.delete_ticket(7002)
    found = zendesk.get("/api/v2/tickets/show_many.json", params={"ids": "7001,7002,7003,7999"})
    assert [ticket["id"] for ticket in found.json()["tickets"]] == [7001, 7003]
    assert zendesk.get("/api/v2/tickets/show_many.json", params={"ids": "1,x"}).status_code == 400


def test_the_incremental_export_pages_by_update_time_and_lists_deleted_tickets(
    zendesk: httpx.Client, control: SandboxControl
) -> None:
    for ticket_id, second in ((8001, 10), (8002, 12), (8003, 11), (8004, 30)):
        control.put_ticket(ticket_id, subject="x", updated_at=f"2026-11-30T05:00:{second:02d}Z")
    control.delete_ticket(8004, updated_at="2026-11-30T05:00:40Z")
    start = 1796014811  # 2026-11-30T05:00:11Z: 8001 (05:00:10) is before it
    first = zendesk.get(
        "/api/v2/incremental/tickets/cursor.json", params={"start_time": start, "per_page": 2}
    )
    page = first.json()
    assert [ticket["id"] for ticket in page["tickets"]] == [8003, 8002]
    assert page["end_of_stream"] is False
    following = zendesk.get(
        "/api/v2/incremental/tickets/cursor.json", params={"cursor": page["after_cursor"]}
    )
    rest = following.json()
    assert [(ticket["id"], ticket["status"]) for ticket in rest["tickets"]] == [(8004, "deleted")]
    assert rest["end_of_stream"] is True
    again = zendesk.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": rest["after_cursor"]})
    assert again.json()["tickets"] == []
    bad = zendesk.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": "not-ours"})
    assert bad.status_code == 400


def test_tickets_need_zendesk_credentials(anonymous: httpx.Client, control: SandboxControl) -> None:
    control.put_ticket(5003, subject="s")
    assert anonymous.get("/zendesk/api/v2/tickets/5003.json").status_code == 401
