"""The Helm chart's sources, read as text: what a rendering cannot show.

Helm itself lints and renders the chart in ``test_chart_rendered.py``. Here: values against
values.schema.json (and wrong values refused), every ``.Values`` path a template uses exists in
values.yaml (Helm renders a missing one as empty, silently), every ``include`` is defined (Helm finds an
undefined one only in a branch it renders), and the NOTES.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "bridge"
TEMPLATES = CHART / "templates"
TEMPLATES_KNOWN = {
    "configmap.yaml": "ConfigMap",
    "configmap-rules.yaml": "ConfigMap",
    "secret.yaml": "Secret",
    "deployment-web.yaml": "Deployment",
    "deployment-worker.yaml": "Deployment",
    "service.yaml": "Service",
    "ingress.yaml": "Ingress",
    "pdb.yaml": "PodDisruptionBudget",
    "hpa.yaml": "HorizontalPodAutoscaler",
    "keda-scaledobject.yaml": "ScaledObject",
    "servicemonitor.yaml": "ServiceMonitor",
    "prometheusrule.yaml": "PrometheusRule",
    "configmap-dashboards.yaml": "ConfigMap",
}
FREE_FORM = {"config", "secrets"}
"""Values that are open maps of environment variables: any key may be used."""


def _values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def _template_texts() -> dict[str, str]:
    return {path.name: path.read_text() for path in TEMPLATES.iterdir()}


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "bridge"
    assert chart["appVersion"] == "0.1.0"
    assert "dependencies" not in chart  # nothing to download


def test_values_validate_against_the_schema() -> None:
    jsonschema.validate(_values(), _schema())


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        (("web", "replicas"), "two"),
        (("worker", "keda", "enabled"), "yes"),
        (("service", "type"), "Weird"),
        (("web", "port"), 70000),
        (("image", "pullPolicy"), "Sometimes"),
        (("config", "lowercase_name"), "x"),
        (("surprise",), True),
    ],
)
def test_wrong_values_are_rejected(path: tuple[str, ...], wrong: Any) -> None:
    values = copy.deepcopy(_values())
    holder = values
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = wrong
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(values, _schema())


def test_every_values_path_a_template_uses_exists() -> None:
    values = _values()
    for name, text in _template_texts().items():
        for path in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
            holder: Any = values
            keys = path.strip(".").split(".")
            if keys[0] in FREE_FORM:
                continue
            for key in keys:
                assert isinstance(holder, dict), f"{name}: .Values{path} goes through a non-mapping"
                assert key in holder, f"{name}: .Values{path} is not in values.yaml"
                holder = holder[key]


def test_every_include_is_defined() -> None:
    texts = _template_texts()
    defined = set(re.findall(r'define "([^"]+)"', texts["_helpers.tpl"]))
    for name, text in texts.items():
        for used in re.findall(r'include "([^"]+)"', text):
            assert used in defined, f"{name} includes undefined {used!r}"


def test_every_template_file_is_known() -> None:
    assert {path.name for path in TEMPLATES.iterdir()} == {*TEMPLATES_KNOWN, "_helpers.tpl", "NOTES.txt"}
    for name, kind in TEMPLATES_KNOWN.items():
        assert re.search(rf"^kind: {kind}$", (TEMPLATES / name).read_text(), re.MULTILINE), name


def test_notes_print_the_webhook_urls() -> None:
    notes = (TEMPLATES / "NOTES.txt").read_text()
    assert "/webhooks/jira" in notes
    assert "/webhooks/zendesk" in notes
