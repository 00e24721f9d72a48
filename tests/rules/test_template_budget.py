"""Templates are bounded: steps, CPU time, characters built, output and numbers (issue 11, point 7).

Reproduced: a rule template built a 100-million-character string with ``~``, or looped with nested
``range()`` until the job's timeout, holding a worker for 300 s. Each of these now stops within a fraction
of a second with a rule error that says which limit; what is certain from the template text alone is
refused by ``bridge rules check``.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.errors import RulesError
from bridge.rules.budget import MAX_BUILT, MAX_OUTPUT
from tests.rules.events import CONNECT_SETTINGS, ticket
from tests.rules.test_sandbox import one_rule, plan_error

# The event's sequence (epoch ms) is not known before the event: these sizes pass the static checks.
N = "(event.sequence // event.sequence)"


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        # 100 million characters with '~', doubling a 100,000-character text ten times ...
        (
            "{% set s0 = 'x' * 100000 %}{% set s1 = s0 ~ s0 %}{% set s2 = s1 ~ s1 %}{% set s3 = s2 ~ s2 %}"
            "{% set s4 = s3 ~ s3 %}{% set s5 = s4 ~ s4 %}{% set s6 = s5 ~ s5 %}{% set s7 = s6 ~ s6 %}"
            "{% set s8 = s7 ~ s7 %}{% set s9 = s8 ~ s8 %}{% set s10 = s9 ~ s9 %}{{ s10 | length }}",
            "'~' would build a value of 400,000 characters",
        ),
        # ... or in nested range() loops, 1,000 characters at a time.
        (
            "{% for i in range(100000 * " + N + ") %}{% for j in range(1000 * " + N + ") %}"
            "{{ ('x' * 1000) ~ i }}{% endfor %}{% endfor %}",
            "output is over 200,000 characters",
        ),
        # Nested range() loops that would run 10**10 times.
        (
            "{% for i in range(100000 * " + N + ") %}{% for j in range(100000 * " + N + ") %}"
            "{% endfor %}{% endfor %}5001",
            "steps",
        ),
        # A macro calling itself twice, 40 deep.
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40 * "
            + N
            + ") }}",
            "render stopped",
        ),
        # Output as such.
        ("{% for i in range(100000 * " + N + ") %}xxxxxxxxxx{% endfor %}", "output"),
        # One call each that would allocate gigabytes at once.
        ("{{ 'x'.zfill(10 ** 9 * " + N + ") }}", "zfill()"),
        ("{{ ('%' ~ 10 ** 9 * " + N + " ~ 'd') % 1 }}", "'%' format"),
        ("{{ 'x' | center(10 ** 9 * " + N + ") }}", "filter center"),
        ("{{ range(10) | batch(10 ** 9 * " + N + ", 'x') | list }}", "filter batch"),
        ("{{ ('x' * 100000).replace('', 'y' * 100000) }}", "replace()"),
        ("{{ ('x' * 100000) | replace('x', 'y' * 100000) }}", "filter replace"),
        ("{{ ('y' * 100000).join(['x'] * 100000) }}", "join()"),
        ("{{ ['x' * 100000] * 100000 }}", "'*'"),
        ("{{ (range(100000 * " + N + ") | map('string') | list) ~ '' }}", "render stopped"),
        # Numbers beyond 256 bits.
        ("{{ ((2 ** 60) ** (60 * " + N + ")) }}", "bits"),
        ("{{ (2 ** 64) * (2 ** 64) * (2 ** 64) * (2 ** 64) * (2 ** 64) }}", "bits"),
    ],
)
def test_runaway_templates_stop_quickly_with_a_clear_rule_error(template: str, limit: str) -> None:
    started = time.monotonic()

    error = plan_error(template)

    assert time.monotonic() - started < 2
    assert limit in str(error), str(error)
    assert "rule 'probe', action #1 zendesk.jira_link.create (line 6)" in str(error)


def test_cpu_time_is_bounded_even_when_each_step_is_expensive() -> None:
    template = (
        "{% set big = range(20000) | list %}{% for i in range(5000 * " + N + ") %}{{ big | max }}{% endfor %}"
    )
    started = time.process_time()

    error = plan_error(template)

    assert "CPU time" in str(error)
    assert time.process_time() - started < 1.5


def test_ordinary_templates_are_well_inside_the_budget() -> None:
    rules = one_rule("{% for key in event.refs.jira_issue_keys %}{{ key ~ '-' }}{% endfor %}5001")
    planned = rules.plan(ticket("5001", "A-1 B-2 C-3"), CONNECT_SETTINGS)
    assert planned[0].params["ticket_id"] == "A-1-B-2-C-3-5001"
    assert MAX_OUTPUT < MAX_BUILT


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ range(10 ** 9) | list }}", "range() of 1,000,000,000 items (at most 100,000)"),
        (
            "{% for i in range(100000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "nested loops take 100,000,000 iterations (at most 100,000 steps per render)",
        ),
        ("{{ 'x' * 10 ** 8 }}", "'*' builds 100,000,000 characters"),
        ("{{ 2 ** 100000 }}", "exponent 100,000 (at most 64)"),
        ("{{ 'x' | center(10 ** 9) }}", "filter center with 1,000,000,000"),
        ("{{ 'x'.zfill(10 ** 9) }}", "zfill() with 1,000,000,000"),
        ("{{ '%999999999d' % 1 }}", "'%' format with width 999,999,999"),
    ],
)
def test_what_the_text_alone_shows_is_refused_at_load(template: str, problem: str) -> None:
    with pytest.raises(RulesError) as caught:
        one_rule(template)

    assert [p.line for p in caught.value.problems] == [6]
    assert problem in caught.value.problems[0].message


def test_rules_check_reports_it_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "costly.yaml"
    path.write_text(
        textwrap.dedent("""\
        rules:
          - name: costly
            when: {source: zendesk, type: ticket.updated}
            actions:
              - kind: zendesk.jira_link.create
                ticket_id: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}1"
                issue_key: PROJ-1
        """)
    )

    assert main(["rules", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:6: rule 'costly', action #1 (zendesk.jira_link.create): ticket_id: nested loops" in out
