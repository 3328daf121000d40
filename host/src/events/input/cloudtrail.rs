//! CloudTrail (and GuardDuty JSON) streaming: `{"Records"|"Events"|"Findings": [...]}`
//! wrappers, arrays, lookup-events output and NDJSON, one record at a time.
//!
//! The outer structure is walked with `intake::json`; each record is taken
//! whole (up to `--max-record-mib`, counted past it), checked against the
//! limits, and only then parsed. A record that is refused costs only itself.

use std::borrow::Cow;
use std::io::BufRead;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Aborted, CLOUDTRAIL, Ctx, Event, GUARDDUTY, LogFormat, digest_id};
use crate::intake::json::{
    BEGIN_ARRAY, BEGIN_OBJECT, END_ARRAY, END_OBJECT, JsonError, JsonStream, Scanned,
};
use crate::intake::{self, describe_read_error};

/// The keys whose array holds the records, when they come first in an object.
const WRAPPERS: [&str; 3] = ["Records", "Events", "Findings"];

/// The longest key of a wrapper object that is not a record.
const KEY_MAX: usize = 64 << 10;

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

/// What a record's field should have been, for the fields that make the
/// event record.
fn expected(field: &str) -> &'static str {
    match field {
        "eventTime" | "updatedAt" => {
            "; it must be an RFC 3339 time string such as \"2024-05-01T10:00:00Z\""
        }
        "eventID" | "id" | "recipientAccountId" | "accountId" | "awsRegion" | "region" => {
            "; it must be a string"
        }
        "CloudTrailEvent" => "; it must be the record as a JSON string",
        _ => "",
    }
}

impl Ctx<'_> {
    /// One record's text: parse the fields that make the event, and hand it
    /// on, or refuse it naming `place` and the field.
    fn record(&mut self, body: String, place: &str) -> Result<(), Aborted> {
        let de = &mut serde_json::Deserializer::from_str(&body);
        let head: Head<'_> = match serde_path_to_error::deserialize(de) {
            Ok(h) => h,
            Err(e) => {
                let field = e.path().to_string();
                let message = strip_position(&e.inner().to_string());
                self.refuse(if field == "." {
                    format!("{place}: {message}")
                } else {
                    format!("{place}: {field}: {message}{}", expected(&field))
                });
                return Ok(());
            }
        };
        if let Some(inner) = head.wrapped {
            let depth = intake::json::depth(&inner);
            if let Err(limit) = self.limits.check_record(inner.len() as u64, depth) {
                self.refuse(format!("{place}: CloudTrailEvent: {limit}"));
                return Ok(());
            }
            return self.record(inner, place);
        }
        if self.format != LogFormat::Cloudtrail
            && head.detail_type.as_deref() == Some("GuardDuty Finding")
            && let Some(detail) = head.detail
        {
            return self.record(String::from(Box::<str>::from(detail)), place);
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
                id: id_or_digest(head.id, &body),
                source: GUARDDUTY.to_string(),
                time: own(head.updated_at),
                account: own(head.account_id),
                region: own(head.finding_region),
                body,
            }
        } else {
            Event {
                id: id_or_digest(head.event_id, &body),
                source: CLOUDTRAIL.to_string(),
                time: own(head.event_time),
                account: own(head.account),
                region: own(head.region),
                body,
            }
        };
        self.emit(event)
    }
}

/// serde_json appends " at line L column C"; the place already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A record's own id, or a digest of it when it has none.
fn id_or_digest(id: Option<Cow<'_, str>>, body: &str) -> String {
    match id {
        Some(id) if !id.is_empty() => id.into_owned(),
        _ => digest_id(body),
    }
}

/// Why the reading of a stream stopped early.
enum Stop {
    /// The structure is broken or the stream unreadable.
    Json(JsonError),
    /// The sink stopped the run.
    Sink,
}

impl From<JsonError> for Stop {
    fn from(e: JsonError) -> Self {
        Stop::Json(e)
    }
}

impl From<Aborted> for Stop {
    fn from(_: Aborted) -> Self {
        Stop::Sink
    }
}

/// Every top-level JSON value of the stream: arrays of records, wrapper
/// objects, records (NDJSON and concatenated objects).
pub(super) fn read_json(r: &mut dyn BufRead, gzip: bool, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut reader = Records {
        buf: Vec::new(),
        seen: 0,
    };
    let mut s = JsonStream::new(r);
    match reader.top(&mut s, ctx) {
        Ok(()) => Ok(()),
        Err(Stop::Sink) => Err("stopped".into()),
        Err(Stop::Json(JsonError::Io(e))) => Err(describe_read_error(&e, gzip)),
        Err(Stop::Json(e)) => Err(format!(
            "not valid JSON after {} record(s): {e}",
            reader.seen
        )),
    }
}

/// The reading of one stream's records.
struct Records {
    /// The record being read.
    buf: Vec<u8>,
    /// Records met so far (refused ones included): the next one's index.
    seen: usize,
}

impl Records {
    fn top(&mut self, s: &mut JsonStream<'_>, ctx: &mut Ctx<'_>) -> Result<(), Stop> {
        loop {
            match s.peek()? {
                None => return Ok(()),
                Some(BEGIN_ARRAY) => {
                    s.bump();
                    self.array(s, ctx)?;
                }
                Some(BEGIN_OBJECT) => self.object(s, ctx)?,
                Some(b) => {
                    return Err(s
                        .error(format!(
                            "expected records (`{{` or `[`), found `{}`",
                            b as char
                        ))
                        .into());
                }
            }
        }
    }

    /// A top-level object: a wrapper whose first key names the records, or
    /// a record of its own.
    fn object(&mut self, s: &mut JsonStream<'_>, ctx: &mut Ctx<'_>) -> Result<(), Stop> {
        let start = s.position();
        s.bump();
        self.buf.clear();
        self.buf.push(BEGIN_OBJECT);
        if s.peek()? == Some(END_OBJECT) {
            s.bump();
            self.buf.push(END_OBJECT);
            let scanned = Scanned {
                start,
                bytes: 2,
                depth: 1,
                kept: true,
            };
            return self.take(scanned, ctx);
        }
        let key = s.key(&mut self.buf, ctx.limits.record_bytes)?;
        if WRAPPERS.contains(&key.as_str()) {
            s.expect(b':', "`:`")?;
            if s.peek()? != Some(BEGIN_ARRAY) {
                return Err(s
                    .error(format!("`{key}` is not an array of records"))
                    .into());
            }
            s.bump();
            self.array(s, ctx)?;
            return Ok(rest_of_wrapper(s)?);
        }
        let scanned = s.rest_of_object(&mut self.buf, ctx.limits.record_bytes, start)?;
        self.take(scanned, ctx)
    }

    /// The elements of an array (its `[` taken), each a record.
    fn array(&mut self, s: &mut JsonStream<'_>, ctx: &mut Ctx<'_>) -> Result<(), Stop> {
        if s.peek()? == Some(END_ARRAY) {
            s.bump();
            return Ok(());
        }
        loop {
            self.buf.clear();
            let scanned = s.value(&mut self.buf, ctx.limits.record_bytes)?;
            self.take(scanned, ctx)?;
            match s.peek()? {
                Some(b',') => s.bump(),
                Some(END_ARRAY) => {
                    s.bump();
                    return Ok(());
                }
                Some(b) => {
                    return Err(s
                        .error(format!("expected `,` or `]`, found `{}`", b as char))
                        .into());
                }
                None => return Err(s.error("the input ends inside an array").into()),
            }
        }
    }

    /// One record as scanned: refused when past a limit or not an object,
    /// else parsed and handed on.
    fn take(&mut self, scanned: Scanned, ctx: &mut Ctx<'_>) -> Result<(), Stop> {
        self.seen += 1;
        let place = format!("record {} ({})", self.seen, scanned.start);
        if let Err(limit) = ctx.limits.check_record(scanned.bytes, scanned.depth) {
            ctx.refuse(format!("{place}: {limit}"));
            return Ok(());
        }
        if self.buf.first() != Some(&BEGIN_OBJECT) {
            ctx.refuse(format!("{place}: not a JSON object"));
            return Ok(());
        }
        let body = match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(body) => body,
            Err(_) => {
                ctx.refuse(format!("{place}: not UTF-8 text"));
                return Ok(());
            }
        };
        Ok(ctx.record(body, &place)?)
    }
}

/// The fields of a wrapper object after its records (`NextToken`, say):
/// scanned and dropped, never held.
fn rest_of_wrapper(s: &mut JsonStream<'_>) -> Result<(), JsonError> {
    let mut scratch = Vec::new();
    loop {
        match s.peek()? {
            Some(END_OBJECT) => {
                s.bump();
                return Ok(());
            }
            Some(b',') => {
                s.bump();
                scratch.clear();
                s.key(&mut scratch, KEY_MAX)?;
                s.expect(b':', "`:`")?;
                s.value(&mut scratch, 0)?;
            }
            Some(b) => return Err(s.error(format!("expected `,` or `}}`, found `{}`", b as char))),
            None => return Err(s.error("the input ends inside an object")),
        }
    }
}
