"""The operators' pages (``/dashboard``): server-rendered Jinja2 over ``bridge.ops.service``."""
