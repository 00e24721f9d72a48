"""Operations on the bridge's queues and records: what the dashboard, the ops API and the CLI share.

``service.py`` answers the questions (it reads RQ and ``bridge.stores``, never ``workers``); ``api.py``,
``openapi.py`` and ``auth.py`` serve them as JSON; ``routes.py`` mounts the API and the dashboard in
``bridge web``; ``terminal.py`` prints them for the CLI.
"""
