"""Unit tests of what every call carries, with httpx.MockTransport standing in for the network."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import httpx
import jwt
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bridge import __version__
from bridge.errors import PermanentUpstreamError
from bridge.settings import Secret, Settings
from bridge.upstreams import clients_from_settings
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.jira_software.client import JiraSoftwareClient, SoftwareRemoteLink
from bridge.upstreams.jira_software.connect_jwt import canonical_request
from bridge.upstreams.transport import parse_retry_after

SECRET = "a-connect-shared-secret-of-32-bytes-or-more"


def _settings() -> Settings:
    return Settings(
        jira_base_url="https://example.atlassian.net/jira",
        jira_email="bridge@example.com",
        jira_api_token=Secret("jira-token"),
        jira_connect_app_key="bridge-app",
        jira_connect_shared_secret=Secret(SECRET),
    )


def test_calls_keep_the_base_path_and_carry_user_agent_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "10001", "key": "PROJ-1", "fields": {}})

    with clients_from_settings(_settings(), transport=httpx.MockTransport(answer)) as clients:
        jira = clients.get("jira", JiraClient)
        assert jira is not None
        jira.get_issue("PROJ-1", idempotency_key="key-1")

    (request,) = seen
    assert request.url.path == "/jira/rest/api/2/issue/PROJ-1"
    assert request.headers["User-Agent"] == f"jira-zendesk-bridge/{__version__}"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.headers["Authorization"].startswith("Basic ")


def _independent_qsh(method: str, path: str, query: dict[str, list[str]]) -> str:
    # Atlassian's rules, written out again: encode names and values, sort by name, join repeated values
    # with commas (values sorted), drop ``jwt``; the path relative to the base URL.
    def enc(text: str) -> str:
        return quote(text, safe="~")

    pairs = sorted((enc(k), ",".join(sorted(enc(v) for v in vs))) for k, vs in query.items() if k != "jwt")
    canonical = f"{method}&{path}&" + "&".join(f"{k}={v}" for k, v in pairs)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_connect_jwt_qsh_matches_atlassians_canonical_request() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with clients_from_settings(_settings(), transport=httpx.MockTransport(answer)) as clients:
        jira_software = clients.get("jira_software", JiraSoftwareClient)
        assert jira_software is not None
        jira_software.delete_remote_links_by_properties({"source": "zendesk desk", "b*": "x~y"})

    (request,) = seen
    scheme, token = request.headers["Authorization"].split(" ", 1)
    assert scheme == "JWT"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="bridge-app")
    expected = _independent_qsh(
        "DELETE", "/rest/remotelinks/1.0/bulkByProperties", {"source": ["zendesk desk"], "b*": ["x~y"]}
    )
    assert claims["qsh"] == expected
    assert claims["exp"] > claims["iat"]


def test_canonical_request_sorts_encodes_joins_and_drops_jwt() -> None:
    # Atlassian's rules: upper-case method, no trailing slash, repeated names joined, encoded, sorted.
    canonical = canonical_request(
        "get",
        "/path/to/service/",
        [("zee_last", "a"), ("repeated", "b"), ("repeated", "a"), ("a_first", "with space"), ("jwt", "x")],
    )
    assert canonical == "GET&/path/to/service&a_first=with%20space&repeated=a,b&zee_last=a"


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 25 Nov 2026 03:00:30 GMT", now=1795575600.0) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_software_link_keeps_fields_the_page_does_not_list() -> None:
    link = SoftwareRemoteLink.model_validate(
        {
            "id": "l1",
            "updateSequenceNumber": 1,
            "displayName": "d",
            "url": "https://x",
            "type": "other",
            "lastUpdated": "2026-11-25T03:00:00Z",
            "attributeMap": {"team": "support"},
        }
    )
    assert link.body()["attributeMap"] == {"team": "support"}


def test_each_request_is_a_client_span_without_credentials_or_query(
    recorded_spans: InMemorySpanExporter,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(403, json={"errorMessages": ["no permission"]})
        return httpx.Response(200, json={"id": "10001", "key": "PROJ-1", "fields": {}})

    with clients_from_settings(_settings(), transport=httpx.MockTransport(answer)) as clients:
        jira = clients.get("jira", JiraClient)
        assert jira is not None
        jira.get_issue("PROJ-1", fields="updated", idempotency_key="k-1")
        with pytest.raises(PermanentUpstreamError):
            jira.delete_remote_link_by_global_id("10001", "system=zd&id=1", idempotency_key="k-2")

    got, refused = recorded_spans.get_finished_spans()
    assert (got.name, got.kind) == ("GET", SpanKind.CLIENT)
    assert got.attributes == {
        "http.request.method": "GET",
        "server.address": "example.atlassian.net",
        "server.port": 443,
        "url.scheme": "https",
        "url.full": "https://example.atlassian.net/jira/rest/api/2/issue/PROJ-1",
        "bridge.idempotency_key": "k-1",
        "http.response.status_code": 200,
    }
    assert refused.name == "DELETE"
    assert refused.attributes is not None
    assert refused.attributes["http.response.status_code"] == 403
    assert refused.attributes["error.type"] == "403"
    assert not refused.status.is_ok
    recorded = str([dict(span.attributes or {}) for span in (got, refused)])
    assert "jira-token" not in recorded
    assert "Basic" not in recorded
    assert "globalId" not in recorded
