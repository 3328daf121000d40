//! The one entry of the interchange formats (SARIF, OCSF, JUnit XML) for
//! commands: reads what they need besides the rows (the scan, its rules,
//! its assets' tags, the suppressions' reasons) from the store and hands it
//! to [`super::sarif`], [`super::ocsf`] or [`super::junit`]. It only reads.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Format, junit, ocsf, sarif, unsupported};
use crate::store::{AssetFilter, FindingRow, Store};

/// Whether `format` is one of the interchange formats written here.
pub fn is_interchange(format: Format) -> bool {
    matches!(format, Format::Sarif | Format::Ocsf | Format::Junit)
}

/// Write the findings `rows` of scan `scan` (the latest when `None`) in an
/// interchange format.
pub fn write_findings(
    out: &mut dyn Write,
    store: &Store,
    scan: Option<i64>,
    rows: &[FindingRow],
    format: Format,
) -> io::Result<()> {
    let id = match scan.or_else(|| rows.first().map(|f| f.scan_id)) {
        Some(id) => Some(id),
        None => store.latest_scan_id().map_err(io::Error::other)?,
    };
    let scan = match id {
        Some(id) => store.scan(id).map_err(io::Error::other)?,
        None => None,
    };
    let Some(scan) = scan else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "no complete scan in {}: run `stance scan` first",
                store.path().display()
            ),
        ));
    };
    let rules = store.rules(scan.id).map_err(io::Error::other)?;
    match format {
        Format::Sarif => sarif::write_findings(out, rows, &rules),
        Format::Ocsf => {
            let labels = labels(store, scan.id, rows)?;
            let ctx = ocsf::ScanContext {
                scan: &scan,
                rules: &rules,
                labels: &labels,
            };
            ocsf::write_findings(out, rows, &ctx)
        }
        Format::Junit => junit::write_findings(out, rows, &rules, &scan).map(|_| ()),
        other => Err(unsupported(other, "this writer")),
    }
}

/// The tags of the assets `rows` are about, as `key:value` labels.
fn labels(
    store: &Store,
    scan: i64,
    rows: &[FindingRow],
) -> io::Result<BTreeMap<String, Vec<String>>> {
    let wanted: std::collections::BTreeSet<&str> =
        rows.iter().map(|f| f.resource.id.as_str()).collect();
    let assets = store
        .assets(&AssetFilter {
            scan: Some(scan),
            ..AssetFilter::default()
        })
        .map_err(io::Error::other)?;
    Ok(assets
        .into_iter()
        .filter(|a| wanted.contains(a.id.as_str()))
        .filter_map(|a| {
            let tags = a.tags.as_object()?;
            let labels: Vec<String> = tags
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}:{s}"),
                    other => format!("{k}:{other}"),
                })
                .collect();
            Some((a.id, labels))
        })
        .collect())
}

/// The reason of every suppression, by id (for alerts a suppression silenced).
pub fn suppression_reasons(store: &Store) -> io::Result<BTreeMap<i64, String>> {
    Ok(store
        .suppressions()
        .map_err(io::Error::other)?
        .into_iter()
        .map(|s| (s.id, s.reason))
        .collect())
}

/// Rows for the writers' unit tests.
#[cfg(test)]
pub(crate) mod samples {
    use crate::model::{ComplianceRef, Evidence, MuteRef, Remediation, Rule, Severity, Status};
    use crate::store::{AlertRow, FindingRow, ResourceRef, ScanRow};

    /// A finding of `rule` on `arn` (account 111122223333, region from the ARN).
    pub fn finding(rule: &str, arn: &str, status: Status, lifecycle: Option<&str>) -> FindingRow {
        let region = arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or("global");
        FindingRow {
            scan_id: 7,
            fingerprint: crate::model::fingerprint(rule, arn),
            rule_id: rule.into(),
            title: format!("title of {rule}"),
            plugin: "yaml-policy".into(),
            plugin_version: "0.1.0".into(),
            severity: Severity::High,
            status,
            lifecycle: lifecycle.map(String::from),
            resource: ResourceRef {
                id: arn.into(),
                resource_type: "aws_s3_bucket".into(),
                name: arn.rsplit(':').next().unwrap_or_default().into(),
                account: "111122223333".into(),
                region: region.into(),
            },
            message: format!("{arn} breaks {rule}"),
            evidence: vec![Evidence {
                path: "versioning.status".into(),
                actual: serde_json::json!("Suspended"),
                expected: "Enabled".into(),
            }],
            compliance: Vec::new(),
            remediation: Remediation::default(),
            first_seen: Some("2026-12-01T10:00:00Z".into()),
            last_seen: Some("2026-12-07T10:00:00Z".into()),
            source: "stance".into(),
            duplicate_of: None,
            details: None,
            muted_by: None,
        }
    }

    /// A mute with a reason.
    pub fn mute(reason: &str) -> MuteRef {
        MuteRef {
            id: "m-1".into(),
            reason: reason.into(),
            owner: Some("data-platform".into()),
            expires: Some("2027-03-31".into()),
        }
    }

    /// A rule with two compliance mappings and remediation.
    pub fn rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            title: format!("title of {id}"),
            description: format!("what {id} checks"),
            severity: Severity::High,
            resource_types: vec!["aws_s3_bucket".into()],
            compliance: vec![
                ComplianceRef {
                    framework: "cis-aws".into(),
                    version: "5.0.0".into(),
                    control: "2.1.1".into(),
                },
                ComplianceRef {
                    framework: "nist-800-53".into(),
                    version: "rev5".into(),
                    control: "SC-28".into(),
                },
            ],
            remediation: Remediation {
                guidance: "Enable versioning.".into(),
                console: None,
                cli: Some("aws s3api put-bucket-versioning ```x```".into()),
                references: vec!["https://docs.aws.amazon.com/s3".into()],
            },
            tags: vec!["s3".into()],
            reads: Vec::new(),
        }
    }

    /// Scan 7.
    pub fn scan() -> ScanRow {
        ScanRow {
            id: 7,
            started_at: "2026-12-07T10:00:00Z".into(),
            finished_at: "2026-12-07T10:00:02.500Z".into(),
            source: "snapshot:demo.json".into(),
            provider: "aws".into(),
            scope: "aws:111122223333:us-east-1".into(),
            stance_version: "0.1.0".into(),
            assets: 3,
            summary: Default::default(),
        }
    }

    /// An alert of `rule`, suppressed by `suppressed_by` when given.
    pub fn alert(rule: &str, suppressed_by: Option<i64>) -> AlertRow {
        AlertRow {
            id: 3,
            run_id: 2,
            fingerprint: format!("fp-{rule}"),
            duplicate: false,
            rule_id: rule.into(),
            title: format!("title of {rule}"),
            plugin: "sigma".into(),
            plugin_version: "0.1.0".into(),
            severity: Severity::Medium,
            message: "StopLogging by alice".into(),
            event_ids: vec!["ev-1".into(), "ev-2".into()],
            group_key: Some("arn:aws:iam::111122223333:user/alice".into()),
            window_start: "2026-12-07T10:00:00Z".into(),
            window_end: "2026-12-07T10:05:00Z".into(),
            evidence: Vec::new(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            source: "aws_cloudtrail".into(),
            suppressed_by,
        }
    }
}
