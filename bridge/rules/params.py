"""What an action kind takes: ``ActionSpec`` (destination, target, parameters) and the parameter types.

Each upstream declares its own kinds (``bridge/upstreams/<name>/actions.py``); ``load_rules`` checks a
rules file against them and ``RuleSet.plan`` checks rendered values with ``coerce``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Parameter types, checked on the rendered values: a wrong type is the rule's fault, caught before any call.
STR = "string"
ID = "id"  # a string or a whole number (ticket ids, issue ids), passed on as a string
BOOL = "boolean"
INT = "integer"
KEYS = "list of strings"
ASSOCIATIONS = "list of associations"
DICT = "mapping"

_ASSOCIATION_FIELDS = {"son": str, "soid": str, "viewOnly": bool, "autoPush": bool, "autoPull": bool}


@dataclass(frozen=True)
class ActionSpec:
    """One action kind: where it goes, which parameter names its target, which parameters it takes."""

    kind: str
    destination: str
    target_param: str
    required: dict[str, str]
    optional: dict[str, str]
    # Groups of which exactly one parameter must be given (e.g. an action's name or its id).
    one_of: tuple[tuple[str, ...], ...] = ()
    # The parameters that name the one record the action writes (a remote link: its issue and globalId);
    # the first of a one_of group that is given counts. Calls on one object take effect in plan order.
    object_params: tuple[str | tuple[str, ...], ...] = ()

    @property
    def params(self) -> dict[str, str]:
        """Every parameter the kind accepts, with its type."""
        merged = {**self.required, **self.optional}
        for group in self.one_of:
            merged.update(dict.fromkeys(group, ID))
        return merged

    def target(self, params: dict[str, Any]) -> str:
        """Return the target the rendered ``params`` write to (``<destination>:<id>``)."""
        return f"{self.destination}:{params[self.target_param]}"

    def object(self, params: dict[str, Any]) -> str:
        """Return the record the rendered ``params`` write (``jira.remote_link:<issue>:<globalId>``).

        Actions of one kind family (``upsert`` and ``delete`` of a remote link) name the same record, so
        the kind's last part is left out.
        """
        family = self.kind.rsplit(".", 1)[0]
        parts = []
        for name in self.object_params or (self.target_param,):
            if isinstance(name, tuple):
                name = next((one for one in name if params.get(one) not in (None, "")), name[0])
            parts.append(str(params.get(name, "")))
        return ":".join([family, *parts])


def coerce(name: str, expected: str, value: Any) -> Any:
    """Return ``value`` as parameter type ``expected``; raise ``ValueError`` saying what is wrong."""
    if expected in (STR, ID):
        if expected == ID and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            wanted = "text or a whole number" if expected == ID else "text"
            raise ValueError(f"{name} must be {wanted}, got {_describe(value)}")
        if not value.strip():
            raise ValueError(f"{name} must not be empty")
        return value
    if expected == BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {_describe(value)}")
        return value
    if expected == INT:
        # bool is an int in Python; an integer parameter given true/false is a mistake.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {_describe(value)}")
        return value
    if expected == DICT:
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a mapping, got {_describe(value)}")
        return value
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list, got {_describe(value)}")
    if expected == KEYS:
        return [coerce(f"{name}[{index}]", STR, item) for index, item in enumerate(value)]
    return [_association(f"{name}[{index}]", item) for index, item in enumerate(value)]


def _association(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping {{son, soid, ...}}, got {_describe(value)}")
    unknown = sorted(set(value) - set(_ASSOCIATION_FIELDS))
    if unknown:
        raise ValueError(f"{name} has unknown field(s) {', '.join(map(str, unknown))}")
    for field_name in ("son", "soid"):
        if field_name not in value:
            raise ValueError(f"{name} lacks {field_name}")
    association = {
        "son": coerce(f"{name}.son", STR, value["son"]),
        "soid": coerce(f"{name}.soid", ID, value["soid"]),
    }
    for flag in ("viewOnly", "autoPush", "autoPull"):
        if flag in value:
            association[flag] = coerce(f"{name}.{flag}", BOOL, value[flag])
    return association


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
