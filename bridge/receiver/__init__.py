"""The webhook receiver: a Starlette app that takes each delivery in and puts it on Redis before answering.

``webhooks.py`` (receive) → ``bridge/sources/<source>.py`` (verify, normalize) → ``enqueue.py`` (dedupe +
RQ job, one Redis step); ``body.py``, ``delivery_log.py``, ``metrics.py`` and ``health.py`` serve them;
``app.py`` assembles the routes and ``factory.py`` is what uvicorn imports in each web process.
"""
