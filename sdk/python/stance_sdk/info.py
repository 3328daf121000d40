"""Declarations a plugin makes in `describe`: rules, settings, remediation.

The SDK builds the WIT `plugin-info` record from these; a plugin author only
passes keyword arguments to `@plugin.rule(...)` and `plugin.setting(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .model import Severity

KINDS = ("string", "number", "boolean", "array", "object", "any")
"""JSON kinds a setting may declare; the host refuses any other."""


@dataclass
class Remediation:
    """How to fix a failing resource: guidance, optional console and CLI steps, links."""

    guidance: str = ""
    console: str | None = None
    cli: str | None = None
    references: list[str] = field(default_factory=list)


@dataclass
class Compliance:
    """A control of a compliance framework that a rule implements."""

    framework: str
    version: str
    control: str


@dataclass
class RuleSpec:
    """One rule as `describe` lists it.

    `resource_types` holds exact types (`aws_s3_bucket`), prefixes
    (`aws_s3_*`) or `*`; for detectors it holds log sources
    (`aws_cloudtrail`). `reads` lists body paths the rule reads.
    """

    id: str
    title: str
    severity: Severity
    resource_types: list[str]
    description: str = ""
    remediation: Remediation = field(default_factory=Remediation)
    compliance: list[Compliance] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    def matches(self, resource_type: str) -> bool:
        """Whether an asset type (or event source) is one this rule reads."""
        return type_matches(self.resource_types, resource_type)


@dataclass
class SettingSpec:
    """A setting the plugin accepts; the host checks values before the plugin goes live."""

    name: str
    kind: str
    required: bool = False
    description: str = ""
    default: Any = None


@dataclass
class PluginInfo:
    """The plugin as `describe` returns it."""

    name: str
    version: str
    description: str
    rules: list[RuleSpec]
    settings: list[SettingSpec]


def type_matches(patterns: Sequence[str], value: str) -> bool:
    """`*` matches everything, `prefix*` a prefix, anything else exactly."""
    for p in patterns:
        if p == "*" or p == value or (p.endswith("*") and value.startswith(p[:-1])):
            return True
    return False


def remediation_of(value: str | Remediation | None) -> Remediation:
    """Accept plain guidance text where a Remediation is expected."""
    if value is None:
        return Remediation()
    if isinstance(value, Remediation):
        return value
    return Remediation(guidance=value)


def compliance_of(items: Sequence[Compliance | tuple[str, str, str]]) -> list[Compliance]:
    """Accept `(framework, version, control)` tuples where Compliance is expected."""
    out: list[Compliance] = []
    for c in items:
        out.append(c if isinstance(c, Compliance) else Compliance(*c))
    return out
