"""Zendesk Support: links between tickets and Jira issues (client, actions, sandbox)."""
