"""{{name}}: a Stance detector plugin (console sign-ins without MFA, from CloudTrail).

Each rule is a function of one event returning an Alert or None; `stance plugin
build` compiles this module with componentize-py into dist/{{name}}.wasm.
"""

from stance_sdk import Alert, Detector, Event, Severity

detector = Detector("{{name}}", "0.1.0", description="CloudTrail detection: console sign-ins without MFA")


@detector.rule(
    "{{name}}-console-login-without-mfa",
    title="Console sign-in without MFA",
    severity=Severity.MEDIUM,
    sources=["aws_cloudtrail"],
    description="An IAM user signed in to the AWS console with a password alone.",
    remediation="Require MFA for the user (an IAM policy denying actions without "
    "aws:MultiFactorAuthPresent), and check the sign-in with its owner.",
    tags=["cloudtrail", "authentication"],
)
def console_login_without_mfa(event: Event) -> Alert | None:
    if event.field_str("eventName") != "ConsoleLogin":
        return None
    if event.field_str("responseElements.ConsoleLogin") != "Success":
        return None
    if event.field_str("userIdentity.type") != "IAMUser":
        return None  # root and federated sign-ins are other rules' business
    mfa = event.field_str("additionalEventData.MFAUsed")
    if mfa != "No":
        return None
    user = event.field_str("userIdentity.userName") or event.field_str("userIdentity.arn") or "unknown"
    source_ip = event.field_str("sourceIPAddress")
    return (
        Alert.on(event, f"{user} signed in to the console without MFA")
        .with_message(f"Console sign-in of {user} from {source_ip} in account {event.account} used no MFA.")
        .with_group_key(user)
        .with_evidence("additionalEventData.MFAUsed", mfa, "== 'Yes'")
    )


DetectorPlugin = detector.export()
