"""The Salesforce connector's client: every operation against the sandbox over real HTTP, checked in its state."""

from __future__ import annotations

import pytest

from bridge.errors import RequestRefused
from bridge.upstreams.salesforce.client import Association, SalesforceConnectorClient
from bridge.upstreams.sandbox import SandboxControl


def test_salesforce_add_replace_list_and_the_1000_limit(
    salesforce_client: SalesforceConnectorClient, upstreams_control: SandboxControl
) -> None:
    case_a, case_b = Association(son="Case", soid="500A"), Association(son="Case", soid="500B")

    salesforce_client.add_associations("PROJ-7", [case_a])
    salesforce_client.add_associations("PROJ-7", [case_a, case_b])
    assert sorted(a.soid for a in salesforce_client.list_associations("PROJ-7")) == ["500A", "500B"]
    salesforce_client.replace_associations("PROJ-7", [case_b])
    assert [a.soid for a in salesforce_client.list_associations("PROJ-7")] == ["500B"]

    calls_before = len(upstreams_control.calls("salesforce"))
    with pytest.raises(RequestRefused):
        salesforce_client.add_associations(
            "PROJ-7", [Association(son="Case", soid=f"5{n:05}") for n in range(1001)]
        )
    assert len(upstreams_control.calls("salesforce")) == calls_before
