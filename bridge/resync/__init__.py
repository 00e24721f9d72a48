"""Drift repair from the sources of truth: catch up on what the senders never delivered, audit the links,
resync one subject (README: ``bridge resync``, ``bridge reconcile``).

Webhooks get lost for good (Zendesk's circuit breaker sheds deliveries; Jira gives up after its retries; a
bridge that was down missed its downtime; an admin deletes a link by hand). Three kinds of work repair it,
each through the rules, so that what they write is exactly what a delivery would have written:

- ``catchup.py``: reads what changed in the sources since a time — Zendesk's incremental ticket export and
  Jira's issue search by ``updated`` — and turns each ticket and issue whose state differs from the one the
  bridge applied into an ordinary event (``delivery_id`` ``resync:<run>:<kind>:<id>:<sequence>``), planned
  by the ordinary event job with the same ordering, staleness and idempotency as a delivery;
- ``audit.py``: compares Zendesk's Jira links, the Jira remote links on the linked issues and the bridge's
  index with what the rules want for each ticket's applied state, and plans the drifted tickets again;
- ``one.py``: reads one ticket or issue from its source now and does both for it.

``runner.py`` starts (or resumes) a run, one of a kind at a time, and records it (``bridge/stores/runs.py``);
the work it makes goes on the resync lane (``job_queues.RESYNC_QUEUE``), which workers take from last.
"""
