"""The Jira ↔ Zendesk ↔ Salesforce ↔ JSM bridge, as a library; ``workers/`` runs its jobs on RQ.

A delivery's path reads from the folders: ``receiver/`` → ``sources/`` → ``receiver/enqueue.py`` →
``workers/jobs.py`` → ``rules/`` → ``executor.py`` → ``upstreams/<api>/`` → ``stores/``.
"""

__version__ = "0.1.0"
