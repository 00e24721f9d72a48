"""What a sandbox is configured with: the dev credentials it accepts and how it behaves.

The credentials are development values, printed by ``bridge sandbox`` on purpose so that a bridge can
be pointed at it; they are kept out of reprs anyway, like every other credential of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.settings import Settings

JIRA_PREFIX = "/jira"
"""Where the Jira site is mounted (platform routes and Jira Software routes)."""

ZENDESK_PREFIX = "/zendesk"
"""Where the Zendesk account is mounted."""

SALESFORCE_PREFIX = "/salesforce"
"""Where the Jira Data Center site with the Salesforce connector is mounted."""

JSM_PREFIX = "/jsm/ops/api/sandbox-cloud"
"""Where the JSM ops API is mounted: the base URL up to and including the (fixed) cloud id."""

CONTROL_PREFIX = "/_sandbox"
"""The control API (reset, state, seeding, call log, faults); never under an API's prefix."""


@dataclass
class SandboxConfig:
    """Credentials the emulated APIs accept, and the sandbox's behaviour."""

    jira_email: str = "bridge@example.com"
    jira_api_token: str = field(default="sandbox-jira-token", repr=False)
    zendesk_email: str = "bridge@example.com"
    zendesk_api_token: str = field(default="sandbox-zendesk-token", repr=False)
    salesforce_pat: str = field(default="sandbox-salesforce-pat", repr=False)
    jsm_email: str = "bridge@example.com"
    jsm_api_token: str = field(default="sandbox-jsm-token", repr=False)
    connect_app_key: str = "bridge-sandbox-app"
    # At least 32 bytes: PyJWT warns about (and can refuse) shorter HS256 keys; real ones are longer.
    connect_shared_secret: str = field(default="sandbox-connect-shared-secret-for-dev-only", repr=False)
    jsm_integration_id: str = "sandbox-integration"
    # Any well-formed key (ABC-123) is an existing issue, ids given from 10000 in order of first sight.
    auto_issues: bool = True
    # Added to every emulated call, to make a bench or an end-to-end run feel a remote upstream.
    latency_s: float = 0.0
    # Largest Jira Software bulk submission accepted; a larger one answers 413 (the real cap is not
    # published: https://developer.atlassian.com/cloud/jira/software/rest/api-group-remote-links/),
    # so that a client's split-and-resubmit path can be exercised.
    jsw_max_batch: int = 100
    # The Zendesk ticket field that holds Jira keys (ZENDESK_JIRA_FIELD_ID of a bridge pointed here).
    zendesk_jira_field_id: str = "360000000001"
    # A second Zendesk link for the same ticket and issue is refused (422), as a careful API would; a soak
    # that counts duplicates turns this off, so that a bridge creating twice shows two links.
    zendesk_refuse_duplicate_links: bool = True

    def env(self, base_url: str) -> dict[str, str]:
        """Return the bridge's environment variables that point every upstream at this sandbox."""
        base = base_url.rstrip("/")
        return {
            "JIRA_BASE_URL": base + JIRA_PREFIX,
            "JIRA_EMAIL": self.jira_email,
            "JIRA_API_TOKEN": self.jira_api_token,
            "JIRA_CONNECT_APP_KEY": self.connect_app_key,
            "JIRA_CONNECT_SHARED_SECRET": self.connect_shared_secret,
            "ZENDESK_BASE_URL": base + ZENDESK_PREFIX,
            "ZENDESK_EMAIL": self.zendesk_email,
            "ZENDESK_API_TOKEN": self.zendesk_api_token,
            "ZENDESK_JIRA_FIELD_ID": self.zendesk_jira_field_id,
            "SALESFORCE_CONNECTOR_BASE_URL": base + SALESFORCE_PREFIX,
            "SALESFORCE_CONNECTOR_PAT": self.salesforce_pat,
            "JSM_OPS_BASE_URL": base + JSM_PREFIX,
            "JSM_EMAIL": self.jsm_email,
            "JSM_API_TOKEN": self.jsm_api_token,
            "JSM_INTEGRATION_ID": self.jsm_integration_id,
        }

    def settings_for(self, base_url: str) -> Settings:
        """Return settings holding only the upstream variables of ``env`` (what a bridge pointed here reads)."""
        return Settings.model_validate(self.env(base_url))
