//! Reading every shape of input from memory: CloudTrail, VPC Flow Logs,
//! GuardDuty, truncated files and time bounds.

use super::*;

fn read_all(text: &[u8]) -> (Vec<Event>, Result<(), String>) {
    let (events, result, _) = read_limited(text, InputLimits::default());
    (events, result)
}

/// Read `text` held to `limits`: the events, the stream's result, the refusals.
fn read_limited(text: &[u8], limits: InputLimits) -> (Vec<Event>, Result<(), String>, Vec<String>) {
    let mut events = Vec::new();
    let mut sink = |e: Event| -> anyhow::Result<()> {
        events.push(e);
        Ok(())
    };
    let mut ctx = Ctx::new(TimeRange::default(), LogFormat::Auto, limits, &mut sink);
    let r = read_stream(Box::new(io::Cursor::new(text.to_vec())), &mut ctx);
    let refused = ctx.refusals();
    drop(ctx);
    (events, r, refused)
}

const REC: &str = r#"{"eventID":"e1","eventTime":"2024-01-01T00:00:00Z","recipientAccountId":"111","awsRegion":"eu-west-1","eventName":"StopLogging"}"#;

#[test]
fn every_shape_is_read() {
    let records = format!(r#"{{"Records":[{REC},{REC}]}}"#);
    assert_eq!(read_all(records.as_bytes()).0.len(), 2);
    let array = format!("[{REC}, {REC}, {REC}]");
    assert_eq!(read_all(array.as_bytes()).0.len(), 3);
    let ndjson = format!("{REC}\n{REC}\n\n");
    let (ev, r) = read_all(ndjson.as_bytes());
    assert!(r.is_ok());
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].body, REC);
    assert_eq!(ev[0].id, "e1");
    assert_eq!(ev[0].account, "111");
    assert_eq!(ev[0].region, "eu-west-1");
    let lookup = format!(
        r#"{{"Events":[{{"EventId":"e1","CloudTrailEvent":{}}}]}}"#,
        serde_json::to_string(REC).unwrap()
    );
    let (ev, _) = read_all(lookup.as_bytes());
    assert_eq!(ev[0].body, REC);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, records.as_bytes()).unwrap();
    assert_eq!(read_all(&gz.finish().unwrap()).0.len(), 2);
}

#[test]
fn flow_records_become_json_with_numbers_and_nulls() {
    let text = "version account-id region srcaddr dstport start action\n\
                3 011122223333 eu-west-1 203.0.113.7 22 1714557600 REJECT\n\
                3 011122223333 - - - 1714557600 -\n";
    let (ev, r) = read_all(text.as_bytes());
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].source, VPC_FLOW);
    assert_eq!(ev[0].time, "2024-05-01T10:00:00Z");
    assert_eq!(ev[0].account, "011122223333");
    assert_eq!(ev[0].region, "eu-west-1");
    assert_eq!(
        ev[0].body,
        r#"{"version":3,"account-id":"011122223333","region":"eu-west-1","srcaddr":"203.0.113.7","dstport":22,"start":1714557600,"action":"REJECT"}"#
    );
    assert!(ev[1].body.contains(r#""srcaddr":null"#));
    assert_eq!(ev[1].region, "");
    // The default format needs no header; a short line is refused alone.
    let v2 = "2 111 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714557600 1714557660 ACCEPT OK\n2 111\n\
              2 111 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714557600 1714557660 ACCEPT OK\n";
    let (ev, r, refused) = read_limited(v2.as_bytes(), InputLimits::default());
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].starts_with("line 2: 2 values for the 14 fields"),
        "{refused:?}"
    );
}

#[test]
fn guardduty_findings_are_recognized() {
    let f = r#"{"schemaVersion":"2.0","accountId":"111","region":"us-east-1","id":"f1","type":"Recon:EC2/PortProbeUnprotectedPort","severity":8,"updatedAt":"2024-05-01T10:00:00.000Z"}"#;
    let eb =
        format!(r#"{{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{f}}}"#);
    for text in [
        format!(r#"{{"Findings":[{f}]}}"#),
        format!("[{f}]"),
        format!("{eb}\n{eb}\n"),
    ] {
        let (ev, r) = read_all(text.as_bytes());
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(ev[0].source, GUARDDUTY);
        assert_eq!(ev[0].id, "f1");
        assert_eq!(ev[0].time, "2024-05-01T10:00:00.000Z");
        assert_eq!(ev[0].account, "111");
        assert_eq!(ev[0].region, "us-east-1");
        assert_eq!(ev[0].body, f);
    }
}

#[test]
fn a_truncated_file_is_an_error_after_its_good_records() {
    let text = format!(r#"{{"Records":[{REC},{{"eventID":"#);
    let (ev, r) = read_all(text.as_bytes());
    assert_eq!(ev.len(), 1);
    assert!(r.unwrap_err().contains("not valid JSON"));
    assert!(read_all(b"").1.is_ok());
}

#[test]
fn time_bounds_parse() {
    let now = DateTime::parse_from_rfc3339("2024-01-10T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        parse_time_bound("2d", now).unwrap().to_rfc3339(),
        "2024-01-08T00:00:00+00:00"
    );
    assert_eq!(
        parse_time_bound("2024-01-02", now).unwrap().to_rfc3339(),
        "2024-01-02T00:00:00+00:00"
    );
    assert!(parse_time_bound("yesterday", now).is_err());
}

#[test]
fn a_wrong_typed_record_is_refused_alone_naming_its_field() {
    let bad = REC.replace(r#""2024-01-01T00:00:00Z""#, "1714564800");
    for text in [
        format!(r#"{{"Records":[{REC},{bad},{REC}]}}"#),
        format!("{REC}\n{bad}\n{REC}\n"),
    ] {
        let (ev, r, refused) = read_limited(text.as_bytes(), InputLimits::default());
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(ev.len(), 2);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].starts_with("record 2 (line "), "{}", refused[0]);
        assert!(
            refused[0].contains("eventTime: invalid type: integer `1714564800`, expected a string; it must be an RFC 3339 time string"),
            "{}",
            refused[0]
        );
    }
    // Not an object, not JSON inside a well-formed structure: refused alone.
    let (ev, r, refused) = read_limited(
        format!(r#"[{REC}, 5, {{"eventID": tru}}, {REC}]"#).as_bytes(),
        InputLimits::default(),
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(ev.len(), 2);
    assert!(
        refused[0].starts_with("record 2 (line 1 column "),
        "{refused:?}"
    );
    assert!(refused[0].ends_with("not a JSON object"), "{refused:?}");
    assert!(
        refused[1].starts_with("record 3 (line 1 column "),
        "{refused:?}"
    );
}

#[test]
fn records_past_the_limits_are_refused_alone() {
    let limits = InputLimits {
        record_bytes: 300,
        depth: 4,
        ..InputLimits::DEFAULT
    };
    let deep = format!(
        r#"{{"eventID":"d","x":{}{}}}"#,
        "[".repeat(4),
        "]".repeat(4)
    );
    let big = format!(r#"{{"eventID":"b","x":"{}"}}"#, "y".repeat(400));
    let wrapped = format!(
        r#"{{"Events":[{{"CloudTrailEvent":{}}}],"NextToken":"t"}}"#,
        serde_json::to_string(&format!(
            r#"{{"eventID":"w","x":{}{}}}"#,
            "[".repeat(9),
            "]".repeat(9)
        ))
        .unwrap()
    );
    let text = format!("{REC}\n{deep}\n{big}\n{wrapped}\n{REC}\n");
    let (ev, r, refused) = read_limited(text.as_bytes(), limits);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(
        refused,
        [
            "record 2 (line 2 column 1): 5 levels deep, the limit is 4 (--max-record-depth)",
            "record 3 (line 3 column 1): 422 bytes long, the limit is 300 bytes (--max-record-mib)",
            "record 4 (line 4 column 12): CloudTrailEvent: 10 levels deep, the limit is 4 (--max-record-depth)",
        ]
    );
}

#[test]
fn many_refusals_are_listed_up_to_a_cap() {
    let text = "{}\n".repeat(3) + &"5\n".repeat(REPORTED_PER_INPUT + 5);
    let (_, r, refused) = read_limited(text.as_bytes(), InputLimits::default());
    assert!(r.is_err(), "a top-level number is not a record");
    let text = format!("[{}]", vec!["5"; REPORTED_PER_INPUT + 5].join(","));
    let (_, r, refused2) = read_limited(text.as_bytes(), InputLimits::default());
    assert!(r.is_ok(), "{r:?}");
    assert!(refused.is_empty());
    assert_eq!(refused2.len(), REPORTED_PER_INPUT + 1);
    assert_eq!(
        refused2[REPORTED_PER_INPUT],
        format!("5 more record(s) refused (only the first {REPORTED_PER_INPUT} are listed)")
    );
}

#[test]
fn flow_lines_past_the_limit_are_skipped_not_held() {
    let limits = InputLimits {
        line_bytes: 100,
        ..InputLimits::DEFAULT
    };
    let good = "2 111 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714557600 1714557660 ACCEPT OK";
    let text = format!("{good}\n{}\n{good}\n", "x".repeat(1000));
    let (ev, r, refused) = read_limited(text.as_bytes(), limits);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(
        refused,
        ["line 2: a line 1000 bytes long, the limit is 100 bytes (--max-line-mib)"]
    );
}

#[test]
fn a_gzip_stream_stops_at_its_decompressed_limit() {
    let limits = InputLimits {
        decompressed_bytes: 4096,
        ..InputLimits::DEFAULT
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let text = format!("{REC}\n{}{REC}\n", " ".repeat(10_000));
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    let (ev, r, _) = read_limited(&gz.finish().unwrap(), limits);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        r.unwrap_err(),
        "the content decompresses to more than 4 KiB (--max-decompressed-gib); the rest was not read"
    );
}
