"""iam-python: IAM policy-document analysis as a Stance plugin, in Python.

Reads managed policy documents (aws_iam_policy), role trust and inline
policies (aws_iam_role) and user inline policies (aws_iam_user): wildcard
grants, NotAction, sensitive actions on every resource, privilege-escalation
permission sets, and risky role trust (other accounts, anyone, broad OIDC).
"""

from __future__ import annotations

import re

from iamdoc import (
    Permissions,
    Statement,
    is_service_wildcard,
    permissions,
    principal_account,
    principals,
    trust_statements,
)
from stance_sdk import Asset, Finding, Policy, Settings, Severity

PERMISSION_TYPES = ["aws_iam_policy", "aws_iam_role", "aws_iam_user"]
REFERENCES = [
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
]

policy = Policy(
    "iam-python",
    "0.1.0",
    description="IAM policy-document analysis: wildcards, NotAction, privilege escalation, role trust",
)
policy.setting(
    "trusted_accounts",
    "array",
    description="12-digit account ids a role may trust without an sts:ExternalId condition",
    default=[],
)
policy.setting(
    "sensitive_actions",
    "array",
    description="extra action names (service:Action, no wildcards) that must not be allowed on '*'",
    default=[],
)


@policy.check_settings
def _check_settings(settings: Settings) -> None:
    for account in settings.get_str_list("trusted_accounts") or []:
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"trusted_accounts: {account!r} is not a 12-digit AWS account id")
    for action in settings.get_str_list("sensitive_actions") or []:
        if not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9]+", action):
            raise ValueError(f"sensitive_actions: {action!r} is not a service:Action name without wildcards")


def _unattached(perms: Permissions, finding: Finding) -> Finding:
    """A failing managed policy that nothing uses yet: keep the verdict, lower the severity."""
    if not perms.attached:
        finding.message += " (the policy is not attached to anything yet)"
        finding.with_severity(Severity.LOW)
    return finding


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- wildcard actions ----------------------------------------------------------------------


@policy.rule(
    "iam-py-wildcard-actions",
    title="IAM policies do not allow '*' or whole services ('service:*')",
    severity=Severity.HIGH,
    resource_types=PERMISSION_TYPES,
    description="An Allow statement with Action '*' or 'service:*' grants every present and future "
    "action of the service; '*' on every resource is full administrator access (critical). "
    "AdministratorAccess and IAMFullAccess attachments count as such grants. Deny statements are not judged.",
    remediation="Replace the wildcard with the actions the workload calls (IAM Access Analyzer can "
    "generate a policy from CloudTrail activity).",
    compliance=[("cis-aws", "3.0", "1.16"), ("nist-800-53", "rev5", "AC-6")],
    tags=["iam", "least-privilege"],
    reads=["document", "inline_policies", "attached_policies"],
)
def wildcard_actions(asset: Asset) -> Finding:
    perms = permissions(asset)
    hits: list[tuple[Statement, list[str]]] = []
    for s in perms.allows:
        wild = [a for a in s.strings("Action") if is_service_wildcard(a)]
        if wild:
            hits.append((s, wild))
    if not hits:
        return Finding.pass_()
    admin = [s for s, wild in hits if any(a.strip() in ("*", "*:*") for a in wild) and s.on_every_resource()]
    granted = sorted({a for _, wild in hits for a in wild})
    where = sorted({s.source for s, _ in hits})
    if admin:
        message = f"{asset.name} allows every action on every resource in {', '.join(where)}"
    else:
        message = f"{asset.name} allows whole services ({_listing(granted)}) in {', '.join(where)}"
    finding = Finding.fail(message)
    for s, _ in hits:
        finding.with_evidence(s.path("Action"), s.actual("Action"), "no '*' or 'service:*' in an Allow statement")
    if admin:
        finding.with_severity(Severity.CRITICAL)
    return _unattached(perms, finding)


# --- sensitive actions on every resource ------------------------------------------------------

SENSITIVE_ACTIONS = [
    # secrets and keys
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    # data and its protections
    "s3:GetObject",
    "s3:DeleteObject",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPublicAccessBlock",
    "dynamodb:Scan",
    "dynamodb:DeleteTable",
    "rds:DeleteDBInstance",
    "rds:ModifyDBInstance",
    "ec2:TerminateInstances",
    "ec2:ModifySnapshotAttribute",
    # roles and identities
    "iam:PassRole",
    "sts:AssumeRole",
    # audit and detection
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "guardduty:DeleteDetector",
    "config:StopConfigurationRecorder",
    "logs:DeleteLogGroup",
]


@policy.rule(
    "iam-py-sensitive-actions-all-resources",
    title="IAM policies do not allow sensitive actions on every resource",
    severity=Severity.HIGH,
    resource_types=PERMISSION_TYPES,
    description="Reading secrets, decrypting, deleting data, passing roles or stopping audit logs on "
    "Resource '*' reaches every such resource in the account, present and future. A statement with a "
    "Condition is reported at medium severity; an unconditional Deny on '*' removes an action.",
    remediation="List the ARNs the workload needs in Resource, or add a Condition "
    "(aws:ResourceTag, kms:ViaService) that scopes the grant.",
    compliance=[("nist-800-53", "rev5", "AC-6"), ("pci-dss", "4.0", "7.2.2")],
    tags=["iam", "least-privilege"],
    reads=["document", "inline_policies", "attached_policies"],
)
def sensitive_actions(asset: Asset) -> Finding:
    perms = permissions(asset)
    extra = policy.settings.get_str_list("sensitive_actions") or []
    actions = SENSITIVE_ACTIONS + [a for a in extra if a.lower() not in {x.lower() for x in SENSITIVE_ACTIONS}]
    hits: list[tuple[Statement, list[str]]] = []
    for s in perms.allows:
        if not s.on_every_resource():
            continue
        granted = [a for a in actions if s.grants(a) and not perms.denied(a)]
        if granted:
            hits.append((s, granted))
    if not hits:
        return Finding.pass_()
    granted_all = [a for a in actions if any(a in g for _, g in hits)]
    finding = Finding.fail(f"{asset.name} allows {_listing(granted_all)} on every resource")
    for s, granted in hits:
        expected = f"no sensitive action on '*' (found {_listing(granted, 4)})"
        if s.managed_arn_path:
            finding.with_evidence(s.path("Action"), s.actual("Action"), expected)
            continue
        key = "NotResource" if "NotResource" in s.raw else "Resource"
        finding.with_evidence(s.path(key), s.actual(key), "specific resource ARNs")
        key = "NotAction" if "NotAction" in s.raw else "Action"
        finding.with_evidence(s.path(key), s.actual(key), expected)
    if all(s.condition for s, _ in hits):
        finding.with_severity(Severity.MEDIUM)
        finding.message += " (under conditions)"
    return _unattached(perms, finding)


# --- Allow with NotAction ----------------------------------------------------------------------


@policy.rule(
    "iam-py-allow-not-action",
    title="IAM policies do not combine Allow with NotAction",
    severity=Severity.MEDIUM,
    resource_types=PERMISSION_TYPES,
    description="Allow with NotAction grants everything except the listed actions, including every "
    "action AWS adds later; on Resource '*' it is close to administrator access (high). "
    "Deny with NotAction is a common guard and passes.",
    remediation="Rewrite the statement as an Allow of the actions needed; keep NotAction for Deny statements.",
    compliance=[("nist-800-53", "rev5", "AC-6")],
    tags=["iam", "least-privilege"],
    reads=["document", "inline_policies"],
)
def allow_not_action(asset: Asset) -> Finding:
    perms = permissions(asset)
    hits = [s for s in perms.allows if "NotAction" in s.raw]
    if not hits:
        return Finding.pass_()
    finding = Finding.fail(
        f"{asset.name} allows everything except a list of actions in {', '.join(sorted({s.source for s in hits}))}"
    )
    for s in hits:
        finding.with_evidence(s.path("NotAction"), s.actual("NotAction"), "Allow statements list Action, not NotAction")
    if any(s.on_every_resource() and not s.condition for s in hits):
        finding.with_severity(Severity.HIGH)
    return _unattached(perms, finding)


# --- privilege escalation ------------------------------------------------------------------------

# (name, actions needed on every resource, actions needed on some resource)
ESCALATIONS: list[tuple[str, list[str], list[str]]] = [
    *[
        (a, [a], [])
        for a in [
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:AttachUserPolicy",
            "iam:AttachGroupPolicy",
            "iam:AttachRolePolicy",
            "iam:PutUserPolicy",
            "iam:PutGroupPolicy",
            "iam:PutRolePolicy",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
            "iam:UpdateAssumeRolePolicy",
            "iam:AddUserToGroup",
            "iam:PutUserPermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteUserPermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            "lambda:UpdateFunctionCode",
        ]
    ],
    ("iam:PassRole + lambda:CreateFunction", ["iam:PassRole"], ["lambda:CreateFunction"]),
    ("iam:PassRole + ec2:RunInstances", ["iam:PassRole"], ["ec2:RunInstances"]),
    ("iam:PassRole + cloudformation:CreateStack", ["iam:PassRole"], ["cloudformation:CreateStack"]),
    ("iam:PassRole + glue:CreateDevEndpoint", ["iam:PassRole"], ["glue:CreateDevEndpoint"]),
]


@policy.rule(
    "iam-py-privilege-escalation",
    title="IAM policies do not allow privilege escalation",
    severity=Severity.HIGH,
    resource_types=PERMISSION_TYPES,
    description="Permission sets that let the holder grant itself more: new policy versions, "
    "attaching or writing policies, access keys or passwords for other users, rewriting trust, "
    "replacing or removing permissions boundaries, changing any function's code, "
    "or passing any role to a new Lambda function or EC2 instance. The IAM write must apply to every "
    "resource ('*' or a type-wide ARN); conditions on iam:PermissionsBoundary, iam:PolicyARN or "
    "resource tags, and unconditional Deny statements, remove a path.",
    remediation="Scope IAM writes to named resources, require a permissions boundary with the "
    "iam:PermissionsBoundary condition, and limit iam:PassRole to the roles the workload launches.",
    compliance=[("nist-800-53", "rev5", "AC-6(10)"), ("soc2", "2017", "CC6.3")],
    tags=["iam", "privilege-escalation"],
    reads=["document", "inline_policies", "attached_policies"],
)
def privilege_escalation(asset: Asset) -> Finding:
    perms = permissions(asset)
    found: list[str] = []
    evidence: dict[str, tuple[Statement, list[str]]] = {}
    for name, everywhere, somewhere in ESCALATIONS:
        grants = [(a, perms.allowed_everywhere(a, escalation=True)) for a in everywhere]
        grants += [(a, perms.allowed_somewhere(a)) for a in somewhere]
        if not all(stmts for _, stmts in grants):
            continue
        found.append(name)
        for action, stmts in grants:
            s = stmts[0]
            evidence.setdefault(s.path("Action"), (s, []))[1].append(action)
    if not found:
        return Finding.pass_()
    finding = Finding.fail(f"{asset.name} can escalate its privileges through {_listing(found, 4)}")
    for path, (s, actions) in evidence.items():
        key = "NotAction" if "NotAction" in s.raw else "Action"
        finding.with_evidence(
            s.path(key), s.actual(key), f"does not grant {_listing(sorted(set(actions)), 4)} unscoped"
        )
    return _unattached(perms, finding)


# --- role trust -----------------------------------------------------------------------------------

ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")
CROSS_ACCOUNT_GUARDS = {"sts:externalid", "aws:principalorgid", "aws:principalorgpaths"}
PRINCIPAL_GUARDS = {
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
}


def _trust_allows(asset: Asset) -> list[Statement]:
    return [s for s in trust_statements(asset) if s.allow and any(s.grants(a) for a in ASSUME_ACTIONS)]


def _own_account(asset: Asset) -> str:
    return asset.account or (principal_account(asset.id) or "")


@policy.rule(
    "iam-py-role-cross-account-trust",
    title="Roles trusted by other accounts require sts:ExternalId",
    severity=Severity.HIGH,
    resource_types=["aws_iam_role"],
    description="A role that another account may assume without an sts:ExternalId condition is open "
    "to the confused-deputy problem: anyone the other account lets through can assume it. "
    "aws:PrincipalOrgID or aws:PrincipalOrgPaths conditions, and accounts in the trusted_accounts "
    "setting, are accepted. Principal '*' is iam-py-role-public-trust's business.",
    remediation="Add a Condition {\"StringEquals\": {\"sts:ExternalId\": \"<id agreed with the partner>\"}} "
    "to the trust statement, or list the account in trusted_accounts if it is your own.",
    compliance=[("nist-800-53", "rev5", "AC-3")],
    tags=["iam", "trust", "cross-account"],
    reads=["assume_role_policy"],
)
def cross_account_trust(asset: Asset) -> Finding:
    own = _own_account(asset)
    trusted = set(policy.settings.get_str_list("trusted_accounts") or [])
    bad: list[tuple[Statement, list[str]]] = []
    for s in _trust_allows(asset):
        if CROSS_ACCOUNT_GUARDS & s.condition_keys():
            continue
        foreign = []
        for p in principals(s, "AWS"):
            account = principal_account(p)
            if p.strip() != "*" and account is not None and account != own and account not in trusted:
                foreign.append(account)
        if foreign:
            bad.append((s, foreign))
    if not bad:
        return Finding.pass_()
    accounts = sorted({a for _, accts in bad for a in accts})
    finding = Finding.fail(f"{asset.name} can be assumed from account(s) {', '.join(accounts)} without sts:ExternalId")
    for s, _ in bad:
        finding.with_evidence(s.path("Principal"), s.actual("Principal"), f"accounts {own} or trusted_accounts")
        finding.with_evidence(
            s.path("Condition"), s.raw.get("Condition"), "has an sts:ExternalId (or aws:PrincipalOrgID) condition"
        )
    return finding


@policy.rule(
    "iam-py-role-public-trust",
    title="Roles are not assumable by any AWS principal",
    severity=Severity.CRITICAL,
    resource_types=["aws_iam_role"],
    description="A trust statement allowing Principal '*' (or {\"AWS\": \"*\"}, or Allow with NotPrincipal) "
    "lets any AWS account assume the role unless a condition pins the caller's account, organization or "
    "ARN (aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn, ...). sts:ExternalId alone is not "
    "such a pin: it is not a secret.",
    remediation="Name the trusted accounts or roles in Principal, or add an aws:PrincipalOrgID condition.",
    compliance=[("nist-800-53", "rev5", "AC-3"), ("cis-aws", "3.0", "1.20")],
    tags=["iam", "trust", "public"],
    reads=["assume_role_policy"],
)
def public_trust(asset: Asset) -> Finding:
    bad: list[Statement] = []
    for s in _trust_allows(asset):
        public = "*" in [p.strip() for p in principals(s, "AWS")] or "NotPrincipal" in s.raw
        if not public:
            continue
        pinned = any(
            any(isinstance(v, str) and v.strip() not in ("", "*") for v in s.condition_values(k))
            for k in PRINCIPAL_GUARDS & s.condition_keys()
        )
        if not pinned:
            bad.append(s)
    if not bad:
        return Finding.pass_()
    finding = Finding.fail(f"{asset.name} can be assumed by any AWS principal")
    for s in bad:
        key = "NotPrincipal" if "NotPrincipal" in s.raw else "Principal"
        finding.with_evidence(s.path(key), s.actual(key), "named accounts or roles, or '*' pinned by aws:PrincipalOrgID")
        finding.with_evidence(s.path("Condition"), s.raw.get("Condition"), "pins the caller's account, organization or ARN")
    return finding


@policy.rule(
    "iam-py-role-oidc-trust-unscoped",
    title="Roles trusted by an OIDC provider pin the subject",
    severity=Severity.HIGH,
    resource_types=["aws_iam_role"],
    description="A web-identity trust (GitHub Actions, EKS service accounts, Google) without a condition "
    "on the provider's `sub` claim lets every identity of the provider assume the role: for GitHub, "
    "every repository of every owner. A `sub` of '*' or 'repo:*' pins nothing. Cognito pins `aud`.",
    remediation="Add a StringEquals/StringLike condition on <provider>:sub naming the repository and "
    "branch (repo:org/repo:ref:refs/heads/main) or the service account.",
    compliance=[("nist-800-53", "rev5", "IA-8")],
    tags=["iam", "trust", "oidc"],
    reads=["assume_role_policy"],
)
def oidc_trust(asset: Asset) -> Finding:
    bad: list[tuple[Statement, str]] = []
    for s in _trust_allows(asset):
        if not s.grants("sts:AssumeRoleWithWebIdentity"):
            continue
        for p in principals(s, "Federated"):
            if "saml-provider/" in p:
                continue
            host = p.split("oidc-provider/", 1)[1] if "oidc-provider/" in p else p
            key = f"{host}:aud" if host == "cognito-identity.amazonaws.com" else f"{host}:sub"
            values = [v for v in s.condition_values(key) if isinstance(v, str)]
            if not values or all(v.strip() in ("*", "repo:*") or v.strip().startswith("repo:*") for v in values):
                bad.append((s, key))
    if not bad:
        return Finding.pass_()
    finding = Finding.fail(
        f"{asset.name} trusts web identities without pinning {', '.join(sorted({k for _, k in bad}))}"
    )
    for s, key in bad:
        finding.with_evidence(s.path("Condition"), s.raw.get("Condition"), f"a condition on {key} naming the allowed subjects")
    return finding


PolicyPlugin = policy.export()
