"""RQ job code and the worker process of the bridge."""
