//! Log sources beyond CloudTrail files: VPC Flow Logs v2-v5, GuardDuty
//! findings in every shape, and S3 prefixes read from moto.

use super::*;

fn alerts_by_source(alerts: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["source"].as_str().unwrap().to_string(),
                a["window_start"].as_str().unwrap().to_string(),
                a["region"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn vpc_flow_logs_v2_to_v5_are_read_with_and_without_a_header() {
    let env = Env::new();
    let rule = fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml");
    // Auto-detected: the default format delivered to S3 (gzipped, with its
    // header), a custom v5 format, and the default format without a header.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("vpcflow"),
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    let totals = &v["run"]["totals"];
    assert_eq!(totals["files"], 3);
    assert_eq!(totals["events"], 9);
    assert_eq!(totals["alerts"], 3);
    let got = alerts_by_source(&v["alerts"]);
    let want = [
        ("2024-05-01T10:00:00", ""),
        ("2024-05-01T11:00:00", "eu-west-1"),
        ("2024-05-02T10:00:00", ""),
    ];
    for ((source, start, region), (t, r)) in got.iter().zip(want) {
        assert_eq!(source, "aws_vpc_flow");
        assert!(start.starts_with(t), "{start} {t}");
        assert_eq!(region, r);
    }
    assert!(
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["account"] == "111122223333")
    );

    // Forced format and a time range.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("vpcflow/export/flows-no-header.txt"),
        &fixture("vpcflow/custom-v5.log"),
        "--log-format",
        "vpc-flow",
        "--since",
        "2024-05-02",
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["run"]["totals"]["events"], 2);
    assert_eq!(v["run"]["totals"]["out_of_range"], 3);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
}

#[test]
fn guardduty_findings_in_every_shape_are_read() {
    let env = Env::new();
    let rule = fixture("sigma/aws-guardduty-high-severity.yml");
    // GetFindings output, EventBridge NDJSON and a gzipped array, auto-detected and forced.
    for format in ["auto", "guardduty"] {
        let env = Env::new();
        let (code, v) = env.json(&[
            "detect",
            "-i",
            &fixture("guardduty"),
            "--log-format",
            format,
            "--rules",
            &rule,
            "--no-builtin-rules",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{v:#}");
        assert_eq!(v["run"]["totals"]["files"], 3);
        assert_eq!(v["run"]["totals"]["events"], 5);
        assert_eq!(event_ids(&v["alerts"]), set(&["gd-f1", "gd-f3", "gd-f5"]));
        let f3 = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["event_ids"][0] == "gd-f3")
            .unwrap();
        assert_eq!(f3["source"], "aws_guardduty");
        assert_eq!(f3["region"], "eu-west-1");
        assert_eq!(f3["account"], "111122223333");
        assert_eq!(f3["severity"], "high");
    }
    // Mixed with CloudTrail and flows in one run: each source meets its own rules only.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("guardduty"),
        &fixture("vpcflow"),
        &fixture("cloudtrail/delivered"),
        "--since",
        "2024-05-02",
        "--until",
        "2024-05-03",
        "--rules",
        &rule,
        "--rules",
        &fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml"),
        "--rules",
        &disable_logging_rule(),
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    let sources: BTreeSet<String> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sources,
        set(&["aws_cloudtrail", "aws_guardduty", "aws_vpc_flow"])
    );
    assert_eq!(v["alerts"].as_array().unwrap().len(), 3);
}

/// CloudTrail (and a flow log) as delivered to a bucket, read from moto's S3.
#[cfg(feature = "aws")]
#[test]
fn s3_prefixes_are_read_through_the_sdk() {
    use crate::support::{Moto, venv_python};
    let moto = Moto::start(&[]);
    let delivered = root().join("tests/fixtures/cloudtrail/delivered");
    let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01";
    let uploads = [
        (
            format!("{day}/111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
            delivered.join("111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/02/111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz".to_string(),
            delivered.join("111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz"),
        ),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_20240501T1010Z.json".to_string(),
            delivered.join("111122223333_CloudTrail-Digest_us-east-1_20240501T1010Z.json"),
        ),
        (
            "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d_20240501T1000Z_3f2a9b1c.log.gz".to_string(),
            root().join("tests/fixtures/vpcflow/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d_20240501T1000Z_3f2a9b1c.log.gz"),
        ),
        (
            "elsewhere/not-under-the-prefix.json".to_string(),
            delivered.join("111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
        ),
    ];
    let mut script = String::from(
        "import boto3, sys\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         s3.create_bucket(Bucket='trail-logs')\n",
    );
    for (key, path) in &uploads {
        script.push_str(&format!(
            "s3.upload_file({:?}, 'trail-logs', {:?})\n",
            path.display().to_string(),
            key
        ));
    }
    let out = std::process::Command::new(venv_python())
        .arg("-c")
        .arg(&script)
        .arg(moto.endpoint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let env = Env::new();
    let rule = disable_logging_rule();
    let flow_rule = fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml");
    let run = |extra: &[&str]| -> (i32, Value) {
        let mut cmd = env.cmd();
        moto.env(&mut cmd);
        cmd.args([
            "detect",
            "-i",
            "s3://trail-logs/AWSLogs/",
            "--rules",
            &rule,
            "--rules",
            &flow_rule,
            "--no-builtin-rules",
            "--format",
            "json",
        ])
        .args(extra);
        let out = cmd.output().unwrap();
        let v =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code().unwrap(), v)
    };
    let (code, v) = run(&[]);
    assert_eq!(code, 0, "{v:#}");
    // Three objects read (the digest skipped), in key order.
    assert_eq!(v["run"]["totals"]["files"], 3, "{v:#}");
    assert_eq!(v["run"]["totals"]["events"], 9, "{v:#}");
    let ids = event_ids(&v["alerts"]);
    assert!(ids.is_superset(&set(&["ev-d2", "ev-d4"])), "{ids:?}");
    assert_eq!(ids.len(), 3, "{ids:?}");

    // --since/--until apply to the events of objects too.
    let (code, v) = run(&["--since", "2024-05-02", "--until", "2024-05-03"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-d4"]));
    assert!(v["run"]["totals"]["out_of_range"].as_u64().unwrap() > 0);

    // A bucket that does not exist is an input error (exit 2).
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    let out = cmd
        .args(["detect", "-i", "s3://no-such-bucket/x/", "--rules", &rule])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("NoSuchBucket"), "{}", stderr(&out));
}
