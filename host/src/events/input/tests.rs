//! Reading every shape of input from memory: CloudTrail, VPC Flow Logs,
//! GuardDuty, truncated files and time bounds.

use super::*;

fn read_all(text: &[u8]) -> (Vec<Event>, Result<(), String>) {
    let mut events = Vec::new();
    let mut sink = |e: Event| -> anyhow::Result<()> {
        events.push(e);
        Ok(())
    };
    let mut ctx = Ctx {
        range: TimeRange::default(),
        format: LogFormat::Auto,
        sink: &mut sink,
        abort: None,
        events: 0,
        out_of_range: 0,
    };
    let r = read_stream(Box::new(io::Cursor::new(text.to_vec())), &mut ctx);
    (events, r)
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
    // The default format needs no header; a short line is an error.
    let v2 = "2 111 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714557600 1714557660 ACCEPT OK\n2 111\n";
    let (ev, r) = read_all(v2.as_bytes());
    assert_eq!(ev.len(), 1);
    assert!(r.unwrap_err().contains("line 2"));
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
