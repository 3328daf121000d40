//! VPC Flow Logs v2 to v5 text: a header line naming the fields (or the
//! default v2 format without one), then one space-separated record a line.
//! Lines are held to `--max-line-mib`; a line that is too long or does not
//! fit the fields is refused alone, and reading goes on with the next.

use std::io::BufRead;

use chrono::DateTime;

use super::{Aborted, Ctx, Event, VPC_FLOW, digest_id};
use crate::intake::LimitError;
use crate::intake::lines::{Line, read_line};

/// The fields of the default format (version 2), the only one AWS may
/// deliver without naming its fields.
const FLOW_V2: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// The fields VPC Flow Logs versions 3 to 5 add to the default format
/// (a header line names some of these and of [`FLOW_V2`]).
const FLOW_LATER: [&str; 15] = [
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// Fields whose values are numbers (the others are strings, ids included).
const FLOW_NUMBERS: [&str; 10] = [
    "version",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
    "traffic-path",
];

/// Whether a line names fields: a known field first, and only names.
fn is_flow_header(tokens: &[&str]) -> bool {
    tokens
        .first()
        .is_some_and(|t| FLOW_V2.contains(t) || FLOW_LATER.contains(t))
        && tokens.iter().all(|t| {
            t.starts_with(|c: char| c.is_ascii_lowercase())
                && t.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// One value of a flow record as JSON: `-` is null, the numeric fields are
/// numbers, the rest strings.
fn flow_value(field: &str, value: &str, out: &mut String) {
    if value == "-" {
        out.push_str("null");
    } else if FLOW_NUMBERS.contains(&field)
        && let Ok(n) = value.parse::<u64>()
    {
        out.push_str(&n.to_string());
    } else {
        out.push_str(&serde_json::Value::from(value).to_string());
    }
}

/// VPC Flow Logs text: a header line naming the fields (custom formats,
/// and what AWS delivers to S3), or records of the default v2 format
/// without one; then a record a line, values separated by spaces.
pub(super) fn read_flow(buf: &mut dyn BufRead, gz: bool, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut fields: Option<Vec<String>> = None;
    let mut raw = Vec::new();
    let mut n = 0u64;
    loop {
        n += 1;
        let line = match read_line(buf, &mut raw, ctx.limits.line_bytes) {
            Ok(Line::End) => return Ok(()),
            Ok(Line::Complete) => raw.as_slice(),
            Ok(Line::TooLong { bytes }) => {
                let limit = LimitError::Line {
                    bytes,
                    limit: ctx.limits.line_bytes as u64,
                };
                ctx.refuse(format!("line {n}: {limit}"));
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "line {n}: {}",
                    crate::intake::describe_read_error(&e, gz)
                ));
            }
        };
        let Ok(line) = std::str::from_utf8(line) else {
            ctx.refuse(format!("line {n}: not UTF-8 text"));
            continue;
        };
        if flow_line(line, n, &mut fields, ctx).is_err() {
            return Err("stopped".into());
        }
    }
}

/// One line: the header (first), or a record handed on; a line that fits
/// neither is refused.
fn flow_line(
    line: &str,
    n: u64,
    fields: &mut Option<Vec<String>>,
    ctx: &mut Ctx<'_>,
) -> Result<(), Aborted> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    if tokens.is_empty() {
        return Ok(());
    }
    if fields.is_none() {
        if is_flow_header(&tokens) {
            *fields = Some(tokens.iter().map(|t| t.to_string()).collect());
            return Ok(());
        }
        if tokens.len() != FLOW_V2.len() {
            ctx.refuse(format!(
                "line {n}: neither a VPC Flow Logs header line nor a record of the default format ({} fields): {} values",
                FLOW_V2.len(),
                tokens.len()
            ));
            return Ok(());
        }
        *fields = Some(FLOW_V2.iter().map(|t| t.to_string()).collect());
    }
    let Some(names) = fields.as_deref() else {
        return Ok(());
    };
    if tokens.len() != names.len() {
        ctx.refuse(format!(
            "line {n}: {} values for the {} fields of the header",
            tokens.len(),
            names.len()
        ));
        return Ok(());
    }
    let event = flow_event(line, names, &tokens);
    if let Err(limit) = ctx.limits.check_record(event.body.len() as u64, 1) {
        ctx.refuse(format!("line {n}: {limit}"));
        return Ok(());
    }
    ctx.emit(event)
}

/// The event of one record line: its values as JSON under the field names.
fn flow_event(line: &str, fields: &[String], tokens: &[&str]) -> Event {
    let mut body = String::with_capacity(line.len() * 2);
    body.push('{');
    let (mut start, mut account, mut region) = (None, "", "");
    for (i, (field, value)) in fields.iter().zip(tokens).enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&serde_json::Value::from(field.as_str()).to_string());
        body.push(':');
        flow_value(field, value, &mut body);
        match (field.as_str(), *value) {
            (_, "-") => {}
            ("start", v) => start = v.parse::<i64>().ok(),
            ("account-id", v) => account = v,
            ("region", v) => region = v,
            _ => {}
        }
    }
    body.push('}');
    let time = start
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Event {
        id: digest_id(line),
        source: VPC_FLOW.to_string(),
        time,
        account: account.to_string(),
        region: region.to_string(),
        body,
    }
}
