"""Jira Cloud platform: issue remote links and get issue (client, the actions rules may plan, sandbox)."""
