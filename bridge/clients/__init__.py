"""Clients of the five upstream APIs, one module each, over a shared transport (``transport.py``).

``clients_from_settings`` builds the ones whose variables are set; a worker process keeps them for its
whole life, so every call reuses pooled connections. Errors: ``errors.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from bridge.clients.connect_jwt import ConnectJwtAuth
from bridge.clients.jira import JiraClient
from bridge.clients.jira_software import JiraSoftwareClient
from bridge.clients.jsm import JsmOpsClient
from bridge.clients.salesforce import SalesforceConnectorClient
from bridge.clients.transport import ApiTransport
from bridge.clients.zendesk import ZendeskClient
from bridge.settings import Settings

__all__ = ["Clients", "clients_from_settings"]


@dataclass
class Clients:
    """One client per configured upstream; ``None`` where its variables are unset."""

    jira: JiraClient | None = None
    jira_software: JiraSoftwareClient | None = None
    zendesk: ZendeskClient | None = None
    salesforce: SalesforceConnectorClient | None = None
    jsm: JsmOpsClient | None = None

    def close(self) -> None:
        """Close every client's connections."""
        for client in (self.jira, self.jira_software, self.zendesk, self.salesforce, self.jsm):
            if client is not None:
                client.close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def clients_from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> Clients:
    """Build the clients whose base URL and credentials are all set (``transport``: tests only)."""
    clients = Clients()
    if settings.jira_base_url and settings.jira_email and settings.jira_api_token:
        clients.jira = JiraClient(
            ApiTransport(
                settings.jira_base_url,
                (settings.jira_email, settings.jira_api_token.reveal()),
                transport=transport,
            )
        )
    if settings.jira_base_url and settings.jira_connect_app_key and settings.jira_connect_shared_secret:
        auth = ConnectJwtAuth(
            settings.jira_connect_app_key,
            settings.jira_connect_shared_secret.reveal(),
            urlsplit(settings.jira_base_url).path,
        )
        clients.jira_software = JiraSoftwareClient(
            ApiTransport(settings.jira_base_url, auth, transport=transport)
        )
    if settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token:
        clients.zendesk = ZendeskClient(
            ApiTransport(
                settings.zendesk_base_url,
                (f"{settings.zendesk_email}/token", settings.zendesk_api_token.reveal()),
                transport=transport,
            )
        )
    if settings.salesforce_connector_base_url and settings.salesforce_connector_pat:
        clients.salesforce = SalesforceConnectorClient(
            ApiTransport(
                settings.salesforce_connector_base_url,
                headers={"Authorization": f"Bearer {settings.salesforce_connector_pat.reveal()}"},
                transport=transport,
            )
        )
    if settings.jsm_ops_base_url and settings.jsm_email and settings.jsm_api_token:
        clients.jsm = JsmOpsClient(
            ApiTransport(
                settings.jsm_ops_base_url,
                (settings.jsm_email, settings.jsm_api_token.reveal()),
                transport=transport,
            )
        )
    return clients
