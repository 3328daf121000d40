"""Imported findings for seed.py: AWS Config started in account A, Security Hub findings posted with
BatchImportFindings and Inspector2 vulnerabilities through moto's static-results endpoint.
`seed(s)` takes seed.py's Seeder."""

from __future__ import annotations

import time

from seed_common import *  # noqa: F401,F403 (the estate's constants and helpers)


def seed(s) -> None:
    recorders = []
    for region in (REGION, REGION2):
        cfg = s.c("config", region)
        cfg.put_configuration_recorder(ConfigurationRecorder={
            "name": "default", "roleARN": s.ids["role:stance-config"],
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == REGION}})
        cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "stance-cloudtrail-logs",
                                                  "s3KeyPrefix": "config"})
        cfg.start_configuration_recorder(ConfigurationRecorderName="default")
        st = cfg.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]
        check(st["recording"], "config recorder recording")
        recorders.append({"region": region, "name": "default", "recording": True, "all_supported": True,
                          "include_global_resource_types": region == REGION})
    s.extra["config"] = {
        "recorders": recorders,
        "resource_types_moto_answers": ["AWS::S3::Bucket", "AWS::S3::AccountPublicAccessBlock", "AWS::IAM::Role",
                                        "AWS::IAM::Policy", "AWS::SNS::Topic"],
        "batch_get_breaks_for": [f"arn:aws:s3:::{r['name']}" for r in s.resources
                                 if r.get("facts", {}).get("config_batch_get_breaks")],
        "note": "moto answers Config queries from its service backends whether or not a recorder runs; "
                "BatchGetResourceConfig answers 500 for the whole batch when any bucket in it has an "
                "AllUsers/AuthenticatedUsers grant; timestamps in items are strings, not epoch numbers",
    }

    # Security Hub
    sh = s.c("securityhub")
    sh.enable_security_hub(EnableDefaultStandards=False)
    now = iso(time.time())
    fsbp = "standards/aws-foundational-security-best-practices/v/1.0.0"

    def finding(fid: str, control: str, status: str, rtype: str, rid: str, sev: str, title: str) -> dict:
        return {
            "SchemaVersion": "2018-10-08",
            "Id": f"arn:aws:securityhub:{REGION}:{ACCOUNT_A}:security-control/{control}/finding/{fid}",
            "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/securityhub",
            "ProductName": "Security Hub", "CompanyName": "AWS", "Region": REGION,
            "GeneratorId": f"security-control/{control}", "AwsAccountId": ACCOUNT_A,
            "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
            "FirstObservedAt": now, "LastObservedAt": now, "CreatedAt": now, "UpdatedAt": now,
            "Severity": {"Label": sev, "Normalized": {"CRITICAL": 90, "HIGH": 70, "MEDIUM": 40, "LOW": 1,
                                                      "INFORMATIONAL": 0}[sev], "Original": sev},
            "Title": title, "Description": title,
            "Remediation": {"Recommendation": {"Text": "See the control documentation",
                                               "Url": f"https://docs.aws.amazon.com/console/securityhub/{control}/remediation"}},
            "ProductFields": {"aws/securityhub/ProductName": "Security Hub", "aws/securityhub/CompanyName": "AWS",
                              "RelatedAWSResources:0/type": "AWS::Config::ConfigRule"},
            "Resources": [{"Type": rtype, "Id": rid, "Partition": "aws", "Region": REGION}],
            "Compliance": {"Status": status, "SecurityControlId": control,
                           "AssociatedStandards": [{"StandardsId": fsbp}]},
            "Workflow": {"Status": "NEW" if status == "FAILED" else "RESOLVED"},
            "WorkflowState": "NEW", "RecordState": "ACTIVE",
        }

    bucket_pub = f"arn:aws:s3:::{s.ids['bucket:public']}"
    findings = [
        finding("5f1e0c3a-0001-4c1e-9d51-stance000001", "S3.8", "FAILED", "AwsS3Bucket", bucket_pub, "HIGH",
                "S3 general purpose buckets should block public access"),
        finding("5f1e0c3a-0002-4c1e-9d51-stance000002", "S3.8", "PASSED", "AwsS3Bucket", "arn:aws:s3:::stance-data-prod",
                "INFORMATIONAL", "S3 general purpose buckets should block public access"),
        finding("5f1e0c3a-0003-4c1e-9d51-stance000003", "GuardDuty.1", "FAILED", "AwsAccount", f"AWS::::Account:{ACCOUNT_A}",
                "HIGH", "GuardDuty should be enabled"),
    ]
    r = sh.batch_import_findings(Findings=findings)
    check(r["SuccessCount"] == len(findings), f"BatchImportFindings {r}")
    s.extra["security_hub"] = {
        "region": REGION,
        "findings": [
            {"id": findings[0]["Id"], "control": "S3.8", "status": "FAILED", "resource": bucket_pub,
             "same_check_as": "aws-s3-bucket-public-access-block", "stance_result": "fail",
             "note": "duplicate of Stance's own failing result for the same bucket (de-duplication test)"},
            {"id": findings[1]["Id"], "control": "S3.8", "status": "PASSED", "resource": "arn:aws:s3:::stance-data-prod",
             "same_check_as": "aws-s3-bucket-public-access-block", "stance_result": "pass"},
            {"id": findings[2]["Id"], "control": "GuardDuty.1", "status": "FAILED",
             "resource": f"AWS::::Account:{ACCOUNT_A}", "same_check_as": None,
             "note": "no Stance policy covers it: must come through as an imported finding"},
        ],
        "note": "moto ignores GetFindings filters (every finding comes back whatever the filter) but pages "
                "with MaxResults/NextToken; GetFindings works even before EnableSecurityHub",
    }

    # Inspector2
    i2 = s.c("inspector2")
    i2.enable(accountIds=[ACCOUNT_A], resourceTypes=["EC2", "ECR", "LAMBDA"])
    inst = s.extra.pop("legacy_instance")
    iid = inst["InstanceId"]
    t_now = time.time()
    ec2_details = {"awsEc2Instance": {
        "type": inst["InstanceType"], "imageId": inst["ImageId"], "ipV4Addresses": [inst["PrivateIpAddress"],
                                                                                     inst["PublicIpAddress"]],
        "ipV6Addresses": [], "vpcId": inst["VpcId"], "subnetId": inst["SubnetId"],
        "launchedAt": inst["LaunchTime"].timestamp(), "platform": "AMAZON_LINUX_2023"}}

    def vuln(n: int, cve: str, score: float, vector: str, severity: str, pkg: str, version: str, release: str,
             fixed: str, manager: str, title: str, epoch: int = 0, exploit: str = "NO") -> dict:
        return {
            "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT_A}:finding/{n:032x}",
            "awsAccountId": ACCOUNT_A, "type": "PACKAGE_VULNERABILITY",
            "title": f"{cve} - {pkg}", "description": title, "severity": severity, "status": "ACTIVE",
            "firstObservedAt": t_now - 3 * 86400, "lastObservedAt": t_now - 3600, "updatedAt": t_now - 3600,
            "inspectorScore": score,
            "inspectorScoreDetails": {"adjustedCvss": {"score": score, "scoreSource": "NVD", "scoringVector": vector,
                                                       "version": "3.1", "adjustments": [], "cvssSource": "NVD"}},
            "fixAvailable": "YES", "exploitAvailable": exploit,
            "remediation": {"recommendation": {"text": f"Upgrade {pkg} to {fixed} or later."}},
            "resources": [{"type": "AWS_EC2_INSTANCE", "id": iid, "partition": "aws", "region": REGION,
                           "tags": {"Name": "stance-legacy-1"}, "details": ec2_details}],
            "packageVulnerabilityDetails": {
                "vulnerabilityId": cve, "source": "NVD", "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{cve}",
                "vendorSeverity": severity, "relatedVulnerabilities": [],
                "referenceUrls": [f"https://nvd.nist.gov/vuln/detail/{cve}"],
                "cvss": [{"baseScore": score, "scoringVector": vector, "version": "3.1", "source": "NVD"}],
                "vulnerablePackages": [{"name": pkg, "version": version, "epoch": epoch, "release": release,
                                        "arch": "X86_64", "packageManager": manager, "fixedInVersion": fixed,
                                        "remediation": f"dnf update {pkg}" if manager == "OS" else None}],
            },
        }

    ifindings = [
        vuln(1, "CVE-2024-6387", 8.1, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "HIGH", "openssh-server",
             "8.7p1", "8.amzn2023.0.4", "8.7p1-8.amzn2023.0.11", "OS",
             "regreSSHion: signal handler race condition in OpenSSH's server (sshd)", exploit="YES"),
        vuln(2, "CVE-2023-0286", 7.4, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", "HIGH", "openssl-libs",
             "3.0.8", "1.amzn2023.0.1", "1:3.0.8-1.amzn2023.0.3", "OS",
             "X.400 address type confusion in X.509 GeneralName", epoch=1),
        vuln(3, "CVE-2021-44228", 10.0, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL",
             "org.apache.logging.log4j:log4j-core", "2.14.1", "", "2.15.0", "JAR",
             "Log4Shell: JNDI lookup remote code execution in Apache Log4j2", exploit="YES"),
    ]
    ifindings[2]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["filePath"] = "/opt/app/lib/log4j-core-2.14.1.jar"
    code = s.moto_api("/moto-api/static/inspector2/findings-results",
                         {"results": [ifindings], "account_id": ACCOUNT_A, "region": REGION})
    check(code == 201, f"inspector2 static results: HTTP {code}")
    s.extra["inspector2"] = {
        "region": REGION,
        "findings": [{"arn": f["findingArn"], "cve": f["packageVulnerabilityDetails"]["vulnerabilityId"],
                      "cvss": f["packageVulnerabilityDetails"]["cvss"][0]["baseScore"], "severity": f["severity"],
                      "package": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"],
                      "installed": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["version"],
                      "fixed": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["fixedInVersion"],
                      "resource": iid,
                      "resource_arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_A}:instance/{iid}"} for f in ifindings],
        "note": "moto returns this list from the FIRST ListFindings call of a given argument set (filterCriteria, "
                "maxResults, nextToken, sortCriteria) and the same list for that exact set ever after; any other "
                "argument set gets []; no nextToken. Call ListFindings once per region with fixed arguments. "
                "Not consumed by the seed.",
    }

# ---- implicit resources moto creates on its own ---------------------------------------------
