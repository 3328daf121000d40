"""The policy world: assets in, findings out.

Declare rules with `@policy.rule(...)` on functions `(asset) -> Finding | None`;
`policy.export()` makes the class componentize-py exports as `PolicyPlugin`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .info import Compliance, Remediation
from .model import Asset, Finding, PluginError, Severity
from .plugin import PluginBase, describe_exception

RuleFn = Callable[[Asset], Optional[Finding]]
"""A policy rule: judge one asset, or return None when the asset is not its business."""


class Policy(PluginBase[RuleFn]):
    """A policy plugin: a name, a version, settings and rules over assets.

    ```python
    policy = Policy("acme-buckets", "0.1.0")

    @policy.rule("acme-s3-versioned", title="Buckets keep versions",
                 severity=Severity.MEDIUM, resource_types=["aws_s3_bucket"])
    def versioned(asset: Asset) -> Finding:
        status = asset.field_str("versioning.status")
        if status == "Enabled":
            return Finding.pass_()
        return Finding.fail(f"{asset.name} keeps no versions").with_evidence(
            "resource.versioning.status", status, "== 'Enabled'")

    PolicyPlugin = policy.export()
    ```
    """

    def rule(
        self,
        id: str,
        *,
        title: str,
        severity: Severity,
        resource_types: Sequence[str],
        description: str = "",
        remediation: str | Remediation | None = None,
        compliance: Sequence[Compliance | tuple[str, str, str]] = (),
        tags: Sequence[str] = (),
        reads: Sequence[str] = (),
    ) -> Callable[[RuleFn], RuleFn]:
        """Decorator declaring a rule; the function judges one asset at a time.

        The SDK calls it for every asset whose type matches `resource_types`
        and fills in the rule and asset ids of the Finding it returns. An
        exception raised inside it becomes an `error` finding of this rule on
        this asset; raise `PluginError` to fail the whole batch instead.
        """
        return self._declare(
            id, title, severity, resource_types, description, remediation, compliance, tags, reads
        )

    def evaluate(self, assets: Sequence[Asset]) -> list[Finding]:
        """Run every matching rule on every asset: at most one finding per (rule, asset)."""
        self._begin_batch()
        findings: list[Finding] = []
        for asset in assets:
            for registered in self.rules:
                if not registered.spec.matches(asset.resource_type):
                    continue
                finding = run_rule(registered.spec.id, registered.fn, asset)
                if finding is not None:
                    findings.append(finding)
        return findings

    def export(self) -> type:
        """The class componentize-py exports: assign it to `PolicyPlugin` in the entry module."""
        from ._wit import policy_class

        return policy_class(self)


def run_rule(rule_id: str, fn: RuleFn, asset: Asset) -> Finding | None:
    """One rule on one asset, with any exception but PluginError turned into an error finding."""
    try:
        result: Any = fn(asset)
    except PluginError as e:
        if e.rule_id is None:
            e.rule_id = rule_id
        raise
    except Exception as e:
        result = Finding.error(f"rule raised {describe_exception(e)}")
    if result is None:
        return None
    if not isinstance(result, Finding):
        result = Finding.error(
            f"rule returned {type(result).__name__}; a rule returns a Finding or None"
        )
    result.rule_id = rule_id
    result.asset_id = asset.id
    return result
