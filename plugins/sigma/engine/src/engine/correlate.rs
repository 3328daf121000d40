//! The engine's side of correlations: a rule match (or a fired inner
//! correlation) becomes an entry in the window of its group; a window whose
//! condition holds fires a match and feeds the correlations above it; the
//! sweep closes windows that the watermark has passed.
//!
//! The windows themselves, the store session and the aggregates live in
//! `crate::correlation`; this module never touches the store except through
//! that session.

use crate::correlation::{self, Entry, Session, Window};
use crate::event::{self, Field};
use crate::modifiers::Ctx;

use super::{CompiledCorrelation, Engine, Match};

/// Where the group-by and value fields of a hit are read from.
pub(super) enum HitSource<'a> {
    /// A matching event: fields are looked up in its body.
    Event(Ctx<'a>),
    /// A fired inner correlation: fields are taken from its group.
    Group(&'a [(String, Option<String>)]),
}

/// Something a correlation counts: one matched event or one fired inner correlation.
pub(super) struct Hit<'a> {
    /// Epoch milliseconds.
    pub(super) t: i64,
    pub(super) ids: Vec<String>,
    pub(super) src: HitSource<'a>,
}

impl Engine {
    /// Adds `hit` (from the rule at position `pos` of correlation `ci`) to its
    /// group's window, and fires what that completes.
    pub(super) fn hit(
        &self,
        sess: &mut Session<'_>,
        ci: usize,
        pos: usize,
        hit: Hit<'_>,
        out: &mut Vec<Match>,
    ) {
        let c = &self.correlations[ci];
        let group = resolve(&c.group_fields[pos], &hit.src);
        let v = if c.value_fields[pos].is_empty() {
            None
        } else {
            resolve(&c.value_fields[pos], &hit.src)
                .into_iter()
                .collect::<Option<Vec<String>>>()
                .map(|v| v.join("\u{1f}"))
        };
        let key = format!(
            "{}{}",
            c.key_prefix,
            serde_json::to_string(&group).unwrap_or_default()
        );
        let entry = Entry {
            t: hit.t,
            r: pos,
            ids: hit.ids,
            v,
        };
        if let Some((w, value)) = c.admit(sess.window(&key), entry, group) {
            self.fire(sess, ci, w, value, out);
        }
    }

    /// Reports a window that met correlation `ci`'s condition (unless the
    /// correlation only feeds others) and hands it on as a hit to the
    /// correlations above.
    fn fire(&self, sess: &mut Session<'_>, ci: usize, w: Window, value: f64, out: &mut Vec<Match>) {
        let c = &self.correlations[ci];
        let (Some(start), Some(end)) = (w.start(), w.end()) else {
            return;
        };
        let group: Vec<(String, Option<String>)> = c
            .group_by
            .iter()
            .cloned()
            .zip(w.group.iter().cloned().chain(std::iter::repeat(None)))
            .collect();
        let ids = w.ids();
        if c.info.emits {
            out.push(correlation_match(
                c,
                &group,
                ids.clone(),
                (start, end),
                value,
            ));
        }
        for &(p, ppos) in &c.parents {
            let hit = Hit {
                t: end,
                ids: ids.clone(),
                src: HitSource::Group(&group),
            };
            self.hit(sess, p, ppos, hit, out);
        }
    }

    /// Prunes entries that fell out of every possible window and closes
    /// windows that ended before the watermark (or all of them on flush).
    pub(super) fn sweep(
        &self,
        sess: &mut Session<'_>,
        watermark: Option<i64>,
        flush: bool,
        out: &mut Vec<Match>,
    ) {
        for (ci, c) in self.correlations.iter().enumerate() {
            for key in sess.keys(&c.key_prefix) {
                if c.monotone {
                    if let Some(wm) = watermark {
                        prune(sess, &key, wm.saturating_sub(c.span));
                    }
                    continue;
                }
                let w = sess.window_clean(&key);
                let due = match (w.start(), watermark) {
                    (None, _) => false,
                    _ if flush => true,
                    (Some(s), Some(wm)) => s.saturating_add(c.span) < wm,
                    (Some(_), None) => false,
                };
                if !due {
                    continue;
                }
                let old = std::mem::take(w);
                sess.mark(&key);
                if let Some(value) = c.judge(&old) {
                    self.fire(sess, ci, old, value, out);
                }
            }
        }
    }
}

impl CompiledCorrelation {
    /// The aggregate of `w` when it meets the condition.
    fn judge(&self, w: &Window) -> Option<f64> {
        correlation::satisfied(self.kind, &self.condition, self.n_rules, w)
    }

    /// Puts `entry` into the window `w` of `group`; returns the window that
    /// fired, if any, leaving `w` empty or holding the new entry.
    ///
    /// A monotone condition is judged over the last `span` as each entry
    /// arrives. Otherwise the window is anchored at its first entry: an entry
    /// past its end closes it (and is judged), then starts the next one.
    fn admit(
        &self,
        w: &mut Window,
        entry: Entry,
        group: Vec<Option<String>>,
    ) -> Option<(Window, f64)> {
        let t = entry.t;
        if w.entries.is_empty() {
            w.group = group.clone();
        }
        if self.monotone {
            w.insert(entry);
            let end = w.end().unwrap_or(t);
            w.entries.retain(|e| e.t >= end.saturating_sub(self.span));
            return self.judge(w).map(|value| (std::mem::take(w), value));
        }
        let mut closed = None;
        if let Some(start) = w.start()
            && t > start.saturating_add(self.span)
        {
            let old = std::mem::take(w);
            if let Some(value) = self.judge(&old) {
                closed = Some((old, value));
            }
            w.group = group;
        }
        w.insert(entry);
        closed
    }
}

/// Drops the entries of the window at `key` older than `oldest`, marking the
/// window changed only when something went.
fn prune(sess: &mut Session<'_>, key: &str, oldest: i64) {
    let w = sess.window_clean(key);
    let before = w.entries.len();
    w.entries.retain(|e| e.t >= oldest);
    if w.entries.len() != before {
        sess.mark(key);
    }
}

/// The values of `fields` for a hit: the first value found in the event, or
/// the inner correlation's group value of the same name.
fn resolve(fields: &[Field], src: &HitSource<'_>) -> Vec<Option<String>> {
    fields
        .iter()
        .map(|f| match src {
            HitSource::Event(ctx) => {
                let mut vals = Vec::new();
                event::lookup(ctx.body, f, ctx.map, &mut vals);
                vals.first()
                    .and_then(|v| event::text_of(v))
                    .map(|c| c.into_owned())
            }
            HitSource::Group(pairs) => pairs
                .iter()
                .find(|(k, _)| *k == f.name)
                .and_then(|(_, v)| v.clone()),
        })
        .collect()
}

/// The match a correlation reports for a window spanning `(start, end)`.
fn correlation_match(
    c: &CompiledCorrelation,
    group: &[(String, Option<String>)],
    event_ids: Vec<String>,
    (start, end): (i64, i64),
    value: f64,
) -> Match {
    let group_key = (!group.is_empty()).then(|| {
        group
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ")
    });
    Match {
        rule_id: c.info.id.clone(),
        title: c.info.meta.title.clone(),
        level: c.info.level,
        kind: c.info.kind,
        event_ids,
        group_key,
        group: group.to_vec(),
        window_start: event::format_time(start),
        window_end: event::format_time(end),
        value: Some(value),
    }
}
