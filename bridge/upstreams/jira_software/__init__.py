"""Jira Software Cloud remote links, as a Connect app: client (Connect JWT), actions, sandbox (and its JWT
checking and submission schema)."""
