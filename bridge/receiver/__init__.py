"""The webhook receiver: a Starlette app that verifies, normalizes and enqueues deliveries."""
