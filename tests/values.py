"""Values the tests share: the webhook secrets the test settings are configured with."""

from __future__ import annotations

JIRA_SECRET = "test-jira-secret"
ZENDESK_SECRET = "test-zendesk-secret"
