"""The component boundary: SDK records to and from the generated WIT records.

Imported only by `Policy.export()` / `Detector.export()`, i.e. inside a
componentize-py build where `wit_world` exists; importing it binds the host
imports. Every export catches all exceptions, so a plugin bug becomes a
plugin-error rather than a trap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from componentize_py_types import Err
from wit_world.imports import host as wit_host
from wit_world.imports import types as wit

from . import _host
from .info import PluginInfo
from .model import Alert, Asset, Event, Evidence, Finding, PluginError
from .plugin import describe_exception

if TYPE_CHECKING:
    from .detector import Detector
    from .policy import Policy

T = TypeVar("T")

try:  # the detector world imports `state`; the policy world does not
    from wit_world.imports import state as wit_state
except ImportError:
    wit_state = None

# Bind the imports now: this module is imported while componentize-py
# pre-initializes the entry module; at run time there is no filesystem to
# import generated modules from.
_host.install(_host.WitHost(wit_host, wit_state, Err))


def plugin_info(info: PluginInfo) -> wit.PluginInfo:
    return wit.PluginInfo(
        name=info.name,
        version=info.version,
        description=info.description,
        rules=[
            wit.RuleInfo(
                id=r.id,
                title=r.title,
                description=r.description,
                severity=wit.Severity[r.severity.name],
                resource_types=list(r.resource_types),
                compliance=[wit.ComplianceRef(c.framework, c.version, c.control) for c in r.compliance],
                remediation=wit.Remediation(
                    guidance=r.remediation.guidance,
                    console=r.remediation.console,
                    cli=r.remediation.cli,
                    references=list(r.remediation.references),
                ),
                tags=list(r.tags),
                reads=list(r.reads),
            )
            for r in info.rules
        ],
        settings=[
            wit.SettingInfo(name=s.name, description=s.description, required=s.required, kind=s.kind)
            for s in info.settings
        ],
    )


def evidence(items: list[Evidence]) -> list[wit.Evidence]:
    return [wit.Evidence(e.path, e.actual, e.expected) for e in items]


def finding(f: Finding) -> wit.Finding:
    return wit.Finding(
        rule_id=f.rule_id,
        asset_id=f.asset_id,
        status=wit.Status[f.status.name],
        severity=None if f.severity is None else wit.Severity[f.severity.name],
        message=f.message,
        evidence=evidence(f.evidence),
    )


def alert(a: Alert) -> wit.Alert:
    assert a.severity is not None  # the SDK fills the rule's severity
    return wit.Alert(
        rule_id=a.rule_id,
        severity=wit.Severity[a.severity.name],
        title=a.title,
        message=a.message,
        event_ids=list(a.event_ids),
        group_key=a.group_key,
        window_start=a.window_start,
        window_end=a.window_end,
        evidence=evidence(a.evidence),
    )


def guarded(call: Callable[[], T]) -> T:
    """Run an export; raise every failure as the WIT `Err(plugin-error)`."""
    try:
        return call()
    except PluginError as e:
        raise Err(wit.PluginError(rule_id=e.rule_id, message=e.message)) from None
    except Exception as e:
        raise Err(wit.PluginError(rule_id=None, message=f"plugin raised {describe_exception(e)}")) from None


def policy_class(policy: Policy) -> type:
    try:
        from wit_world.exports import PolicyPlugin as Interface
    except ImportError:
        raise RuntimeError(
            f"{policy.name}: Policy.export() needs the bindings of the `policy` world "
            "(componentize-py -w policy)"
        ) from None

    class PolicyPlugin(Interface):  # type: ignore[misc, valid-type]
        def describe(self) -> wit.PluginInfo:
            return guarded(lambda: plugin_info(policy.describe()))

        def evaluate(self, batch: list[Any]) -> list[wit.Finding]:
            return guarded(
                lambda: [finding(f) for f in policy.evaluate([Asset.from_record(a) for a in batch])]
            )

    return PolicyPlugin


def detector_class(detector: Detector) -> type:
    try:
        from wit_world.exports import DetectorPlugin as Interface
    except ImportError:
        raise RuntimeError(
            f"{detector.name}: Detector.export() needs the bindings of the `detector` world "
            "(componentize-py -w detector)"
        ) from None

    class DetectorPlugin(Interface):  # type: ignore[misc, valid-type]
        def describe(self) -> wit.PluginInfo:
            return guarded(lambda: plugin_info(detector.describe()))

        def evaluate(self, batch: list[Any]) -> list[wit.Alert]:
            return guarded(
                lambda: [alert(a) for a in detector.evaluate([Event.from_record(e) for e in batch])]
            )

    return DetectorPlugin
