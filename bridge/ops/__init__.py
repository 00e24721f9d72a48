"""Operations on the bridge's queues and records: what the dashboard, the ops API and the CLI share."""
