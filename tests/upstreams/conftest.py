"""Fixtures of the upstreams' tests: sandboxes served by uvicorn on loopback, raw httpx clients of them, and
the bridge's clients configured for them.

One sandbox serves the whole module set and is reset before each test; a test that needs another
configuration serves its own with ``serve_sandbox``. The Connect JWT is computed here from
Atlassian's rules, independently of the sandbox's own code.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Generator, Iterator
from urllib.parse import quote

import httpx
import jwt
import pytest

from bridge.settings import Settings
from bridge.upstreams import Clients, clients_from_settings
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.jira_software.client import JiraSoftwareClient
from bridge.upstreams.jsm.client import JsmOpsClient
from bridge.upstreams.salesforce.client import SalesforceConnectorClient
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread
from bridge.upstreams.zendesk.client import ZendeskClient

CONFIG = SandboxConfig()

ServeSandbox = Callable[[SandboxConfig], RunningSandbox]


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(CONFIG) as running:
        yield running


@pytest.fixture
def sandbox(shared_sandbox: RunningSandbox) -> RunningSandbox:
    """The shared sandbox, reset (records, calls and faults) before the test."""
    with SandboxControl(shared_sandbox.url) as control:
        control.reset()
    return shared_sandbox


@pytest.fixture
def serve_sandbox() -> Iterator[ServeSandbox]:
    """Return a factory serving a sandbox with its own configuration; they stop after the test."""
    started: list[RunningSandbox] = []

    def serve(config: SandboxConfig) -> RunningSandbox:
        running = serve_in_thread(config)
        started.append(running)
        return running

    yield serve
    for running in started:
        running.stop()


@pytest.fixture
def control(sandbox: RunningSandbox) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox.url) as client:
        yield client


def client(base_url: str, auth: httpx.Auth | tuple[str, str] | None = None) -> httpx.Client:
    """A raw HTTP client of one emulated API."""
    return httpx.Client(base_url=base_url, auth=auth, timeout=10)


@pytest.fixture
def jira(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(sandbox.url + "/jira", (CONFIG.jira_email, CONFIG.jira_api_token)) as http:
        yield http


@pytest.fixture
def zendesk(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(
        sandbox.url + "/zendesk", (f"{CONFIG.zendesk_email}/token", CONFIG.zendesk_api_token)
    ) as http:
        yield http


@pytest.fixture
def salesforce(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {CONFIG.salesforce_pat}"}
    with httpx.Client(base_url=sandbox.url + "/salesforce", headers=headers, timeout=10) as http:
        yield http


@pytest.fixture
def jsm(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(sandbox.url + "/jsm/ops/api/sandbox-cloud", (CONFIG.jsm_email, CONFIG.jsm_api_token)) as http:
        yield http


@pytest.fixture
def anonymous(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A client with no credentials, on the sandbox's root."""
    with client(sandbox.url) as http:
        yield http


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


def atlassian_canonical_request(method: str, path: str, params: list[tuple[str, str]] | None = None) -> str:
    """Atlassian's canonical request, written for the tests from the published rules."""
    values: dict[str, list[str]] = {}
    for name, value in params or []:
        values.setdefault(_rfc3986(name), []).append(_rfc3986(value))
    pairs = [f"{name}={','.join(sorted(found))}" for name, found in sorted(values.items())]
    return "&".join([method.upper(), path.rstrip("/") or "/", "&".join(pairs)])


def connect_jwt(
    method: str,
    path: str,
    params: list[tuple[str, str]] | None = None,
    *,
    issuer: str = CONFIG.connect_app_key,
    secret: str = CONFIG.connect_shared_secret,
    lifetime_s: int = 180,
    now: float | None = None,
) -> str:
    """A Connect JWT for one request (path relative to the Jira base URL)."""
    issued = int(now if now is not None else time.time())
    qsh = hashlib.sha256(atlassian_canonical_request(method, path, params).encode()).hexdigest()
    claims = {"iss": issuer, "iat": issued, "exp": issued + lifetime_s, "qsh": qsh}
    return jwt.encode(claims, secret, algorithm="HS256")


class ConnectJwt(httpx.Auth):
    """Signs each request for the sandbox's Jira Software API (path below ``/jira``)."""

    def __init__(
        self, issuer: str = CONFIG.connect_app_key, secret: str = CONFIG.connect_shared_secret
    ) -> None:
        self.issuer = issuer
        self.secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.path.removeprefix("/jira")
        params = list(request.url.params.multi_items())
        token = connect_jwt(request.method, path, params, issuer=self.issuer, secret=self.secret)
        request.headers["Authorization"] = f"JWT {token}"
        yield request


@pytest.fixture
def jsw(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(sandbox.url + "/jira", ConnectJwt()) as http:
        yield http


@pytest.fixture
def sandbox_url(sandbox: RunningSandbox) -> str:
    return sandbox.url


# The clients' tests: their own sandbox (Jira Software bulk submissions capped at 4, so that the
# client's split-and-resubmit runs), the bridge's settings for it, and each API's client.


@pytest.fixture(scope="session")
def upstreams() -> Iterator[RunningSandbox]:
    """One sandbox for the session's client tests; each test resets it."""
    with serve_in_thread(SandboxConfig(jsw_max_batch=4)) as running:
        yield running


@pytest.fixture
def upstreams_control(upstreams: RunningSandbox) -> Iterator[SandboxControl]:
    """The clients' sandbox's control API, after a reset (state, call log and faults)."""
    with SandboxControl(upstreams.url) as sandbox_control:
        sandbox_control.reset()
        yield sandbox_control


@pytest.fixture
def upstream_settings(upstreams: RunningSandbox) -> Settings:
    """Bridge settings pointing at the clients' sandbox with its dev credentials."""
    return upstreams.config.settings_for(upstreams.url)


@pytest.fixture
def clients(upstream_settings: Settings, upstreams_control: SandboxControl) -> Iterator[Clients]:
    """Every client, configured for the clients' sandbox."""
    with clients_from_settings(upstream_settings) as built:
        yield built


@pytest.fixture
def jira_client(clients: Clients) -> JiraClient:
    return clients.need("jira", JiraClient, "the sandbox's Jira variables")


@pytest.fixture
def software_client(clients: Clients) -> JiraSoftwareClient:
    return clients.need("jira_software", JiraSoftwareClient, "the sandbox's Connect variables")


@pytest.fixture
def zendesk_client(clients: Clients) -> ZendeskClient:
    return clients.need("zendesk", ZendeskClient, "the sandbox's Zendesk variables")


@pytest.fixture
def salesforce_client(clients: Clients) -> SalesforceConnectorClient:
    return clients.need("salesforce", SalesforceConnectorClient, "the sandbox's connector variables")


@pytest.fixture
def jsm_client(clients: Clients) -> JsmOpsClient:
    return clients.need("jsm", JsmOpsClient, "the sandbox's JSM variables")
