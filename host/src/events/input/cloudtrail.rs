//! CloudTrail (and GuardDuty JSON) streaming: `{"Records"|"Events"|"Findings": [...]}`
//! wrappers, arrays, lookup-events output and NDJSON, one raw record at a time.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::BufRead;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{ABORTED, CLOUDTRAIL, Ctx, Event, GUARDDUTY, LogFormat, digest_id};

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

/// A record's own id, or a digest of it when it has none.
fn id_or_digest(id: Option<Cow<'_, str>>, body: &str) -> String {
    match id {
        Some(id) if !id.is_empty() => id.into_owned(),
        _ => digest_id(body),
    }
}

/// Every top-level JSON value of the stream.
pub(super) fn read_json(
    buf: Box<dyn BufRead + '_>,
    gz: bool,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
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
        hand_on(self.ctx, body)
    }
}

/// Hand one record on, as a deserializer error when it fails (marked when
/// the sink stopped the run).
fn hand_on<E: serde::de::Error>(ctx: &RefCell<&mut Ctx<'_>>, body: String) -> Result<(), E> {
    let mut ctx = ctx.borrow_mut();
    ctx.record(body).map_err(|m| {
        E::custom(if ctx.abort.is_some() {
            ABORTED.to_string()
        } else {
            m
        })
    })
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
            hand_on(self.ctx, body)?;
        }
        Ok(())
    }
}
