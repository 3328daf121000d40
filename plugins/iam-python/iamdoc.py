"""IAM policy documents as the iam-python rules read them.

Collects every permission document of an asset (managed policy version,
inline policies, well-known AWS managed policies by ARN), tolerating both
normalized and raw shapes (Statement/Action as object or list), and answers
"is action X allowed on every resource?" with IAM's wildcard and Deny rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stance_sdk import Asset, as_list

# AWS managed policies whose documents the collector does not fetch but whose
# grants are fixed and well known: `*` on `*`, and `iam:*` on `*`.
KNOWN_MANAGED = {
    "AdministratorAccess": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}],
    "IAMFullAccess": [{"Effect": "Allow", "Action": ["iam:*"], "Resource": ["*"]}],
}

# Condition keys that tie a grant of an IAM write to specific policies, a
# permissions boundary or tagged resources: such a grant is not a free escalation.
ESCALATION_GUARDS = ("iam:permissionsboundary", "iam:policyarn", "aws:resourcetag/", "iam:resourcetag/")


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob),
        re.IGNORECASE | re.DOTALL,
    )


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, `*` any run, `?` one character."""
    return _pattern(pattern).fullmatch(action) is not None


def is_service_wildcard(action: str) -> bool:
    """`*`, `*:*` or a whole service (`iam:*`, `S3:*`)."""
    return action.strip() in ("*", "*:*") or re.fullmatch(r"[A-Za-z0-9-]+:\*", action.strip()) is not None


def broad_resource(resource: str) -> bool:
    """`*`, or an ARN whose resource part is a bare wildcard: `arn:aws:s3:::*`,
    or a whole type (`arn:aws:iam::1:role/*`); `arn:aws:s3:::bucket/*` is one bucket."""
    r = resource.strip()
    if r == "*":
        return True
    parts = r.split(":", 5)
    if len(parts) < 6 or parts[0].lower() != "arn":
        return False
    service, tail = parts[2].lower(), parts[5]
    if re.fullmatch(r"[*/]+", tail):
        return True
    return service != "s3" and re.fullmatch(r"[A-Za-z0-9-]+[/:]\*", tail) is not None


@dataclass
class Statement:
    """One statement with the path it came from, for evidence."""

    base: str  # e.g. resource.document.Statement[0]
    raw: dict[str, Any]
    source: str  # what document it belongs to, for messages
    managed_arn_path: str | None = None  # set for KNOWN_MANAGED statements
    managed_arn: str | None = None

    @property
    def allow(self) -> bool:
        return str(self.raw.get("Effect", "")).lower() == "allow"

    @property
    def deny(self) -> bool:
        return str(self.raw.get("Effect", "")).lower() == "deny"

    def strings(self, key: str) -> list[str]:
        values = as_list(self.raw.get(key))
        for v in values:
            if not isinstance(v, str):
                raise ValueError(f"{self.base}.{key} holds {type(v).__name__} {v!r}, not a string")
        return values

    def path(self, key: str) -> str:
        """Evidence path of a field; for a known managed policy, the attachment's ARN."""
        return self.managed_arn_path or f"{self.base}.{key}"

    def actual(self, key: str) -> Any:
        return self.raw.get(key) if self.managed_arn is None else self.managed_arn

    @property
    def condition(self) -> dict[str, Any]:
        c = self.raw.get("Condition")
        return c if isinstance(c, dict) else {}

    def condition_keys(self) -> set[str]:
        """Every condition key, lower-cased (condition keys are case-insensitive)."""
        keys: set[str] = set()
        for block in self.condition.values():
            if isinstance(block, dict):
                keys.update(k.lower() for k in block)
        return keys

    def condition_values(self, key: str) -> list[Any]:
        """Every value a condition key is compared against, under any operator."""
        out: list[Any] = []
        for block in self.condition.values():
            if isinstance(block, dict):
                for k, v in block.items():
                    if k.lower() == key.lower():
                        out.extend(as_list(v))
        return out

    def grants(self, action: str) -> bool:
        """Whether the statement's action list covers `action` (Action or NotAction)."""
        if "NotAction" in self.raw:
            return not any(action_matches(p, action) for p in self.strings("NotAction"))
        return any(action_matches(p, action) for p in self.strings("Action"))

    def on_every_resource(self) -> bool:
        """Resource holds `*` (or a type-wide ARN wildcard), or NotResource is used."""
        if "NotResource" in self.raw:
            return True
        return any(broad_resource(r) for r in self.strings("Resource"))

    def denies_everywhere(self) -> bool:
        """Resource is exactly `*` (a Deny with NotResource spares some resources)."""
        return "NotResource" not in self.raw and any(r.strip() == "*" for r in self.strings("Resource"))

    def guarded_against_escalation(self) -> bool:
        return any(k.startswith(g) for k in self.condition_keys() for g in ESCALATION_GUARDS)


@dataclass
class Permissions:
    """Every permission statement of one asset, and whether it is attached."""

    statements: list[Statement]
    attached: bool

    @property
    def allows(self) -> list[Statement]:
        return [s for s in self.statements if s.allow]

    def denied(self, action: str) -> bool:
        """An unconditional Deny on every resource covers `action`."""
        return any(
            s.deny and not s.condition and s.denies_everywhere() and s.grants(action)
            for s in self.statements
        )

    def allowed_everywhere(self, action: str, escalation: bool = False) -> list[Statement]:
        """Allow statements granting `action` on every resource, unless a Deny removes it."""
        if self.denied(action):
            return []
        return [
            s
            for s in self.allows
            if s.grants(action)
            and s.on_every_resource()
            and not (escalation and s.guarded_against_escalation())
        ]

    def allowed_somewhere(self, action: str) -> list[Statement]:
        """Allow statements granting `action` on some resource, unless a Deny removes it."""
        if self.denied(action):
            return []
        return [s for s in self.allows if s.grants(action)]


def statements_of(document: Any, base: str, source: str) -> list[Statement]:
    """The statements of a policy document (Statement as an object or a list)."""
    if not isinstance(document, dict):
        raise ValueError(f"{base} is {type(document).__name__}, not a policy document")
    raw = document.get("Statement")
    if raw is None:
        return []
    if isinstance(raw, dict):
        items = [(f"{base}.Statement", raw)]
    elif isinstance(raw, list):
        items = [(f"{base}.Statement[{i}]", s) for i, s in enumerate(raw)]
    else:
        raise ValueError(f"{base}.Statement is {type(raw).__name__}, not an object or a list")
    out = []
    for path, s in items:
        if not isinstance(s, dict):
            raise ValueError(f"{path} is {type(s).__name__}, not an object")
        out.append(Statement(path, s, source))
    return out


def permissions(asset: Asset) -> Permissions:
    """The permission statements of an IAM policy, role or user.

    Raises ValueError when the document the type must carry is missing, so
    the rule reports `error` instead of passing on data it never saw.
    """
    body = asset.body
    statements: list[Statement] = []
    if asset.resource_type == "aws_iam_policy":
        if "document" not in body or body["document"] is None:
            raise ValueError("the policy's default version document was not collected")
        statements += statements_of(body["document"], "resource.document", "the policy document")
        count = body.get("attachment_count")
        return Permissions(statements, attached=not isinstance(count, int) or count > 0)
    inline = body.get("inline_policies")
    if not isinstance(inline, list):
        raise ValueError("inline_policies was not collected")
    for i, p in enumerate(inline):
        name = p.get("policy_name", f"#{i}") if isinstance(p, dict) else f"#{i}"
        doc = p.get("document") if isinstance(p, dict) else None
        statements += statements_of(doc, f"resource.inline_policies[{i}].document", f"inline policy {name}")
    for i, p in enumerate(as_list(body.get("attached_policies"))):
        arn = p.get("policy_arn", "") if isinstance(p, dict) else ""
        for name, stmts in KNOWN_MANAGED.items():
            if re.fullmatch(rf"arn:aws[a-z-]*:iam::aws:policy/{name}", arn or ""):
                for n, s in enumerate(stmts):
                    statements.append(
                        Statement(
                            f"{name}.Statement[{n}]",
                            s,
                            f"AWS managed policy {name}",
                            managed_arn_path=f"resource.attached_policies[{i}].policy_arn",
                            managed_arn=arn,
                        )
                    )
    return Permissions(statements, attached=True)


def trust_statements(asset: Asset) -> list[Statement]:
    """The statements of a role's trust policy; ValueError when it was not collected."""
    doc = asset.body.get("assume_role_policy")
    if doc is None:
        raise ValueError("the role's trust policy (assume_role_policy) was not collected")
    return statements_of(doc, "resource.assume_role_policy", "the trust policy")


def principals(statement: Statement, kind: str) -> list[str]:
    """Principal values of one kind (AWS, Service, Federated); `*` for Principal: "*"."""
    p = statement.raw.get("Principal")
    if p == "*":
        return ["*"] if kind == "AWS" else []
    if isinstance(p, dict):
        for k, v in p.items():
            if k.lower() == kind.lower():
                return [x for x in as_list(v) if isinstance(x, str)]
    return []


_ACCOUNT_ARN = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):", re.IGNORECASE)


def principal_account(principal: str) -> str | None:
    """The account of an AWS principal (`123456789012`, an IAM/STS ARN), else None.

    None also for unique ids (AROA..., AIDA...) that IAM leaves behind when a
    trusted principal is deleted: nobody can assume a role through them.
    """
    p = principal.strip()
    if re.fullmatch(r"\d{12}", p):
        return p
    m = _ACCOUNT_ARN.match(p)
    return m.group(1) if m else None
