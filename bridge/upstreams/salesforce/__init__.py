"""Appfire's Salesforce connector on Jira Data Center: associations of an issue (client, actions, sandbox)."""
