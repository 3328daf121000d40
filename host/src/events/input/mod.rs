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
//! Every input is read through `intake`: gzip undone with its decompressed
//! size capped, JSON split into records by a scanner that holds at most one
//! record of `--max-record-mib`, lines held to `--max-line-mib`. Each record
//! is checked against the limits plugins can take (size, nesting depth)
//! before it is batched. A record that is refused (too large, too deep, a
//! field of the wrong type) is reported with its place (record index, line
//! and column; or line) and costs only itself: reading goes on with the
//! next. Only a broken structure (a truncated file, a syntax error between
//! records) ends the reading of a file, after the records before it.
//!
//! The body of a JSON record is kept as written; only the few fields that
//! make the event record are parsed. Directories are walked by
//! `intake::walk`: links to directories are not followed, and a file is read
//! once however many inputs or names lead to it.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::intake::json::{BEGIN_ARRAY, BEGIN_OBJECT};
use crate::intake::{self, InputLimits, walk};
use crate::model::Event;

mod cloudtrail;
mod flow;
#[cfg(feature = "aws-s3")]
mod s3;

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
    /// The first instant kept (inclusive); `None` keeps everything before `until`.
    pub since: Option<DateTime<Utc>>,
    /// The first instant no longer kept (exclusive); `None` keeps everything from `since`.
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether neither bound is set, so every event is kept, even one without a readable time.
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

/// A file (or stdin) that could not be read in full, or a record of it that
/// was refused. The events read before (and, for a record, after) the
/// problem were used; the run records the error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    /// The input: a file path, `-` for stdin, or an `s3://` object or prefix.
    pub input: String,
    /// What went wrong, and where in the input when known.
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
    /// Files, objects and stdin opened (or tried).
    pub files: usize,
    /// Events handed on (inside the time range).
    pub events: usize,
    /// Events left out by `--since`/`--until` (or without a readable time when a range is set).
    pub out_of_range: usize,
    /// Records (or lines) refused: too large, too deep, or not readable as
    /// the record they should be. Each costs only itself.
    pub refused: usize,
    /// Inputs that could not be read in full, and refused records (the
    /// first [`REPORTED_PER_INPUT`] of each input), in reading order.
    pub errors: Vec<InputError>,
}

/// Refused records reported one by one per input; the rest are counted in
/// one more error.
pub const REPORTED_PER_INPUT: usize = 10;

/// The inputs of one run, checked before anything is read.
#[derive(Debug, Clone)]
pub struct Inputs {
    items: Vec<Item>,
    format: LogFormat,
    /// The region `s3://` inputs are read through (`Settings::aws_region`;
    /// `None`: the AWS SDK's chain).
    region: Option<String>,
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

/// The log files under `dir`, in name order, each once across `seen`
/// (`intake::walk`: links to directories are not followed).
fn walk_logs(
    dir: &Path,
    format: LogFormat,
    seen: &mut HashSet<walk::FileId>,
) -> io::Result<Vec<PathBuf>> {
    let want = |p: &Path| {
        p.file_name()
            .is_some_and(|n| is_log_file(&n.to_string_lossy(), format))
    };
    let filter = walk::Filter {
        enter: &|_| true,
        want: &want,
    };
    let walked = walk::walk(dir, &filter, seen)?;
    for link in &walked.links_not_followed {
        tracing::warn!(
            "{}: a link to a directory, not followed (give it as an --input of its own to read it)",
            link.display()
        );
    }
    if walked.repeated > 0 {
        tracing::info!(
            "{}: {} file(s) already read under another name, read once",
            dir.display(),
            walked.repeated
        );
    }
    Ok(walked.files)
}

impl Inputs {
    /// Read `s3://` inputs through this region (`STANCE_AWS_REGION`).
    pub fn with_region(mut self, region: Option<String>) -> Inputs {
        self.region = region;
        self
    }

    /// Resolve `--input` values: `-` (stdin), files, directories,
    /// `s3://bucket/prefix`. Unsupported schemes and missing paths are errors
    /// before anything runs (S3 prefixes are listed when read).
    /// A file is read once, however many inputs or names lead to it.
    pub fn resolve(specs: &[String], format: LogFormat) -> Result<Inputs, String> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
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
                let files = walk_logs(&path, format, &mut seen)
                    .map_err(|e| format!("{spec}: cannot read: {e}"))?;
                items.extend(files.into_iter().map(Item::File));
            } else if path.is_file() {
                let id = walk::file_id(&path).map_err(|e| format!("{spec}: cannot read: {e}"))?;
                if seen.insert(id) {
                    items.push(Item::File(path));
                } else {
                    tracing::info!("{spec}: already read under another name, read once");
                }
            } else {
                return Err(format!("{spec}: no such file or directory"));
            }
        }
        Ok(Inputs {
            items,
            format,
            region: None,
        })
    }

    /// Local files and stdin to read (an S3 prefix counts once, before it is listed).
    pub fn files(&self) -> usize {
        self.items.len()
    }

    /// Read every input in order, handing each event in `range` to `sink`,
    /// each input held to `limits`. A refused record is recorded and
    /// skipped; a file that cannot be read in full is recorded and read no
    /// further; an error of the sink stops everything and is returned.
    pub fn read(
        &self,
        range: TimeRange,
        limits: &InputLimits,
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
                    self.read_s3(bucket, prefix, (range, limits), sink, &mut stats)?;
                    continue;
                }
            };
            let reader = reader.map_err(|e| format!("cannot open: {e}"));
            self.read_one(name, reader, (range, limits), sink, &mut stats)?;
        }
        Ok(stats)
    }

    /// Read one file, object or stdin into `stats`; only a sink error is returned.
    fn read_one(
        &self,
        name: String,
        reader: Result<Box<dyn Read + '_>, String>,
        (range, limits): (TimeRange, &InputLimits),
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
        let mut ctx = Ctx::new(range, self.format, *limits, sink);
        let result = read_stream(reader, &mut ctx);
        stats.events += ctx.events;
        stats.out_of_range += ctx.out_of_range;
        stats.refused += ctx.refused;
        if let Some(e) = ctx.abort {
            return Err(e);
        }
        for message in ctx.refusals() {
            tracing::warn!("{name}: {message}");
            stats.errors.push(InputError {
                input: name.clone(),
                message,
            });
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

    #[cfg(not(feature = "aws-s3"))]
    fn read_s3(
        &self,
        _bucket: &str,
        _prefix: &str,
        _how: (TimeRange, &InputLimits),
        _sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
        _stats: &mut InputStats,
    ) -> anyhow::Result<()> {
        unreachable!("s3:// inputs are refused by Inputs::resolve without the aws-s3 feature")
    }
}

/// The reading of one input: where events go, what was counted, what was
/// refused.
struct Ctx<'s> {
    range: TimeRange,
    format: LogFormat,
    limits: InputLimits,
    sink: &'s mut dyn FnMut(Event) -> anyhow::Result<()>,
    abort: Option<anyhow::Error>,
    events: usize,
    out_of_range: usize,
    /// Records refused in this input.
    refused: usize,
    /// The first [`REPORTED_PER_INPUT`] of them, with their place.
    reported: Vec<String>,
}

/// The sink stopped the run (its error is in `Ctx::abort`).
#[derive(Debug)]
struct Aborted;

/// A digest of a record without an id of its own.
fn digest_id(body: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    )
}

impl<'s> Ctx<'s> {
    fn new(
        range: TimeRange,
        format: LogFormat,
        limits: InputLimits,
        sink: &'s mut dyn FnMut(Event) -> anyhow::Result<()>,
    ) -> Ctx<'s> {
        Ctx {
            range,
            format,
            limits,
            sink,
            abort: None,
            events: 0,
            out_of_range: 0,
            refused: 0,
            reported: Vec::new(),
        }
    }

    /// Hand on an event inside the time range.
    fn emit(&mut self, event: Event) -> Result<(), Aborted> {
        if !self.range.keeps(&event.time) {
            self.out_of_range += 1;
            return Ok(());
        }
        self.events += 1;
        if let Err(e) = (self.sink)(event) {
            self.abort = Some(e);
            return Err(Aborted);
        }
        Ok(())
    }

    /// Refuse one record: `why` names its place and the reason.
    fn refuse(&mut self, why: String) {
        self.refused += 1;
        if self.reported.len() < REPORTED_PER_INPUT {
            self.reported.push(why);
        }
    }

    /// The refusals to report: those kept, then how many more there were.
    fn refusals(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.reported);
        if self.refused > out.len() {
            out.push(format!(
                "{} more record(s) refused (only the first {REPORTED_PER_INPUT} are listed)",
                self.refused - out.len()
            ));
        }
        out
    }
}

/// The events of an in-memory log (test cases, small inputs), read exactly
/// as a file of the same content would be, with the default limits. A
/// refused record is an error here.
pub fn read_bytes(bytes: &[u8], format: LogFormat) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    let mut sink = |e: Event| -> anyhow::Result<()> {
        events.push(e);
        Ok(())
    };
    let mut ctx = Ctx::new(
        TimeRange::default(),
        format,
        InputLimits::default(),
        &mut sink,
    );
    let result = read_stream(Box::new(io::Cursor::new(bytes.to_vec())), &mut ctx);
    if let Some(e) = ctx.abort {
        return Err(format!("{e:#}"));
    }
    result?;
    if let Some(first) = ctx.refusals().into_iter().next() {
        return Err(first);
    }
    drop(ctx);
    Ok(events)
}

/// Open the stream (gzip undone, capped), then read VPC Flow Logs text (by
/// `--log-format`, or in `auto` when the stream does not start with JSON)
/// or every top-level JSON value of it.
fn read_stream(reader: Box<dyn Read + '_>, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut stream =
        intake::open(reader, &ctx.limits).map_err(|e| intake::describe_read_error(&e, false))?;
    let gzip = stream.gzip;
    let flow = match ctx.format {
        LogFormat::VpcFlow => true,
        LogFormat::Cloudtrail | LogFormat::Guardduty => false,
        LogFormat::Auto => {
            let head = stream
                .reader
                .fill_buf()
                .map_err(|e| intake::describe_read_error(&e, gzip))?;
            head.iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|&b| b != BEGIN_OBJECT && b != BEGIN_ARRAY)
        }
    };
    if flow {
        return flow::read_flow(&mut *stream.reader, gzip, ctx);
    }
    cloudtrail::read_json(&mut *stream.reader, gzip, ctx)
}

#[cfg(test)]
mod tests;
