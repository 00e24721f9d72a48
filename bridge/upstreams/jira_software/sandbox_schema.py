"""The shape Jira Software checks a submitted remote link against (from its OpenAPI description).

https://developer.atlassian.com/cloud/jira/software/rest/api-group-remote-links/

Each link is validated on its own, so one bad link is rejected with its reasons while the rest of the
batch is accepted.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
ISSUE_KEY = re.compile(r"^\w{1,255}-\d{1,255}$")


class Association(BaseModel):
    model_config = ConfigDict(extra="forbid")

    associationType: Literal["issueKeys", "serviceIdOrKeys"]
    values: Annotated[list[Text255], Field(min_length=1, max_length=500)]


class Status(BaseModel):
    model_config = ConfigDict(extra="allow")

    appearance: Literal["default", "inprogress", "moved", "new", "removed", "prototype", "success"]
    label: Text255


class RemoteLinkData(BaseModel):
    """One submitted remote link."""

    model_config = ConfigDict(extra="allow", strict=False)

    schemaVersion: Literal["1.0"] = "1.0"
    id: Text255
    updateSequenceNumber: int
    displayName: Text255
    url: Annotated[
        str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:")
    ]
    type: Literal[
        "document", "alert", "test", "security", "logFile", "prototype", "coverage", "bugReport", "other"
    ]
    lastUpdated: datetime
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    associations: Annotated[list[Association], Field(min_length=1, max_length=2)] | None = None
    status: Status | None = None
    actionIds: Annotated[list[Text255], Field(max_length=10)] | None = None
    attributeMap: dict[str, str] | None = None


def link_problems(link: Any) -> list[str]:
    """Return why ``link`` is refused (empty when it is valid)."""
    if not isinstance(link, dict):
        return ["a remote link must be a JSON object"]
    try:
        parsed = RemoteLinkData.model_validate(link)
    except ValidationError as exc:
        return [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()]
    problems = []
    for association in parsed.associations or []:
        if association.associationType == "issueKeys":
            bad = [key for key in association.values if not ISSUE_KEY.match(key)]
            if bad:
                problems.append(f"associations: not issue keys: {', '.join(bad)}")
    return problems


def properties_problems(properties: Any) -> list[str]:
    """Return why submission ``properties`` are refused: ≤ 5 keys, no ``:`` nor leading ``_``, values ≤ 255."""
    if properties is None:
        return []
    if not isinstance(properties, dict):
        return ["properties must be a JSON object"]
    problems = []
    if len(properties) > 5:
        problems.append("properties: at most 5 are allowed")
    for name, value in properties.items():
        if ":" in name or name.startswith("_"):
            problems.append(f"properties: key {name!r} must not contain ':' nor start with '_'")
        if not isinstance(value, str) or len(value) > 255:
            problems.append(f"properties: value of {name!r} must be a string of at most 255 characters")
    return problems
