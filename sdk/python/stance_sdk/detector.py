"""The detector world: events in, alerts out, with a host-kept state store.

Declare rules with `@detector.rule(...)` on functions
`(event) -> Alert | list[Alert] | None`; `detector.export()` makes the class
componentize-py exports as `DetectorPlugin`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

from . import log
from .info import Compliance, Remediation
from .model import Alert, Event, PluginError, Severity
from .plugin import PluginBase, describe_exception

RuleResult = Union[Alert, Sequence[Alert], None]
RuleFn = Callable[[Event], RuleResult]
"""A detector rule: look at one event, return the alerts it raises (or None)."""


class Detector(PluginBase[RuleFn]):
    """A detector plugin: rules over audit-log events.

    ```python
    detector = Detector("acme-detections", "0.1.0")

    @detector.rule("acme-root-login", title="Root user signed in",
                   severity=Severity.HIGH, sources=["aws_cloudtrail"])
    def root_login(event: Event) -> Alert | None:
        if event.field_str("eventName") != "ConsoleLogin":
            return None
        if event.field_str("userIdentity.type") != "Root":
            return None
        return Alert.on(event, "Root user signed in to the console")

    DetectorPlugin = detector.export()
    ```

    Instances are fresh per batch: keep what must outlive a batch (counts,
    windows) in `stance_sdk.state`.
    """

    def rule(
        self,
        id: str,
        *,
        title: str,
        severity: Severity,
        sources: Sequence[str] = ("aws_cloudtrail",),
        description: str = "",
        remediation: str | Remediation | None = None,
        compliance: Sequence[Compliance | tuple[str, str, str]] = (),
        tags: Sequence[str] = (),
    ) -> Callable[[RuleFn], RuleFn]:
        """Decorator declaring a rule over events of the given log `sources`.

        The SDK fills in the rule id of each alert, and the rule's severity
        unless the alert overrides it. The detector world has no per-alert
        error status: an exception raised inside a rule is logged at error
        level (rule, event, exception) and that rule skips that event; raise
        `PluginError` to fail the whole batch instead.
        """
        return self._declare(
            id, title, severity, sources, description, remediation, compliance, tags, ()
        )

    def evaluate(self, events: Sequence[Event]) -> list[Alert]:
        """Run every matching rule on every event, in order."""
        self._begin_batch()
        alerts: list[Alert] = []
        for event in events:
            for registered in self.rules:
                if registered.spec.matches(event.source):
                    alerts.extend(
                        run_rule(registered.spec.id, registered.spec.severity, registered.fn, event)
                    )
        return alerts

    def export(self) -> type:
        """The class componentize-py exports: assign it to `DetectorPlugin` in the entry module."""
        from ._wit import detector_class

        return detector_class(self)


def run_rule(rule_id: str, severity: Severity, fn: RuleFn, event: Event) -> list[Alert]:
    """One rule on one event; exceptions other than PluginError are logged and skipped."""
    try:
        result: Any = fn(event)
        alerts = _as_alerts(result)
    except PluginError as e:
        if e.rule_id is None:
            e.rule_id = rule_id
        raise
    except Exception as e:
        log.error(f"rule {rule_id} on event {event.id}: {describe_exception(e)}")
        return []
    for a in alerts:
        a.rule_id = rule_id
        if a.severity is None:
            a.severity = severity
    return alerts


def _as_alerts(result: Any) -> list[Alert]:
    if result is None:
        return []
    if isinstance(result, Alert):
        items = [result]
    elif isinstance(result, (list, tuple)):
        items = list(result)
    else:
        raise TypeError(f"rule returned {type(result).__name__}; a rule returns Alert, a list of them, or None")
    for a in items:
        if not isinstance(a, Alert):
            raise TypeError(f"rule returned a list holding {type(a).__name__}, not Alert")
        if not a.event_ids:
            raise ValueError("an alert names no events")
    return items
