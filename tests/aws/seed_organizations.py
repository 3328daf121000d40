"""Seed AWS Organizations for Stance's AWS tests (a step of seed.py's sequence: `step(s)`).

Account 123456789012 creates an organization with all features and so becomes its management account;
111111111111 stays in no organization (DescribeOrganization answers AWSOrganizationsNotInUseException).
moto cannot make 111111111111 a member: only accounts it creates itself (random ids, never scanned)
join, so the member-account path (ListRoots denied) is covered by the collector's unit tests, not here.

    organization (A)   SCPs enabled on the root; `deny-other-regions` (Deny unless aws:RequestedRegion is
                       us-east-1 or eu-west-1) attached to the OU `workloads`; the AWS managed FullAWSAccess
                       on the root, the OU and every account (moto attaches it, as AWS does)
                       tag policies enabled; `cost-center` attached to the root
                       AI services opt-out policies enabled; `opt-out-all` (default optOut) attached to the
                       OU only, so the organization as a whole has not opted out
                       one created member account, registered as GuardDuty's delegated administrator
    A                  the management account
    B                  in no organization
"""

from __future__ import annotations

import json

import seed_common  # the estate's constants, policy tables and helpers

# The policies this module seeds, by resource type (registered into seed.py's POLICIES/TYPES).
POLICIES: dict[str, str] = {
    "aws-organizations-account-in-organization": "aws_organizations_account",
    "aws-organizations-all-features-enabled": "aws_organizations_organization",
    "aws-organizations-scp-restricts-regions": "aws_organizations_organization",
    "aws-organizations-tag-policy-attached": "aws_organizations_organization",
    "aws-organizations-ai-services-opt-out": "aws_organizations_organization",
    "aws-organizations-delegated-administrators-active": "aws_organizations_organization",
}
DELEGATED_SERVICE = "guardduty.amazonaws.com"
ONE_ORGANIZATION = (
    "the scanned estate holds one organization (account 123456789012 manages it; 111111111111 is in none, and "
    "moto lets only the accounts it creates itself, with random ids that are never scanned, join one), so "
    "each organization policy gets one verdict; policies/aws/tests covers the other side"
)
# The sides the one seeded organization cannot show.
UNSUPPORTED = [
    ("aws-organizations-all-features-enabled", "fail"),
    ("aws-organizations-scp-restricts-regions", "fail"),
    ("aws-organizations-tag-policy-attached", "fail"),
    ("aws-organizations-ai-services-opt-out", "pass"),
    ("aws-organizations-delegated-administrators-active", "fail"),
]


def seed(s) -> None:
    seed_common.register(POLICIES)
    m = seed_common
    A, B = m.ACCOUNT_A, m.ACCOUNT_B
    org_b = s.c("organizations", account=B)
    try:
        org_b.describe_organization()
        raise m.SeedError(f"account {B} is already in an organization")
    except org_b.exceptions.AWSOrganizationsNotInUseException:
        pass
    s.res("aws_organizations_account", f"arn:aws:organizations::{B}:account", B, "global", B,
          fail=["aws-organizations-account-in-organization"], note="in no organization",
          in_organization=False)

    org = s.c("organizations")
    o = org.create_organization(FeatureSet="ALL")["Organization"]
    m.check(o["MasterAccountId"] == A, "the creating account is the management account")
    root = org.list_roots()["Roots"][0]["Id"]
    for kind in ("SERVICE_CONTROL_POLICY", "TAG_POLICY", "AISERVICES_OPT_OUT_POLICY"):
        org.enable_policy_type(RootId=root, PolicyType=kind)
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    attach_policies(org, root, ou)
    member = org.create_account(Email="security@example.com", AccountName="security")
    admin = member["CreateAccountStatus"]["AccountId"]
    org.register_delegated_administrator(AccountId=admin, ServicePrincipal=DELEGATED_SERVICE)

    s.res("aws_organizations_account", f"arn:aws:organizations::{A}:account", A, "global", A,
          note="the management account of the seeded organization", in_organization=True,
          is_management_account=True, organization_id=o["Id"])
    s.res("aws_organizations_organization", o["Arn"], A, "global", o["Id"],
          fail=["aws-organizations-ai-services-opt-out"],
          note="all features; region-restricting SCP on an OU; tag policy on the root; AI opt-out policy on an "
               "OU only; one active delegated administrator (GuardDuty)",
          organization_id=o["Id"], delegated_administrator=admin, delegated_services=[DELEGATED_SERVICE],
          enabled_policy_types=["AISERVICES_OPT_OUT_POLICY", "SERVICE_CONTROL_POLICY", "TAG_POLICY"])
    s.ids["organizations:organization"] = o["Id"]
    for policy, missing in UNSUPPORTED:
        s.unsupported.append({"policy": policy, "missing": missing, "reason": ONE_ORGANIZATION})


def attach_policies(org, root: str, ou: str) -> None:
    """The SCP on the OU, the tag policy on the root, the AI opt-out policy on the OU."""

    def create(kind: str, name: str, content: dict) -> str:
        p = org.create_policy(Type=kind, Name=name, Description=f"stance seed: {name}",
                              Content=json.dumps(content))
        return p["Policy"]["PolicySummary"]["Id"]

    deny = create("SERVICE_CONTROL_POLICY", "deny-other-regions", {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "DenyOtherRegions", "Effect": "Deny",
                       "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*"], "Resource": "*",
                       "Condition": {"StringNotEquals": {"aws:RequestedRegion": [seed_common.REGION,
                                                                                 seed_common.REGION2]}}}],
    })
    org.attach_policy(PolicyId=deny, TargetId=ou)
    tags = create("TAG_POLICY", "cost-center", {
        "tags": {"costcenter": {"tag_key": {"@@assign": "CostCenter"}, "tag_value": {"@@assign": ["100", "200"]}}},
    })
    org.attach_policy(PolicyId=tags, TargetId=root)
    opt_out = create("AISERVICES_OPT_OUT_POLICY", "opt-out-all", {
        "services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}},
    })
    org.attach_policy(PolicyId=opt_out, TargetId=ou)


def step(s):
    """seed(s) as a step of seed.py's sequence (named for its progress log)."""

    def seed_organizations() -> None:
        seed(s)

    return seed_organizations
