"""Write Stance policy and detector plugins in Python.

Declare rules with decorators on a `Policy` or `Detector`, then export the
class componentize-py looks for (`PolicyPlugin = policy.export()`). The
generated WIT bindings (`wit_world`) stay inside the SDK and are imported only
by `export()`, so everything else here runs under plain CPython too.
"""

from __future__ import annotations

from . import log, state
from .detector import Detector
from .fields import (
    as_list,
    field,
    field_bool,
    field_dict,
    field_float,
    field_int,
    field_list,
    field_str,
    has_field,
    json_text,
)
from .info import Compliance, Remediation
from .model import (
    Alert,
    Asset,
    BodyError,
    Event,
    Evidence,
    Finding,
    PluginError,
    Severity,
    Status,
    parse_time,
)
from .policy import Policy
from .settings import Settings, SettingsError
from .state import StateError

WIT_VERSION = "0.1.0"
"""The WIT package version (stance:plugin@0.1.0) this SDK targets."""

__all__ = [
    "Alert",
    "Asset",
    "BodyError",
    "Compliance",
    "Detector",
    "Event",
    "Evidence",
    "Finding",
    "PluginError",
    "Policy",
    "Remediation",
    "Settings",
    "SettingsError",
    "Severity",
    "StateError",
    "Status",
    "WIT_VERSION",
    "as_list",
    "field",
    "field_bool",
    "field_dict",
    "field_float",
    "field_int",
    "field_list",
    "field_str",
    "has_field",
    "json_text",
    "log",
    "parse_time",
    "state",
]
