"""The Helm chart, checked without helm (not installable here): schema, references, structure, YAML.

The chart is written for ``helm lint helm/bridge`` and ``helm template bridge helm/bridge -f values.yaml``;
these tests check what can be checked in Python: values against values.schema.json, every ``.Values``
path and ``include`` a template uses, balanced blocks, and each template as YAML of the expected kind
once its actions are replaced by placeholders.
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
MANIFESTS = {
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
}


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
            for key in path.strip(".").split("."):
                assert isinstance(holder, dict), f"{name}: .Values{path} goes through a non-mapping"
                assert key in holder, f"{name}: .Values{path} is not in values.yaml"
                holder = holder[key]


def test_every_include_is_defined() -> None:
    texts = _template_texts()
    defined = set(re.findall(r'define "([^"]+)"', texts["_helpers.tpl"]))
    for name, text in texts.items():
        for used in re.findall(r'include "([^"]+)"', text):
            assert used in defined, f"{name} includes undefined {used!r}"


@pytest.mark.parametrize("name", sorted(path.name for path in TEMPLATES.iterdir()))
def test_blocks_balance(name: str) -> None:
    text = (TEMPLATES / name).read_text()
    opened = len(re.findall(r"{{-?\s*(?:if|range|with|define)\b", text))
    closed = len(re.findall(r"{{-?\s*end\s*-?}}", text))
    assert opened == closed, f"{name}: {opened} blocks opened, {closed} closed"


def _placeholders(text: str) -> str:
    # Lines that are only actions (conditions, includes at their own indentation) go; inline actions
    # become a scalar. Both branches of a condition stay, which is still YAML for these templates.
    lines = [line for line in text.splitlines() if not re.fullmatch(r"\s*({{.*?}}\s*)+", line)]
    return re.sub(r"{{.*?}}", "placeholder", "\n".join(lines))


@pytest.mark.parametrize(("name", "kind"), sorted(MANIFESTS.items()))
def test_each_template_is_yaml_of_its_kind(name: str, kind: str) -> None:
    document = yaml.safe_load(_placeholders((TEMPLATES / name).read_text()))
    assert document["kind"] == kind
    assert "name" in document["metadata"]


def test_every_template_file_is_known() -> None:
    assert {path.name for path in TEMPLATES.iterdir()} == {*MANIFESTS, "_helpers.tpl", "NOTES.txt"}


def test_web_probes_security_and_graceful_stop() -> None:
    web = yaml.safe_load(_placeholders((TEMPLATES / "deployment-web.yaml").read_text()))
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == ["bridge", "web"]
    helpers = (TEMPLATES / "_helpers.tpl").read_text()
    for setting in (
        "runAsNonRoot: true",
        "runAsUser: 10001",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        'drop: ["ALL"]',
        "type: RuntimeDefault",
        "mountPath: /tmp",
    ):
        assert setting in helpers
    assert _values()["web"]["terminationGracePeriodSeconds"] >= 25  # web drains for up to 20 s


def test_keda_scales_workers_on_every_queue_the_worker_reads() -> None:
    from bridge.job_queues import queue_names

    text = (TEMPLATES / "keda-scaledobject.yaml").read_text()
    for queue in queue_names():
        assert f'"{queue}"' in text
    assert 'printf "rq:queue:%s"' in text
    # ...and on the events whose calls wait for a drain job, which are not RQ jobs of their own.
    from bridge import keys, upstreams

    assert keys.WAITING_KEY == "bridge:calls:{destination}:waiting"
    assert 'printf "bridge:calls:%s:waiting"' in text
    for destination in upstreams.DESTINATIONS:
        assert f'"{destination}"' in text


def test_notes_print_the_webhook_urls() -> None:
    notes = (TEMPLATES / "NOTES.txt").read_text()
    assert "/webhooks/jira" in notes
    assert "/webhooks/zendesk" in notes
