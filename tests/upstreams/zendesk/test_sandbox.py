"""Zendesk Jira links over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.upstreams.conftest import CONFIG

LINKS = "/api/services/jira/links"


def create(zendesk: httpx.Client, ticket_id: Any, issue_id: Any, issue_key: str = "ABC-1") -> dict[str, Any]:
    response = zendesk.post(
        LINKS, json={"link": {"ticket_id": ticket_id, "issue_id": issue_id, "issue_key": issue_key}}
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()["link"]
    return link


def test_create_answers_the_link_with_string_ids(zendesk: httpx.Client) -> None:
    link = create(zendesk, 5001, "10000", "ABC-1")
    assert isinstance(link["id"], int)
    assert (link["ticket_id"], link["issue_id"], link["issue_key"]) == ("5001", "10000", "ABC-1")
    assert link["created_at"].endswith("Z")
    assert link["updated_at"] == link["created_at"]
    assert link["url"].endswith(f"/zendesk/api/services/jira/links/{link['id']}")
    shown = zendesk.get(f"{LINKS}/{link['id']}")
    assert shown.status_code == 200
    assert shown.json() == {"link": link}
    assert zendesk.get(f"/api/v2/jira/links/{link['id']}").json() == {"link": link}


def test_a_second_link_for_the_same_ticket_and_issue_is_422(zendesk: httpx.Client) -> None:
    create(zendesk, "5001", "10000")
    again = zendesk.post(
        LINKS, json={"link": {"ticket_id": "5001", "issue_id": "10000", "issue_key": "ABC-1"}}
    )
    assert again.status_code == 422
    assert again.json()["error"] == "RecordInvalid"
    assert "issue_id" in again.json()["details"]
    create(zendesk, "5001", "10001", "ABC-2")
    create(zendesk, "5002", "10000")


def test_create_needs_all_three_fields(zendesk: httpx.Client) -> None:
    response = zendesk.post(LINKS, json={"link": {"ticket_id": "5001"}})
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"issue_id", "issue_key"}
    assert zendesk.post(LINKS, json={"ticket_id": "5001"}).status_code == 400
    assert zendesk.get("/api/v2/jira/links").json()["links"] == []


def test_cursor_list_pages_in_id_order(zendesk: httpx.Client) -> None:
    ids = [create(zendesk, str(5000 + n), str(10000 + n))["id"] for n in range(5)]
    first = zendesk.get("/api/v2/jira/links", params={"page[size]": 2}).json()
    assert [link["id"] for link in first["links"]] == ids[:2]
    assert first["meta"]["has_more"] is True
    cursor = parse_qs(urlsplit(first["meta"]["after_cursor"]).query)
    assert cursor["page[after]"] == [str(ids[1])]
    seen = [link["id"] for link in first["links"]]
    after = cursor["page[after]"][0]
    while True:
        page = zendesk.get("/api/v2/jira/links", params={"page[size]": 2, "page[after]": after}).json()
        seen += [link["id"] for link in page["links"]]
        if not page["meta"]["has_more"]:
            assert page["meta"]["after_cursor"] is None
            break
        after = parse_qs(urlsplit(page["meta"]["after_cursor"]).query)["page[after]"][0]
    assert seen == ids
    assert zendesk.get("/api/v2/jira/links", params={"page[after]": ids[-1]}).json()["links"] == []


def test_default_page_is_1000(zendesk: httpx.Client) -> None:
    for n in range(1001):
        create(zendesk, str(n + 1), "1")
    page = zendesk.get("/api/v2/jira/links").json()
    assert len(page["links"]) == 1000
    assert page["meta"]["has_more"] is True
    assert len(zendesk.get("/api/v2/jira/links", params={"page[size]": 5000}).json()["links"]) == 1000


def test_filter_matches_ticket_id_or_issue_id(zendesk: httpx.Client) -> None:
    a = create(zendesk, "5001", "10000")
    b = create(zendesk, "5002", "10000")
    c = create(zendesk, "5001", "10001")
    by_ticket = zendesk.get("/api/v2/jira/links", params={"filter[ticket_id]": "5001"}).json()["links"]
    assert [link["id"] for link in by_ticket] == [a["id"], c["id"]]
    by_issue = zendesk.get("/api/v2/jira/links", params={"filter[ticket_id]": "10000"}).json()["links"]
    assert [link["id"] for link in by_issue] == [a["id"], b["id"]]


def test_deprecated_list_with_since_id_limit_and_ticket_id(zendesk: httpx.Client) -> None:
    ids = [create(zendesk, "5001" if n % 2 else "5002", str(10000 + n))["id"] for n in range(6)]
    listed = zendesk.get(LINKS, params={"since_id": ids[1], "limit": 3}).json()
    assert list(listed) == ["links"]
    assert [link["id"] for link in listed["links"]] == ids[2:5]
    only = zendesk.get(LINKS, params={"ticket_id": "5001"}).json()["links"]
    assert [link["id"] for link in only] == ids[1::2]
    assert zendesk.get(LINKS, params={"limit": "many"}).status_code == 400


def test_delete_is_204_then_404(zendesk: httpx.Client) -> None:
    link = create(zendesk, "5001", "10000")
    assert zendesk.delete(f"{LINKS}/{link['id']}").status_code == 204
    gone = zendesk.get(f"{LINKS}/{link['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == "RecordNotFound"
    assert zendesk.delete(f"/api/v2/jira/links/{link['id']}").status_code == 404
    assert zendesk.get("/api/v2/jira/links", params={"filter[ticket_id]": "5001"}).json()["links"] == []
    create(zendesk, "5001", "10000")


def test_wrong_or_missing_credentials_are_401(anonymous: httpx.Client) -> None:
    url = "/zendesk/api/v2/jira/links"
    assert anonymous.get(url).json() == {"error": "Couldn't authenticate you"}
    assert anonymous.get(url).status_code == 401
    # The token form needs the "/token" suffix on the email.
    assert anonymous.get(url, auth=(CONFIG.zendesk_email, CONFIG.zendesk_api_token)).status_code == 401
    assert anonymous.get(url, auth=(f"{CONFIG.zendesk_email}/token", "wrong")).status_code == 401
