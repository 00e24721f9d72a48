"""What rules may ask of the Salesforce connector: add associations to an issue, or replace them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.rules.params import ASSOCIATIONS, ID, ActionSpec
from bridge.upstreams import Action, Call, Result
from bridge.upstreams.salesforce.client import Association, SalesforceConnectorClient

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "SALESFORCE_CONNECTOR_BASE_URL and SALESFORCE_CONNECTOR_PAT"
"""What a connector call needs set."""


def _associations(params: dict[str, Any]) -> list[Association]:
    return [Association.model_validate(item) for item in params["associations"]]


def associations_add(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    salesforce = clients.need("salesforce", SalesforceConnectorClient, VARIABLES)
    saved = salesforce.add_associations(params["issue"], _associations(params), idempotency_key=call.key)
    return {"message": saved.message}


def associations_replace(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    salesforce = clients.need("salesforce", SalesforceConnectorClient, VARIABLES)
    saved = salesforce.replace_associations(params["issue"], _associations(params), idempotency_key=call.key)
    return {"message": saved.message}


ACTIONS = (
    Action(
        ActionSpec(
            "salesforce.associations.add",
            "salesforce",
            "issue",
            {"issue": ID, "associations": ASSOCIATIONS},
            {},
        ),
        associations_add,
    ),
    Action(
        ActionSpec(
            "salesforce.associations.replace",
            "salesforce",
            "issue",
            {"issue": ID, "associations": ASSOCIATIONS},
            {},
        ),
        associations_replace,
    ),
)
"""The connector's action kinds, each with the function that makes its call."""
