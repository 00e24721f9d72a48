"""Rules: which events the bridge acts on and the calls it plans for them (docs/rules.md).

``loader.load_rules(path)`` reads and validates a rules file (``RulesError`` lists every problem with its
line); ``RuleSet.accepts_type`` tells the receiver whether any rule looks at an event;
``RuleSet.plan(event, settings, linked)`` returns the ``model.PlannedAction`` list the executor performs.
Action kinds come from the upstreams (``bridge.upstreams``), their parameter types from ``params.py``.
"""
