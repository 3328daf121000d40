//! Reading audit logs as AWS delivers them and as people export them, streamed:
//!
//! - CloudTrail: `{"Records": [...]}` files (`.json`, `.json.gz`), as
//!   CloudTrail writes to S3; JSON arrays of records, and `{"Events": [...]}`
//!   from `aws cloudtrail lookup-events` (each `CloudTrailEvent` string is the
//!   record); NDJSON (one record per line) and concatenated JSON objects;
//! - GuardDuty findings: arrays, `{"Findings": [...]}` (GetFindings), and
//!   EventBridge events (`"detail-type": "GuardDuty Finding"`), also as NDJSON;
//! - VPC Flow Logs v2 to v5 text: a header line naming the fields (or the
//!   default v2 format without one), then one space-separated record a line;
//! - any of these gzipped (sniffed by magic number, whatever the name), from
//!   files, directories (recursively, in name order), `s3://bucket/prefix`
//!   (in key order) or stdin (`-`).
//!
//! JSON records are deserialized one at a time as raw JSON (the body is kept
//! as written); only the few fields that make the event record are parsed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::Event;

/// The log source of CloudTrail events.
pub const CLOUDTRAIL: &str = "aws_cloudtrail";
/// The log source of VPC Flow Logs records.
pub const VPC_FLOW: &str = "aws_vpc_flow";
/// The log source of GuardDuty findings.
pub const GUARDDUTY: &str = "aws_guardduty";

/// What kind of log the inputs hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Each file by its content: VPC Flow Logs text (a header line), GuardDuty findings, else CloudTrail
    Auto,
    /// AWS CloudTrail (Records files, arrays, lookup-events output, NDJSON)
    Cloudtrail,
    /// VPC Flow Logs v2-v5 text (header line, or the default v2 format)
    VpcFlow,
    /// GuardDuty findings JSON (arrays, {"Findings": [...]}, EventBridge events)
    Guardduty,
}

/// Events kept: `since <= time < until` (either bound optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    fn keeps(&self, time: &str) -> bool {
        if self.is_all() {
            return true;
        }
        let Ok(t) = DateTime::parse_from_rfc3339(time) else {
            return false;
        };
        let t = t.with_timezone(&Utc);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// `--since`/`--until`: RFC 3339, a date (`2024-05-01`, midnight UTC), or an
/// age before `now` (`90m`, `36h`, `7d`).
pub fn parse_time_bound(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    if let Ok(n) = num.parse::<i64>() {
        let d = match unit {
            "s" => chrono::Duration::try_seconds(n),
            "m" => chrono::Duration::try_minutes(n),
            "h" => chrono::Duration::try_hours(n),
            "d" => chrono::Duration::try_days(n),
            _ => None,
        };
        if let Some(d) = d {
            return Ok(now - d);
        }
    }
    Err(format!(
        "{s:?} is not a time: use RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01) or an age (90m, 36h, 7d)"
    ))
}

/// A file (or stdin) that could not be read in full. The events read before
/// the problem were used; the run records the error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.input, self.message)
    }
}

/// Counts of what was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InputStats {
    pub files: usize,
    /// Events handed on (inside the time range).
    pub events: usize,
    /// Events left out by `--since`/`--until` (or without a readable time when a range is set).
    pub out_of_range: usize,
    pub errors: Vec<InputError>,
}

/// The inputs of one run, checked before anything is read.
#[derive(Debug, Clone)]
pub struct Inputs {
    items: Vec<Item>,
    format: LogFormat,
}

#[derive(Debug, Clone)]
enum Item {
    Stdin,
    File(PathBuf),
    /// Every log object under a prefix, in key order.
    #[cfg_attr(not(feature = "aws-s3"), allow(dead_code))]
    S3 {
        bucket: String,
        prefix: String,
    },
}

/// Whether a file in a directory (or an object under a prefix) looks like a
/// log file of `format`: JSON for CloudTrail and GuardDuty, `.log`/`.txt`
/// for VPC Flow Logs, either for `auto`. CloudTrail digest files are not.
fn is_log_file(name: &str, format: LogFormat) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.starts_with('.') || name.contains("cloudtrail-digest") {
        return false;
    }
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let json = name.ends_with(".json") || name.ends_with(".ndjson") || name.ends_with(".jsonl");
    let text = name.ends_with(".log") || name.ends_with(".txt");
    match format {
        LogFormat::Cloudtrail | LogFormat::Guardduty => json,
        LogFormat::VpcFlow => text,
        LogFormat::Auto => json || text,
    }
}

fn walk(dir: &Path, format: LogFormat, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, format, out)?;
        } else if path
            .file_name()
            .is_some_and(|n| is_log_file(&n.to_string_lossy(), format))
        {
            out.push(path);
        }
    }
    Ok(())
}

impl Inputs {
    /// Resolve `--input` values: `-` (stdin), files, directories,
    /// `s3://bucket/prefix`. Unsupported schemes and missing paths are errors
    /// before anything runs (S3 prefixes are listed when read).
    pub fn resolve(specs: &[String], format: LogFormat) -> Result<Inputs, String> {
        let mut items = Vec::new();
        for spec in specs {
            if spec == "-" {
                items.push(Item::Stdin);
                continue;
            }
            if let Some(rest) = spec.strip_prefix("s3://") {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("{spec}: no bucket; use s3://BUCKET/PREFIX"));
                }
                if !cfg!(feature = "aws-s3") {
                    return Err(format!(
                        "{spec}: s3:// inputs need the aws-s3 feature, which this build lacks; copy the logs locally (aws s3 sync s3://... DIR) and pass the directory"
                    ));
                }
                items.push(Item::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.to_string(),
                });
                continue;
            }
            if let Some((scheme, _)) = spec.split_once("://") {
                return Err(format!(
                    "{spec}: {scheme}:// inputs are not supported yet; copy the logs locally and pass the directory"
                ));
            }
            let path = PathBuf::from(spec);
            if path.is_dir() {
                let mut files = Vec::new();
                walk(&path, format, &mut files).map_err(|e| format!("{spec}: cannot read: {e}"))?;
                items.extend(files.into_iter().map(Item::File));
            } else if path.is_file() {
                items.push(Item::File(path));
            } else {
                return Err(format!("{spec}: no such file or directory"));
            }
        }
        Ok(Inputs { items, format })
    }

    /// Local files and stdin to read (an S3 prefix counts once, before it is listed).
    pub fn files(&self) -> usize {
        self.items.len()
    }

    /// Read every input in order, handing each event in `range` to `sink`.
    /// A file that cannot be read in full is recorded and skipped; an error
    /// of the sink stops everything and is returned.
    pub fn read(
        &self,
        range: TimeRange,
        sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
    ) -> anyhow::Result<InputStats> {
        let mut stats = InputStats::default();
        for item in &self.items {
            let (name, reader): (String, io::Result<Box<dyn Read>>) = match item {
                Item::Stdin => ("-".into(), Ok(Box::new(io::stdin().lock()))),
                Item::File(p) => (
                    p.display().to_string(),
                    std::fs::File::open(p).map(|f| Box::new(f) as Box<dyn Read>),
                ),
                Item::S3 { bucket, prefix } => {
                    self.read_s3(bucket, prefix, range, sink, &mut stats)?;
                    continue;
                }
            };
            let reader = reader.map_err(|e| format!("cannot open: {e}"));
            self.read_one(name, reader, range, sink, &mut stats)?;
        }
        Ok(stats)
    }

    /// Read one file, object or stdin into `stats`; only a sink error is returned.
    fn read_one(
        &self,
        name: String,
        reader: Result<Box<dyn Read + '_>, String>,
        range: TimeRange,
        sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
        stats: &mut InputStats,
    ) -> anyhow::Result<()> {
        stats.files += 1;
        let reader = match reader {
            Ok(r) => r,
            Err(message) => {
                stats.errors.push(InputError {
                    input: name,
                    message,
                });
                return Ok(());
            }
        };
        let mut ctx = Ctx {
            range,
            format: self.format,
            sink,
            abort: None,
            events: 0,
            out_of_range: 0,
        };
        let result = read_stream(reader, &mut ctx);
        stats.events += ctx.events;
        stats.out_of_range += ctx.out_of_range;
        if let Some(e) = ctx.abort {
            return Err(e);
        }
        if let Err(message) = result {
            tracing::warn!("{name}: {message}");
            stats.errors.push(InputError {
                input: name,
                message,
            });
        }
        Ok(())
    }

    /// Every log object under `s3://bucket/prefix`, in key order, one at a
    /// time: keys are listed a page at a time and each body is streamed.
    #[cfg(feature = "aws-s3")]
    fn read_s3(
        &self,
        bucket: &str,
        prefix: &str,
        range: TimeRange,
        sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
        stats: &mut InputStats,
    ) -> anyhow::Result<()> {
        use stance_aws::{AwsOptions, S3Objects};
        let input = format!("s3://{bucket}/{prefix}");
        let fail = |stats: &mut InputStats, message: String| {
            tracing::warn!("{input}: {message}");
            stats.errors.push(InputError {
                input: input.clone(),
                message,
            });
        };
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_stack_size(16 * 1024 * 1024)
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                fail(stats, format!("cannot start the async runtime: {e}"));
                return Ok(());
            }
        };
        let client = match rt.block_on(S3Objects::new(&AwsOptions::default())) {
            Ok(c) => c,
            Err(e) => {
                fail(stats, e.to_string());
                return Ok(());
            }
        };
        let mut token = None;
        loop {
            let page = match rt.block_on(client.list_page(bucket, prefix, token.take())) {
                Ok(p) => p,
                Err(e) => {
                    fail(stats, e);
                    return Ok(());
                }
            };
            for key in page.keys.iter().filter(|k| is_log_file(k, self.format)) {
                let name = format!("s3://{bucket}/{key}");
                let reader = rt.block_on(client.open(bucket, key)).map(|body| {
                    Box::new(S3Body {
                        rt: &rt,
                        body,
                        chunk: Vec::new(),
                        pos: 0,
                    }) as Box<dyn Read + '_>
                });
                self.read_one(name, reader, range, sink, stats)?;
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    #[cfg(not(feature = "aws-s3"))]
    fn read_s3(
        &self,
        _bucket: &str,
        _prefix: &str,
        _range: TimeRange,
        _sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
        _stats: &mut InputStats,
    ) -> anyhow::Result<()> {
        unreachable!("s3:// inputs are refused by Inputs::resolve without the aws-s3 feature")
    }
}

/// An S3 object's body as a blocking reader, a chunk at a time.
#[cfg(feature = "aws-s3")]
struct S3Body<'r> {
    rt: &'r tokio::runtime::Runtime,
    body: stance_aws::ObjectBody,
    chunk: Vec<u8>,
    pos: usize,
}

#[cfg(feature = "aws-s3")]
impl Read for S3Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rt.block_on(self.body.next_chunk()) {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct Ctx<'s> {
    range: TimeRange,
    format: LogFormat,
    sink: &'s mut dyn FnMut(Event) -> anyhow::Result<()>,
    abort: Option<anyhow::Error>,
    events: usize,
    out_of_range: usize,
}

/// The fields of a record that make the event record.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "eventID", default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventTime", default, borrow)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "recipientAccountId", default, borrow)]
    account: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", default, borrow)]
    region: Option<Cow<'a, str>>,
    /// lookup-events wraps the record as a JSON string.
    #[serde(rename = "CloudTrailEvent", default)]
    wrapped: Option<String>,
    /// GuardDuty findings: `id`, `updatedAt`, `accountId`, `region`, `schemaVersion`.
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "updatedAt", default, borrow)]
    updated_at: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", default, borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(rename = "region", default, borrow)]
    finding_region: Option<Cow<'a, str>>,
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<serde::de::IgnoredAny>,
    /// EventBridge: `{"detail-type": "GuardDuty Finding", "detail": {finding}}`.
    #[serde(rename = "detail-type", default, borrow)]
    detail_type: Option<Cow<'a, str>>,
    #[serde(default)]
    detail: Option<Box<RawValue>>,
}

/// A digest of a record without an id of its own.
fn digest_id(body: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    )
}

impl Ctx<'_> {
    fn record(&mut self, body: String) -> Result<(), String> {
        let head: Head<'_> =
            serde_json::from_str(&body).map_err(|e| format!("a record is not an object: {e}"))?;
        if let Some(inner) = head.wrapped {
            return self.record(inner);
        }
        if self.format != LogFormat::Cloudtrail
            && head.detail_type.as_deref() == Some("GuardDuty Finding")
            && let Some(detail) = head.detail
        {
            return self.record(String::from(Box::<str>::from(detail)));
        }
        let finding = match self.format {
            LogFormat::Guardduty => true,
            LogFormat::Cloudtrail | LogFormat::VpcFlow => false,
            LogFormat::Auto => {
                head.event_time.is_none()
                    && head.schema_version.is_some()
                    && head.updated_at.is_some()
            }
        };
        let own = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned).unwrap_or_default();
        let event = if finding {
            Event {
                id: match head.id {
                    Some(id) if !id.is_empty() => id.into_owned(),
                    _ => digest_id(&body),
                },
                source: GUARDDUTY.to_string(),
                time: own(head.updated_at),
                account: own(head.account_id),
                region: own(head.finding_region),
                body,
            }
        } else {
            Event {
                id: match head.event_id {
                    Some(id) if !id.is_empty() => id.into_owned(),
                    _ => digest_id(&body),
                },
                source: CLOUDTRAIL.to_string(),
                time: own(head.event_time),
                account: own(head.account),
                region: own(head.region),
                body,
            }
        };
        self.emit(event)
    }

    /// Hand on an event inside the time range.
    fn emit(&mut self, event: Event) -> Result<(), String> {
        if !self.range.keeps(&event.time) {
            self.out_of_range += 1;
            return Ok(());
        }
        self.events += 1;
        if let Err(e) = (self.sink)(event) {
            self.abort = Some(e);
            return Err("stopped".into());
        }
        Ok(())
    }
}

const ABORTED: &str = "\u{0}stance: sink aborted";

/// Detects gzip, then reads VPC Flow Logs text (by `--log-format`, or in
/// `auto` when the stream does not start with JSON) or every top-level JSON
/// value of the stream.
fn read_stream(reader: Box<dyn Read + '_>, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut buf = BufReader::with_capacity(256 << 10, reader);
    let head = buf.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    let mut buf: Box<dyn BufRead + '_> = if gz {
        Box::new(BufReader::with_capacity(
            256 << 10,
            flate2::bufread::MultiGzDecoder::new(buf),
        ))
    } else {
        Box::new(buf)
    };
    let flow = match ctx.format {
        LogFormat::VpcFlow => true,
        LogFormat::Cloudtrail | LogFormat::Guardduty => false,
        LogFormat::Auto => {
            let head = buf.fill_buf().map_err(|e| {
                if gz {
                    format!("gzip stream is corrupt or truncated: {e}")
                } else {
                    format!("cannot read: {e}")
                }
            })?;
            head.iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|&b| b != b'{' && b != b'[')
        }
    };
    if flow {
        return read_flow(buf, gz, ctx);
    }
    let ctx = RefCell::new(ctx);
    let mut de = serde_json::Deserializer::from_reader(buf);
    let mut values = 0usize;
    loop {
        let started = std::cell::Cell::new(false);
        match (Top {
            ctx: &ctx,
            started: &started,
        })
        .deserialize(&mut de)
        {
            Ok(()) => values += 1,
            Err(e) if e.is_eof() && !started.get() => break,
            Err(e) => {
                if ctx.borrow().abort.is_some() {
                    return Err("stopped".into());
                }
                let msg = e.to_string();
                let msg = msg.replace(ABORTED, "stopped");
                return Err(if gz && e.is_io() {
                    format!("gzip stream is corrupt or truncated: {msg}")
                } else {
                    format!("not valid JSON after {values} top-level value(s): {msg}")
                });
            }
        }
    }
    Ok(())
}

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

/// Every field of VPC Flow Logs versions 2 to 5 (a header line names some of them).
const FLOW_FIELDS: [&str; 29] = [
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
    tokens.first().is_some_and(|t| FLOW_FIELDS.contains(t))
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
fn read_flow(buf: Box<dyn BufRead + '_>, gz: bool, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut fields: Option<Vec<String>> = None;
    let mut body = String::new();
    for (n, line) in buf.lines().enumerate() {
        let line = line.map_err(|e| {
            if gz {
                format!("gzip stream is corrupt or truncated: {e}")
            } else {
                format!("line {}: cannot read: {e}", n + 1)
            }
        })?;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let fields = match &mut fields {
            Some(f) => &*f,
            None => {
                if is_flow_header(&tokens) {
                    fields = Some(tokens.iter().map(|t| t.to_string()).collect());
                    continue;
                }
                if tokens.len() != FLOW_V2.len() {
                    return Err(format!(
                        "line {}: neither a VPC Flow Logs header line nor a record of the default format ({} fields): {} values",
                        n + 1,
                        FLOW_V2.len(),
                        tokens.len()
                    ));
                }
                fields.insert(FLOW_V2.iter().map(|t| t.to_string()).collect())
            }
        };
        if tokens.len() != fields.len() {
            return Err(format!(
                "line {}: {} values for the {} fields of the header",
                n + 1,
                tokens.len(),
                fields.len()
            ));
        }
        body.clear();
        body.push('{');
        let (mut start, mut account, mut region) = (None, "", "");
        for (i, (field, value)) in fields.iter().zip(&tokens).enumerate() {
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
        let event = Event {
            id: digest_id(&line),
            source: VPC_FLOW.to_string(),
            time,
            account: account.to_string(),
            region: region.to_string(),
            body: body.clone(),
        };
        ctx.emit(event)?;
    }
    Ok(())
}

/// One top-level value: an array of records, a `{"Records"|"Events": [...]}`
/// wrapper, or a record (NDJSON).
struct Top<'a, 'b, 's> {
    ctx: &'a RefCell<&'b mut Ctx<'s>>,
    started: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("records: {\"Records\": [...]}, {\"Findings\": [...]}, an array, or one object per line")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.started.set(true);
        Records { ctx: self.ctx }.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.started.set(true);
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut wrapper = false;
        while let Some(key) = map.next_key::<String>()? {
            if fields.is_empty() && (key == "Records" || key == "Events" || key == "Findings") {
                map.next_value_seed(Records { ctx: self.ctx })?;
                wrapper = true;
            } else {
                let v: Box<RawValue> = map.next_value()?;
                if !wrapper {
                    fields.push((key, v));
                }
            }
        }
        if wrapper {
            return Ok(());
        }
        // A record of its own: rebuild its text from the raw field values.
        let mut body = String::with_capacity(
            fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 2,
        );
        body.push('{');
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&serde_json::to_string(k).map_err(A::Error::custom)?);
            body.push(':');
            body.push_str(v.get());
        }
        body.push('}');
        let mut ctx = self.ctx.borrow_mut();
        ctx.record(body).map_err(|m| {
            A::Error::custom(if ctx.abort.is_some() {
                ABORTED.to_string()
            } else {
                m
            })
        })
    }
}

/// A sequence of records, each deserialized as raw JSON and handed on.
struct Records<'a, 'b, 's> {
    ctx: &'a RefCell<&'b mut Ctx<'s>>,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let body: String = String::from(Box::<str>::from(raw));
            let mut ctx = self.ctx.borrow_mut();
            ctx.record(body).map_err(|m| {
                A::Error::custom(if ctx.abort.is_some() {
                    ABORTED.to_string()
                } else {
                    m
                })
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
        let v2 =
            "2 111 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714557600 1714557660 ACCEPT OK\n2 111\n";
        let (ev, r) = read_all(v2.as_bytes());
        assert_eq!(ev.len(), 1);
        assert!(r.unwrap_err().contains("line 2"));
    }

    #[test]
    fn guardduty_findings_are_recognized() {
        let f = r#"{"schemaVersion":"2.0","accountId":"111","region":"us-east-1","id":"f1","type":"Recon:EC2/PortProbeUnprotectedPort","severity":8,"updatedAt":"2024-05-01T10:00:00.000Z"}"#;
        let eb = format!(
            r#"{{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{f}}}"#
        );
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
}
