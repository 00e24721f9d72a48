"""Every kind of upstream failure, injected in the sandbox, reaches the caller as the right error."""

from __future__ import annotations

import socket
from email.utils import formatdate

import httpx
import pytest

from bridge.errors import PermanentUpstreamError, RateLimited, RetryableUpstreamError, UpstreamUnreachable
from bridge.settings import Secret, Settings
from bridge.upstreams import Clients, clients_from_settings
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.jira_software.client import JiraSoftwareClient
from bridge.upstreams.jsm.client import JsmOpsClient
from bridge.upstreams.salesforce.client import SalesforceConnectorClient
from bridge.upstreams.sandbox import SandboxControl
from bridge.upstreams.transport import ApiTransport
from bridge.upstreams.zendesk.client import ZendeskClient


def test_429_with_retry_after_in_seconds(clients: Clients, upstreams_control: SandboxControl) -> None:
    zendesk = clients.get("zendesk", ZendeskClient)
    assert zendesk is not None
    upstreams_control.add_fault(api="zendesk", status=429, retry_after=7, times=1)
    with pytest.raises(RateLimited) as caught:
        list(zendesk.iter_links())
    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0
    assert caught.value.retryable
    assert list(zendesk.iter_links()) == []  # the fault was for one call only


def test_429_with_retry_after_as_an_http_date(clients: Clients, upstreams_control: SandboxControl) -> None:
    jira = clients.get("jira", JiraClient)
    assert jira is not None
    upstreams_control.add_fault(
        api="jira", status=429, retry_after=formatdate(timeval=None, usegmt=True, localtime=False)
    )
    with pytest.raises(RateLimited) as caught:
        jira.get_issue("PROJ-1")
    assert caught.value.retry_after is not None
    assert 0 <= caught.value.retry_after <= 1.5


@pytest.mark.parametrize("status", [500, 503, 408, 409])
def test_retryable_statuses(clients: Clients, upstreams_control: SandboxControl, status: int) -> None:
    salesforce = clients.get("salesforce", SalesforceConnectorClient)
    assert salesforce is not None
    upstreams_control.add_fault(api="salesforce", status=status, body='{"error": "try later"}')
    with pytest.raises(RetryableUpstreamError) as caught:
        salesforce.list_associations("PROJ-1")
    assert caught.value.status == status
    assert "try later" in caught.value.body


def test_permanent_400_keeps_the_upstream_answer(clients: Clients, upstreams_control: SandboxControl) -> None:
    jsm = clients.get("jsm", JsmOpsClient)
    assert jsm is not None
    upstreams_control.add_fault(api="jsm", method="POST", status=400, body='{"message": "name is required"}')
    with pytest.raises(PermanentUpstreamError) as caught:
        jsm.create_action("sandbox-integration", {"type": "create"})
    assert caught.value.status == 400
    assert not caught.value.retryable
    assert "name is required" in caught.value.body


def test_a_delay_beyond_the_read_timeout_is_unreachable(
    upstream_settings: Settings, upstreams_control: SandboxControl
) -> None:
    assert upstream_settings.jira_base_url is not None
    upstreams_control.add_fault(api="jira", delay_s=1.0)
    token = upstream_settings.jira_api_token
    assert token is not None
    jira = JiraClient(
        ApiTransport(
            upstream_settings.jira_base_url,
            (upstream_settings.jira_email or "", token.reveal()),
            timeout=httpx.Timeout(0.2),
        )
    )
    with pytest.raises(UpstreamUnreachable) as caught:
        jira.get_issue("PROJ-1")
    jira.close()
    assert caught.value.status is None
    assert caught.value.retryable


def test_a_dropped_connection_is_unreachable(clients: Clients, upstreams_control: SandboxControl) -> None:
    zendesk = clients.get("zendesk", ZendeskClient)
    assert zendesk is not None
    upstreams_control.add_fault(api="zendesk", drop=True)
    with pytest.raises(UpstreamUnreachable):
        zendesk.get_link(1)


def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        zendesk_base_url=f"http://127.0.0.1:{port}/zendesk",
        zendesk_email="bridge@example.com",
        zendesk_api_token=Secret("t"),
    )
    with clients_from_settings(settings) as clients:
        zendesk = clients.get("zendesk", ZendeskClient)
        assert zendesk is not None
        with pytest.raises(UpstreamUnreachable) as caught:
            zendesk.get_link(1)
    assert f"127.0.0.1:{port}/zendesk/api/services/jira/links/1" in caught.value.url


@pytest.mark.parametrize("api", ["jira", "zendesk", "salesforce", "jsm", "jira_software"])
def test_wrong_credentials_are_a_permanent_401_and_never_shown(
    upstream_settings: Settings, upstreams_control: SandboxControl, api: str
) -> None:
    wrong = upstream_settings.replace(
        jira_api_token=Secret("wrong-jira"),
        zendesk_api_token=Secret("wrong-zendesk"),
        salesforce_connector_pat=Secret("wrong-pat"),
        jsm_api_token=Secret("wrong-jsm"),
        jira_connect_shared_secret=Secret("wrong-connect-secret-of-at-least-32-bytes!"),
    )
    calls = {
        "jira": lambda c: c.need("jira", JiraClient, "").get_issue("PROJ-1"),
        "zendesk": lambda c: c.need("zendesk", ZendeskClient, "").get_link(1),
        "salesforce": lambda c: c.need("salesforce", SalesforceConnectorClient, "").list_associations(
            "PROJ-1"
        ),
        "jsm": lambda c: c.need("jsm", JsmOpsClient, "").get_action("sandbox-integration", "x"),
        "jira_software": lambda c: c.need("jira_software", JiraSoftwareClient, "").get_remote_link("x"),
    }
    with clients_from_settings(wrong) as clients, pytest.raises(PermanentUpstreamError) as caught:
        calls[api](clients)
    assert caught.value.status == 401
    assert "wrong-" not in str(caught.value)
    assert "wrong-" not in caught.value.url
