use std::path::Path;

use chrono::NaiveDate;

use super::audit::{ScanView, audit};
use super::edit::{NewMute, append};
use super::*;

const EXAMPLE: &str = "\
# accepted risks
- id: scratch-versioning
  rules: [aws-s3-bucket-versioning-enabled]
  resources: ['arn:aws:s3:::acme-*-scratch']
  reason: scratch buckets are disposable (RISK-142)
  owner: data-platform
  expires: 2027-03-31
- id: public-web
  rules: ['aws-s3-*']
  resources: ['re:arn:aws:s3:::acme-(web|cdn)-.*']
  accounts: ['123456789012']
  regions: ['us-*']
  tags: {Environment: prod}
  reason: the web bucket is public by design
  permanent: true
";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn set(text: &str) -> Result<MuteSet, MuteError> {
    parse(text, Path::new("mutes.yaml"))
}

/// The printed error of an invalid file, with its line and field.
fn refused(text: &str) -> (usize, Option<String>, String) {
    match set(text) {
        Err(e @ MuteError::Invalid { .. }) => {
            let shown = e.to_string();
            let MuteError::Invalid { line, field, .. } = e else {
                unreachable!()
            };
            (line, field, shown)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn subject<'a>(rule: &'a str, resource: &'a str, tags: &'a [(String, String)]) -> Subject<'a> {
    Subject {
        rule_id: rule,
        resource,
        account: "123456789012",
        region: "us-east-1",
        tags,
    }
}

#[test]
fn the_example_parses_with_lines() {
    let s = set(EXAMPLE).unwrap();
    assert_eq!(s.mutes.len(), 2);
    assert_eq!(s.mutes[0].line, 2);
    assert_eq!(s.mutes[1].line, 8);
    assert_eq!(s.mutes[1].rules_line, 9);
    assert_eq!(s.mutes[0].expires, Some(day("2027-03-31")));
    assert_eq!(s.mutes[1].expires, None);
    assert!(set("# nothing yet\n").unwrap().is_empty());
    assert!(set("").unwrap().is_empty());
}

#[test]
fn rules_resources_accounts_regions_and_tags_all_must_match() {
    let s = set(EXAMPLE).unwrap();
    let prod = vec![("Environment".to_string(), "prod".to_string())];
    let web = "arn:aws:s3:::acme-web-static";
    let today = day("2026-12-07");
    assert_eq!(
        s.cover(&subject("aws-s3-bucket-tls-only", web, &prod), today)
            .active
            .map(|m| m.id.as_str()),
        Some("public-web")
    );
    // Without the tag, or on another rule family, or another region: not covered.
    assert!(
        s.cover(&subject("aws-s3-bucket-tls-only", web, &[]), today)
            .active
            .is_none()
    );
    assert!(
        s.cover(&subject("aws-ec2-x", web, &prod), today)
            .active
            .is_none()
    );
    let mut eu = subject("aws-s3-bucket-tls-only", web, &prod);
    eu.region = "eu-west-1";
    assert!(s.cover(&eu, today).active.is_none());
    // The regex is anchored: a longer id with the same start does not match.
    assert!(
        s.cover(
            &subject("aws-s3-x", "xarn:aws:s3:::acme-web-1", &prod),
            today
        )
        .active
        .is_none()
    );
    let scratch = "arn:aws:s3:::acme-eu-analytics-scratch";
    assert_eq!(
        s.cover(
            &subject("aws-s3-bucket-versioning-enabled", scratch, &[]),
            today
        )
        .active
        .map(|m| m.id.as_str()),
        Some("scratch-versioning")
    );
}

#[test]
fn a_mute_stops_applying_on_its_expiry_day() {
    let s = set(EXAMPLE).unwrap();
    let f = subject(
        "aws-s3-bucket-versioning-enabled",
        "arn:aws:s3:::acme-eu-analytics-scratch",
        &[],
    );
    assert!(s.cover(&f, day("2027-03-30")).active.is_some());
    let on_the_day = s.cover(&f, day("2027-03-31"));
    assert!(on_the_day.active.is_none());
    assert_eq!(
        on_the_day.expired.map(|m| m.id.as_str()),
        Some("scratch-versioning")
    );
    assert!(s.cover(&f, day("2027-04-01")).active.is_none());
}

#[test]
fn bad_files_name_line_and_field() {
    let unknown = "- id: a\n  rules: [r]\n  resources: ['*']\n  reason: x\n  expires: 2027-01-01\n  expirse: 2027-01-01\n";
    let (line, field, shown) = refused(unknown);
    assert_eq!((line, field.as_deref()), (6, Some("expirse")), "{shown}");
    assert!(shown.starts_with("mutes.yaml:6:"), "{shown}");

    let bad_date =
        "- id: a\n  rules: [r]\n  resources: ['*']\n  reason: x\n  expires: 2027-02-30\n";
    let (line, field, shown) = refused(bad_date);
    assert_eq!((line, field.as_deref()), (5, Some("expires")), "{shown}");
    assert!(shown.contains("YYYY-MM-DD"), "{shown}");

    let bad_regex =
        "- id: a\n  rules: [r]\n  resources: ['re:arn:(']\n  reason: x\n  expires: 2027-01-01\n";
    let (line, field, _) = refused(bad_regex);
    assert_eq!((line, field.as_deref()), (3, Some("resources")));

    let empty_reason =
        "- id: a\n  rules: [r]\n  resources: ['*']\n  reason: '  '\n  expires: 2027-01-01\n";
    let (line, field, _) = refused(empty_reason);
    assert_eq!((line, field.as_deref()), (4, Some("reason")));

    let no_expiry = "- id: a\n  rules: [r]\n  resources: ['*']\n  reason: x\n- id: b\n  rules: [r]\n  resources: ['*']\n  reason: y\n";
    let (line, field, shown) = refused(no_expiry);
    assert_eq!((line, field.as_deref()), (1, Some("expires")), "{shown}");
    assert!(shown.contains("permanent: true"), "{shown}");

    let dup = "- id: a\n  rules: [r]\n  resources: ['*']\n  reason: x\n  permanent: true\n- id: a\n  rules: [r]\n  resources: ['*']\n  reason: x\n  permanent: true\n";
    let (line, field, _) = refused(dup);
    assert_eq!((line, field.as_deref()), (6, Some("id")));

    let (_, _, shown) = refused("rules: [r]\n");
    assert!(shown.contains("YAML list"), "{shown}");
}

#[test]
fn an_exact_rule_id_must_name_a_loaded_rule() {
    let s = set(EXAMPLE).unwrap();
    let known = |r: &str| r == "aws-s3-bucket-versioning-enabled";
    assert!(s.check_rules(&known).is_ok(), "a glob needs no loaded rule");
    let none = |_: &str| false;
    let e = s.check_rules(&none).unwrap_err().to_string();
    assert!(e.starts_with("mutes.yaml:3:"), "{e}");
    assert!(e.contains("aws-s3-bucket-versioning-enabled"), "{e}");
}

#[test]
fn adding_appends_an_item_and_keeps_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".stance/mutes.yaml");
    let new = |reason: &str| NewMute {
        id: None,
        rules: vec!["aws-s3-bucket-versioning-enabled".into()],
        resources: vec!["arn:aws:s3:::acme-scratch-*".into()],
        accounts: vec![],
        regions: vec![],
        tags: [("Environment".to_string(), "staging".to_string())].into(),
        reason: reason.into(),
        owner: Some("data-platform".into()),
        expires: Some(day("2027-03-31")),
        permanent: false,
        created: day("2026-12-07"),
    };
    let first = append(&path, new("one")).unwrap();
    assert_eq!(first.mutes[0].id, "mute-1");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("# keep this comment\n");
    std::fs::write(&path, &text).unwrap();
    let second = append(&path, new("two")).unwrap();
    assert_eq!(second.mutes.len(), 2);
    assert_eq!(second.mutes[1].id, "mute-2");
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with(&text),
        "the old text is kept as it was:\n{after}"
    );
    // An invalid result is refused and the file is left as it was.
    let mut bad = new("");
    bad.reason = " ".into();
    assert!(append(&path, bad).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
}

#[test]
fn the_audit_finds_expired_unmatched_unknown_and_ownerless_mutes() {
    let s = set(EXAMPLE).unwrap();
    let prod = vec![("Environment".to_string(), "prod".to_string())];
    let scan = ScanView {
        id: 7,
        failing: vec![subject(
            "aws-s3-bucket-tls-only",
            "arn:aws:s3:::acme-web-1",
            &prod,
        )],
        rules: ["aws-s3-bucket-tls-only".to_string()].into(),
    };
    let found = audit(&s, Some(&scan), day("2027-04-01"));
    let kinds: Vec<(&str, &str)> = found.iter().map(|p| (p.mute.as_str(), p.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("scratch-versioning", "expired"),
            ("scratch-versioning", "unknown-rule"),
            ("public-web", "no-owner"),
        ]
    );
    let before = audit(&s, Some(&scan), day("2027-03-01"));
    assert!(
        before
            .iter()
            .any(|p| p.mute == "scratch-versioning" && p.kind == "unmatched")
    );
}
