"""The RQ jobs (``jobs.py``) and the worker process (``worker.py``, ``process.py``), on top of ``bridge``.

``bridge`` never imports this package: it names the jobs by import path (``bridge.job_queues``) and the
``bridge worker`` command by module path (``bridge.cli``).
"""
