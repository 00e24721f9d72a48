"""The Helm chart linted and rendered by Helm 3 itself, over its defaults and every optional feature.

Each rendering is parsed (PyYAML) and checked where a mistake would hurt in a cluster: the web probes,
resources on every container, the Secret's keys, the worker's grace after SIGTERM against the calls
job's timeout, the schema refusing mistyped keys, and each optional object when (and only when) asked.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml

from bridge import defaults as bridge_defaults
from bridge import job_queues, keys, upstreams
from bridge.job_queues import queue_names
from bridge.settings import Settings
from tests.deploy.conftest import CHART, FULLNAME, NAMESPACE, Helm, HelmFailed, find, kinds

WEB = f"{FULLNAME}-web"
WORKER = f"{FULLNAME}-worker"
DEFAULT_KINDS = [
    "ConfigMap",
    "Deployment",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Secret",
    "Service",
]
GRACE_MARGIN_S = 30
"""What the worker's grace must leave after a drain job stops taking events: the event in hand's calls."""

EVERYTHING: dict[str, Any] = {
    "worker": {"keda": {"enabled": True}},
    "ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "bridge-tls"},
    "web": {"autoscaling": {"enabled": True}, "podDisruptionBudget": {"enabled": True}},
    "monitoring": {
        "serviceMonitor": {"enabled": True},
        "alertRules": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
    "rules": "rules: []\n",
    "secrets": {"REDIS_URL": "redis://redis:6379/0", "JIRA_WEBHOOK_SECRET": "s3cret"},
}


def _containers(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{m['metadata']['name']}/{c['name']}": c
        for m in manifests
        if m["kind"] == "Deployment"
        for c in m["spec"]["template"]["spec"]["containers"]
        + m["spec"]["template"]["spec"].get("initContainers", [])
    }


def test_helm_lint_passes_over_the_defaults_and_with_everything_on(helm: Helm) -> None:
    out = helm.run("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    out = helm.run("lint", "--strict", str(CHART), "-f", str(helm.values_file(EVERYTHING)))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def test_defaults_render_the_core_objects_only(helm: Helm) -> None:
    manifests = helm.template()
    assert kinds(manifests) == DEFAULT_KINDS
    for manifest in manifests:
        assert manifest["metadata"]["labels"]["app.kubernetes.io/instance"] == "prod"


def test_web_has_liveness_and_readiness_probes_and_the_worker_none(helm: Helm) -> None:
    manifests = helm.template()
    (web,) = find(manifests, "Deployment", WEB)["spec"]["template"]["spec"]["containers"]
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert web["ports"] == [{"name": "http", "containerPort": 8000}]
    assert web["args"] == ["bridge", "web"]
    # The web process finishes the requests in flight for up to 20 s after SIGTERM.
    assert (
        find(manifests, "Deployment", WEB)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 25
    )
    # The worker serves no HTTP: its liveness is its heartbeat in Redis (bridge_workers, BridgeNoWorker).
    (worker,) = find(manifests, "Deployment", WORKER)["spec"]["template"]["spec"]["containers"]
    assert worker["args"] == ["bridge", "worker", "--concurrency", "2"]
    assert "livenessProbe" not in worker
    assert "readinessProbe" not in worker
    assert "ports" not in worker


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_every_container_has_requests_and_limits_and_a_restricted_context(
    helm: Helm, values: dict[str, Any]
) -> None:
    manifests = helm.template(values)
    containers = _containers(manifests)
    assert set(containers) == {f"{WEB}/web", f"{WORKER}/worker"}
    for name, container in containers.items():
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) >= {"cpu", "memory"}, f"{name} {bound}"
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"]["drop"] == ["ALL"], name
    for deployment in (find(manifests, "Deployment", WEB), find(manifests, "Deployment", WORKER)):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001


def test_secret_holds_every_given_key_and_no_empty_one(helm: Helm) -> None:
    declared = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]
    assert {"REDIS_URL", "JIRA_WEBHOOK_SECRET", "ZENDESK_WEBHOOK_SECRET"} <= set(declared)
    # Every key of values.secrets given: each is in the Secret, as given.
    every = {name: f"value-of-{name}" for name in declared}
    secret = find(helm.template({"secrets": every}), "Secret", f"{FULLNAME}-secrets")
    assert secret["type"] == "Opaque"
    assert secret["stringData"] == every
    # Some given, the others left empty: the empty ones are left out (the variable stays unset).
    some = {"REDIS_URL": "redis://redis:6379/0", "JIRA_WEBHOOK_SECRET": "s", "ZENDESK_WEBHOOK_SECRET": ""}
    secret = find(helm.template({"secrets": some}), "Secret")
    assert secret["stringData"] == {"REDIS_URL": "redis://redis:6379/0", "JIRA_WEBHOOK_SECRET": "s"}
    # None given: an empty Secret, not empty strings; both Deployments read it.
    defaults = helm.template()
    assert find(defaults, "Secret")["stringData"] == {}
    for name in ("web", "worker"):
        (container,) = find(defaults, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"][
            "containers"
        ]
        assert {"secretRef": {"name": f"{FULLNAME}-secrets"}} in container["envFrom"]


def test_an_existing_secret_replaces_the_charts_and_refuses_secrets_given_beside_it(helm: Helm) -> None:
    manifests = helm.template({"existingSecret": "bridge-credentials"})
    assert "Secret" not in kinds(manifests)
    for name in ("web", "worker"):
        (container,) = find(manifests, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"][
            "containers"
        ]
        assert {"secretRef": {"name": "bridge-credentials"}} in container["envFrom"]
    with pytest.raises(HelmFailed, match=r"secrets\.JIRA_API_TOKEN is given but existingSecret"):
        helm.template({"existingSecret": "bridge-credentials", "secrets": {"JIRA_API_TOKEN": "t"}})


def _worker_grace(manifests: list[dict[str, Any]]) -> int:
    grace: int = find(manifests, "Deployment", WORKER)["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    return grace


@pytest.mark.parametrize("timeout", [45, 120, 121, 300, 600])
def test_worker_grace_must_cover_half_the_calls_job_timeout_and_the_event_in_hand(
    helm: Helm, timeout: int
) -> None:
    config = {"BRIDGE_CALLS_JOB_TIMEOUT_S": str(timeout)}
    needed = math.ceil(timeout / 2) + GRACE_MARGIN_S
    with pytest.raises(HelmFailed, match=f"is {needed - 1}, less than .*={timeout}\\) \\+ 30 s = {needed}"):
        helm.template({"config": config, "worker": {"terminationGracePeriodSeconds": needed - 1}})
    manifests = helm.template({"config": config, "worker": {"terminationGracePeriodSeconds": needed}})
    # What the worker pods will read from the rendered ConfigMap.
    settings = Settings.model_validate(find(manifests, "ConfigMap", f"{FULLNAME}-config")["data"])
    assert settings.calls_job_timeout_s == timeout
    assert _worker_grace(manifests) >= settings.calls_job_timeout_s / 2 + GRACE_MARGIN_S
    # The chart's default grace (90 s) covers timeouts up to 120 s; a longer one must raise the grace.
    if needed > 90:
        with pytest.raises(HelmFailed, match="is 90, less than"):
            helm.template({"config": config})
    else:
        assert _worker_grace(helm.template({"config": config})) == 90


def test_worker_grace_default_matches_the_settings_default(helm: Helm) -> None:
    default_timeout = Settings().calls_job_timeout_s
    assert default_timeout == 120
    assert _worker_grace(helm.template()) == default_timeout // 2 + GRACE_MARGIN_S == 90
    with pytest.raises(HelmFailed, match="is 89, less than half"):
        helm.template({"worker": {"terminationGracePeriodSeconds": 89}})


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"surprise": True}, "Additional property surprise is not allowed"),
        ({"monitorng": {"alertRules": {"enabled": True}}}, "Additional property monitorng is not allowed"),
        ({"web": {"replica": 3}}, "Additional property replica is not allowed"),
        ({"monitoring": {"alertRules": {"enabeld": True}}}, "Additional property enabeld is not allowed"),
        (
            {"monitoring": {"alertRules": {"oldestWaiting": {"for": "five minutes"}}}},
            "oldestWaiting.for: Does not match pattern",
        ),
        (
            {"worker": {"keda": {"enabled": "yes"}}},
            "worker.keda.enabled: Invalid type. Expected: boolean, given: string",
        ),
    ],
)
def test_the_schema_refuses_mistyped_keys_and_values(
    helm: Helm, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(HelmFailed, match=complaint):
        helm.template(values)
    with pytest.raises(HelmFailed, match=complaint):
        helm.run("lint", str(CHART), "-f", str(helm.values_file(values)))


def test_keda_scales_the_worker_on_every_queue_and_waiting_list(helm: Helm) -> None:
    manifests = helm.template({"worker": {"keda": {"enabled": True, "redisAddress": "redis.db:6379"}}})
    scaled = find(manifests, "ScaledObject", WORKER)
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == WORKER
    lists = {trigger["metadata"]["listName"] for trigger in scaled["spec"]["triggers"]}
    queues = (
        [job_queues.EVENTS_QUEUE]
        + [job_queues.DESTINATION_QUEUE.format(destination=d) for d in upstreams.DESTINATIONS]
        + [job_queues.RESYNC_QUEUE]
    )
    waiting = [keys.WAITING_KEY.format(destination=d) for d in upstreams.DESTINATIONS]
    assert lists == {f"rq:queue:{queue}" for queue in queues} | set(waiting)
    assert set(queues) == set(queue_names())  # every queue the worker reads
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["address"] == "redis.db:6379"
    # KEDA owns the replica count: the Deployment leaves it alone.
    assert "replicas" not in find(manifests, "Deployment", WORKER)["spec"]


def test_ingress_routes_to_web_with_tls_and_a_buffering_body_limit(helm: Helm) -> None:
    manifests = helm.template(
        {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "bridge.acme.test",
                "tlsSecretName": "bridge-tls",
                "annotations": {"nginx.ingress.kubernetes.io/proxy-request-buffering": None, "extra": "x"},
            }
        }
    )
    ingress = find(manifests, "Ingress", FULLNAME)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["bridge.acme.test"], "secretName": "bridge-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "bridge.acme.test"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": WEB, "port": {"name": "http"}}
    # The defaults stay unless removed with null; the body limit is the bridge's own (1 MiB).
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
        "extra": "x",
    }
    assert bridge_defaults.DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    defaults = find(helm.template({"ingress": {"enabled": True}}), "Ingress")["metadata"]["annotations"]
    assert defaults["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"


def test_hpa_and_pdb_on_and_off(helm: Helm) -> None:
    manifests = helm.template({"web": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9}}})
    hpa = find(manifests, "HorizontalPodAutoscaler", WEB)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": WEB}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    assert "replicas" not in find(manifests, "Deployment", WEB)["spec"]
    pdb = find(manifests, "PodDisruptionBudget", WEB)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "web"

    off = helm.template(
        {"web": {"replicas": 4, "autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}}}
    )
    assert "HorizontalPodAutoscaler" not in kinds(off)
    assert "PodDisruptionBudget" not in kinds(off)
    assert find(off, "Deployment", WEB)["spec"]["replicas"] == 4


def test_service_monitor_scrapes_the_web_service(helm: Helm) -> None:
    manifests = helm.template(
        {"monitoring": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}}}
    )
    monitor = find(manifests, "ServiceMonitor", WEB)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    service = find(manifests, "Service", WEB)
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_alert_rules_carry_the_thresholds_from_values(helm: Helm) -> None:
    manifests = helm.template(
        {
            "monitoring": {
                "alertRules": {
                    "enabled": True,
                    "labels": {"release": "kube-prometheus-stack"},
                    "callsFailing": {"threshold": 7, "window": "30m"},
                    "oldestWaiting": {"seconds": 1200, "for": "10m"},
                    "noWorker": {"for": "3m"},
                }
            }
        }
    )
    rule = find(manifests, "PrometheusRule", FULLNAME)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {alert["alert"]: alert for group in rule["spec"]["groups"] for alert in group["rules"]}
    assert set(alerts) == {
        "BridgeUpstreamCallsFailing",
        "BridgeEventsWaiting",
        "BridgeNoWorker",
        "BridgeRedisUnreachable",
        "BridgeMetricsAbsent",
    }
    selector = f'namespace="{NAMESPACE}",job="{WEB}"'
    failing = alerts["BridgeUpstreamCallsFailing"]
    assert f'bridge_upstream_calls_total{{{selector},outcome="failed"}}[30m]' in failing["expr"]
    assert failing["expr"].endswith(">= 7")
    assert "by (namespace, job, destination)" in failing["expr"]
    assert failing["annotations"]["summary"] == "Calls to {{ $labels.destination }} are failing"
    waiting = alerts["BridgeEventsWaiting"]
    assert waiting["expr"].endswith("> 1200")
    assert waiting["for"] == "10m"
    assert alerts["BridgeNoWorker"]["expr"] == f"max by (namespace, job) (bridge_workers{{{selector}}}) == 0"
    assert alerts["BridgeNoWorker"]["for"] == "3m"
    assert alerts["BridgeNoWorker"]["labels"]["severity"] == "critical"
    custom = helm.template({"monitoring": {"alertRules": {"enabled": True, "selector": 'service="b"'}}})
    exprs = [a["expr"] for g in find(custom, "PrometheusRule")["spec"]["groups"] for a in g["rules"]]
    assert all('{service="b"' in expr and "namespace=" not in expr for expr in exprs)


def test_grafana_dashboard_configmap_for_the_sidecar(helm: Helm) -> None:
    manifests = helm.template(
        {"monitoring": {"grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Bridge"}}}}
    )
    configmap = find(manifests, "ConfigMap", f"{FULLNAME}-dashboards")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Bridge"}
    shipped = sorted(path.name for path in (CHART / "dashboards").glob("*.json"))
    assert sorted(configmap["data"]) == shipped == ["bridge.json"]
    dashboard = json.loads(configmap["data"]["bridge.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "bridge.json").read_text())
    assert dashboard["uid"] == "jira-zendesk-bridge"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace", "job"}
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert 'namespace="$namespace",job="$job"' in target["expr"], panel["title"]


def test_everything_on_renders_each_optional_object_once(helm: Helm) -> None:
    manifests = helm.template(EVERYTHING)
    assert kinds(manifests) == sorted(
        [
            *DEFAULT_KINDS,
            "ConfigMap",  # rules
            "ConfigMap",  # dashboards
            "Ingress",
            "PrometheusRule",
            "ScaledObject",
            "ServiceMonitor",
        ]
    )
    names = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(set(names)) == len(names)
    env = find(manifests, "ConfigMap", f"{FULLNAME}-config")["data"]
    assert env["BRIDGE_RULES"] == "/etc/bridge/rules.yaml"
    assert find(manifests, "ConfigMap", f"{FULLNAME}-rules")["data"]["rules.yaml"].strip() == "rules: []"
