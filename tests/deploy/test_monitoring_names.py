"""Every metric the chart's alert rules and Grafana dashboard query is one the bridge's /metrics serves.

The chart is rendered by Helm with both switched on; the names are taken from each rule's expression and
each dashboard target and variable query; /metrics is scraped over HTTP from the app on a real Redis,
after a delivery of each kind so that every family has samples.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from bridge import samples
from bridge.receiver.app import create_app
from bridge.serving import ServerThread
from bridge.settings import Settings
from tests.deploy.conftest import Helm, find
from tests.deploy.test_metrics_redis import names, parse
from tests.receiver.conftest import send, signed_jira

METRIC = re.compile(r"\bbridge_[a-z0-9_]+\b")


@pytest.fixture
def served(settings: Settings) -> set[str]:
    """The sample names /metrics serves once the bridge has seen an accepted and a refused delivery."""
    with (
        ServerThread(create_app(settings)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        assert send(client, signed_jira(identifier="names-1")).status_code == 202
        refused = samples.sign_jira(samples.jira_issue(), "not-the-secret")
        assert send(client, refused).status_code == 401
        response = client.get("/metrics")
    assert response.status_code == 200
    return names(parse(response.text))


@pytest.fixture(scope="module")
def monitoring(helm: Helm) -> list[dict[str, Any]]:
    return helm.template(
        {"monitoring": {"alertRules": {"enabled": True}, "grafanaDashboard": {"enabled": True}}}
    )


def _rule_expressions(manifests: list[dict[str, Any]]) -> dict[str, str]:
    rule = find(manifests, "PrometheusRule")
    return {alert["alert"]: alert["expr"] for group in rule["spec"]["groups"] for alert in group["rules"]}


def _dashboard_queries(manifests: list[dict[str, Any]]) -> dict[str, str]:
    configmap = find(manifests, "ConfigMap", "prod-bridge-dashboards")
    dashboard = json.loads(configmap["data"]["bridge.json"])
    queries = {
        f"{panel['title']} {target['refId']}": target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries[f"variable {variable['name']}"] = variable["query"]["query"]
    return queries


def test_the_served_names_include_the_workers_figures(served: set[str]) -> None:
    assert {
        "bridge_upstream_calls_total",
        "bridge_waiting_events",
        "bridge_oldest_waiting_seconds",
        "bridge_queued_jobs",
        "bridge_failed_jobs",
        "bridge_workers",
        "bridge_redis_up",
        "bridge_deliveries_total",
        "bridge_rejected_deliveries_total",
        "bridge_enqueue_seconds_bucket",
    } <= served


def test_every_metric_an_alert_rule_uses_is_served(
    monitoring: list[dict[str, Any]], served: set[str]
) -> None:
    expressions = _rule_expressions(monitoring)
    used = {alert: set(METRIC.findall(expr)) for alert, expr in expressions.items()}
    assert all(used.values()), f"a rule uses no bridge metric: {used}"
    for alert, metrics in used.items():
        assert metrics <= served, f"{alert} uses {sorted(metrics - served)}, which /metrics does not serve"
    # The three the operators asked for, each on the figure that answers it.
    assert used["BridgeUpstreamCallsFailing"] == {"bridge_upstream_calls_total"}
    assert used["BridgeEventsWaiting"] == {"bridge_oldest_waiting_seconds"}
    assert used["BridgeNoWorker"] == {"bridge_workers"}


def test_every_metric_the_dashboard_queries_is_served(
    monitoring: list[dict[str, Any]], served: set[str]
) -> None:
    queries = _dashboard_queries(monitoring)
    assert len(queries) >= 10
    used: set[str] = set()
    for where, query in queries.items():
        metrics = set(METRIC.findall(query))
        assert metrics, f"{where} queries no bridge metric: {query}"
        assert metrics <= served, f"{where} uses {sorted(metrics - served)}, which /metrics does not serve"
        used |= metrics
    # Each family the workers' side serves has a panel.
    assert {
        "bridge_upstream_calls_total",
        "bridge_waiting_events",
        "bridge_oldest_waiting_seconds",
        "bridge_queued_jobs",
        "bridge_failed_jobs",
        "bridge_workers",
        "bridge_redis_up",
    } <= used
