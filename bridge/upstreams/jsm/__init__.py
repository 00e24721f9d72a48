"""Jira Service Management ops: an integration's actions (client, actions, sandbox, and the planning
behind ``bridge jsm apply``)."""
