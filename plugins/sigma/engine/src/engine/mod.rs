//! The engine: the public face of the crate. It owns the compiled rule set
//! (built by [`load`]), routes each event to the rules of its log source, and
//! feeds what matched into correlation windows ([`correlate`]) that live in
//! the caller's `StateStore`.
//!
//! It never reads files, clocks or the environment, and keeps no state of its
//! own between calls: evaluation takes `&self`, everything that must outlive
//! a batch goes through the store.

mod correlate;
mod load;
mod prefilter;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::correlation::{Session, StateStore};
use crate::detection::Detection;
use crate::error::{EvalIssue, LoadError};
use crate::event::{self, Event, Field, FieldMap};
use crate::modifiers::{CmpOp, Ctx, Placeholders};
use crate::rule::{CorrelationType, Level, LogSource, RuleMeta};

use correlate::{Hit, HitSource};
pub use prefilter::{FieldEquals, Prefilter, Screen};

/// One JSON path or several (tried in turn, any may match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldTarget {
    /// A single dotted path (`userIdentity.arn`).
    One(String),
    /// Several dotted paths; a value found at any of them counts.
    Many(Vec<String>),
}

/// How events of one `source` are read: which rules apply (by log source)
/// and how Sigma field names map onto their JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMapping {
    /// The event's `source` (`aws_cloudtrail`).
    pub source: String,
    /// Rules whose `logsource` fits this apply to the source's events.
    #[serde(default)]
    pub logsource: LogSource,
    /// Sigma field name → dotted JSON path(s). Unmapped fields are read as dotted paths.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldTarget>,
}

/// Engine settings (serde-friendly, so a plugin can take them from its settings JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Values of `%placeholder%`s for the `expand` modifier.
    pub placeholders: Placeholders,
    /// Known event sources. Default: `aws_cloudtrail`, `aws_vpc_flow` and
    /// `aws_guardduty` ↔ `product: aws`, `service: cloudtrail`, `vpcflowlogs`, `guardduty`.
    pub sources: Vec<SourceMapping>,
    /// Whether events from a source with no mapping are tested against every
    /// rule (by dotted paths). When false they match nothing.
    pub match_unknown_sources: bool,
    /// Prefix of every key the engine writes to the state store.
    pub state_prefix: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            placeholders: Placeholders::new(),
            sources: [
                ("aws_cloudtrail", "cloudtrail"),
                ("aws_vpc_flow", "vpcflowlogs"),
                ("aws_guardduty", "guardduty"),
            ]
            .into_iter()
            .map(|(source, service)| SourceMapping {
                source: source.to_string(),
                logsource: LogSource {
                    category: None,
                    product: Some("aws".to_string()),
                    service: Some(service.to_string()),
                },
                fields: BTreeMap::new(),
            })
            .collect(),
            match_unknown_sources: true,
            state_prefix: "sigma".to_string(),
        }
    }
}

/// Whether a rule looks at single events or correlates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "type")]
pub enum RuleKind {
    /// A detection rule: matches single events.
    Detection,
    /// A correlation rule of the given type: fires on a window of matches.
    Correlation(CorrelationType),
}

/// A loaded rule as the engine lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// The identifier reported in matches: the Sigma `id`, else `name`, else the title.
    pub id: String,
    /// Detection or correlation (and which type).
    pub kind: RuleKind,
    /// Level used in matches (`medium` when the rule sets none).
    pub level: Level,
    /// The rule's metadata as written (title, tags, references, log source, ...).
    #[serde(flatten)]
    pub meta: RuleMeta,
    /// The name the rule text was loaded under.
    pub source: String,
    /// 1-based index of the rule's YAML document within its source.
    #[serde(default)]
    pub document: usize,
    /// 1-based line of the source where the document's content starts.
    #[serde(default)]
    pub line: usize,
    /// False when only correlations use the rule (Sigma's `generate: false`).
    pub emits: bool,
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The rule's identifier ([`RuleInfo::id`]).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's level ([`RuleInfo::level`]).
    pub level: Level,
    /// Detection or correlation (and which type).
    pub kind: RuleKind,
    /// The matched events: one for a detection, the window's events for a correlation.
    pub event_ids: Vec<String>,
    /// `field=value` pairs of the correlation's `group-by`, joined by `, `.
    pub group_key: Option<String>,
    /// The correlation's `group-by` fields with the group's values (`None`
    /// when an event lacked the field); empty for detections.
    pub group: Vec<(String, Option<String>)>,
    /// RFC 3339 start of the matched events (the event's time for detections).
    pub window_start: String,
    /// RFC 3339 end of the matched events (the event's time for detections).
    pub window_end: String,
    /// The aggregate that met a correlation's condition (count, sum, ...).
    pub value: Option<f64>,
}

/// What one batch produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Rules that fired, in the order they fired.
    pub matches: Vec<Match>,
    /// What went wrong without stopping the batch.
    pub issues: Vec<EvalIssue>,
}

/// A detection rule ready to test events.
struct CompiledRule {
    info: RuleInfo,
    detection: Detection,
    /// Sigma filters that name this rule: a match of any of them cancels the rule's.
    filters: Vec<Detection>,
    /// (correlation, position in its `rules`) that this rule feeds.
    parents: Vec<(usize, usize)>,
}

impl CompiledRule {
    /// Whether the rule matches the event and no filter of it does.
    fn fires_on(&self, ctx: &Ctx<'_>) -> bool {
        self.detection.matches(ctx) && !self.filters.iter().any(|f| f.matches(ctx))
    }
}

/// A correlation rule with its references resolved to indices.
struct CompiledCorrelation {
    info: RuleInfo,
    kind: CorrelationType,
    /// How many rules the correlation references.
    n_rules: usize,
    group_by: Vec<String>,
    /// Per referenced rule: the fields to read for each group-by entry (aliases applied).
    group_fields: Vec<Vec<Field>>,
    /// Per referenced rule: the fields whose values are aggregated (aliases applied).
    value_fields: Vec<Vec<Field>>,
    /// The `timespan`, in milliseconds.
    span: i64,
    condition: Vec<(CmpOp, f64)>,
    /// Judged as each entry arrives (lower bounds only), rather than when the window closes.
    monotone: bool,
    /// Prefix of the state keys of this correlation's windows (one per group).
    key_prefix: String,
    /// (correlation, position in its `rules`) that this correlation feeds.
    parents: Vec<(usize, usize)>,
}

/// The rules that apply to one event source, and its field mapping.
struct SourceIndex {
    map: FieldMap,
    rules: Vec<usize>,
}

/// The compiled rule set. Evaluation takes `&self`: all state is in the store.
pub struct Engine {
    config: EngineConfig,
    rules: Vec<CompiledRule>,
    correlations: Vec<CompiledCorrelation>,
    sources: HashMap<String, SourceIndex>,
    /// Every detection rule, for events of sources without a mapping.
    all_rules: Vec<usize>,
}

impl Engine {
    /// Loads `(name, yaml_text)` rule sources. Rules that fail are left out and
    /// reported; everything else loads.
    pub fn load<N: AsRef<str>, T: AsRef<str>>(
        sources: &[(N, T)],
        config: EngineConfig,
    ) -> (Engine, Vec<LoadError>) {
        load::load(sources, config)
    }

    /// Every loaded rule: detection rules first, then correlations.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules
            .iter()
            .map(|r| &r.info)
            .chain(self.correlations.iter().map(|c| &c.info))
    }

    /// The settings the engine was loaded with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Evaluates a batch in time order; correlation windows carry over in `state`.
    pub fn evaluate(&self, events: &[Event], state: &mut dyn StateStore) -> Vec<Match> {
        self.evaluate_detailed(events, state).matches
    }

    /// As `evaluate`, also reporting what went wrong without stopping the batch.
    pub fn evaluate_detailed(&self, events: &[Event], state: &mut dyn StateStore) -> Evaluation {
        let mut sess = Session::new(state);
        let mut out = Vec::new();
        let times: Vec<Option<i64>> = events.iter().map(|e| event::parse_time(&e.time)).collect();
        let mut newest: Option<i64> = None;
        for i in time_order(&times) {
            let Some((map, rules)) = self.rules_for(&events[i].source) else {
                continue;
            };
            self.test_event(&events[i], times[i], map, rules, &mut sess, &mut out);
            if let Some(t) = times[i] {
                newest = Some(newest.map_or(t, |n| n.max(t)));
            }
        }
        if !self.correlations.is_empty() {
            let watermark = self.advance_watermark(&mut sess, newest);
            self.sweep(&mut sess, watermark, false, &mut out);
        }
        finish(sess, out)
    }

    /// Ends the input: judges every open window whose condition waits for the
    /// window to close (upper bounds, averages, percentiles) and clears it.
    pub fn flush(&self, state: &mut dyn StateStore) -> Evaluation {
        let mut sess = Session::new(state);
        let mut out = Vec::new();
        self.sweep(&mut sess, None, true, &mut out);
        finish(sess, out)
    }

    /// The field mapping and the rules for events of `source`; `None` when
    /// such events are to be ignored (an unmapped source, and
    /// `match_unknown_sources` is off).
    fn rules_for(&self, source: &str) -> Option<(Option<&FieldMap>, &[usize])> {
        match self.sources.get(source) {
            Some(s) => Some((Some(&s.map), s.rules.as_slice())),
            None if self.config.match_unknown_sources => Some((None, self.all_rules.as_slice())),
            None => None,
        }
    }

    /// Tests one event against `rules`: reports the detections that fire and
    /// feeds them to the correlations they belong to.
    fn test_event(
        &self,
        ev: &Event,
        time: Option<i64>,
        map: Option<&FieldMap>,
        rules: &[usize],
        sess: &mut Session<'_>,
        out: &mut Vec<Match>,
    ) {
        let ctx = Ctx {
            body: &ev.body,
            map: map.filter(|m| !m.is_empty()),
        };
        let mut warned = false;
        for rule in rules.iter().map(|&r| &self.rules[r]) {
            if !rule.fires_on(&ctx) {
                continue;
            }
            if rule.info.emits {
                out.push(detection_match(&rule.info, ev, time));
            }
            if rule.parents.is_empty() {
                continue;
            }
            let Some(t) = time else {
                // Correlations need the time; say so once per event.
                if !warned {
                    sess.issues.push(EvalIssue::BadTime {
                        event_id: ev.id.clone(),
                        time: ev.time.clone(),
                    });
                    warned = true;
                }
                continue;
            };
            for &(c, pos) in &rule.parents {
                let hit = Hit {
                    t,
                    ids: vec![ev.id.clone()],
                    src: HitSource::Event(Ctx {
                        body: &ev.body,
                        map: ctx.map,
                    }),
                };
                self.hit(sess, c, pos, hit, out);
            }
        }
    }

    /// Moves the stored watermark (the newest event time seen) up to
    /// `newest`, and returns it.
    fn advance_watermark(&self, sess: &mut Session<'_>, newest: Option<i64>) -> Option<i64> {
        let key = format!("{}/watermark", self.config.state_prefix);
        let stored = sess
            .get_raw(&key)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<i64>().ok());
        let watermark = match (stored, newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(w) = watermark
            && Some(w) != stored
        {
            sess.set_raw(&key, w.to_string().into_bytes());
        }
        watermark
    }
}

/// Event indices in time order; events whose time cannot be read come first,
/// and ties keep their order in the batch.
fn time_order(times: &[Option<i64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| (times[i].unwrap_or(i64::MIN), i));
    order
}

/// The match a detection rule reports for one event.
fn detection_match(info: &RuleInfo, ev: &Event, time: Option<i64>) -> Match {
    let when = time
        .map(event::format_time)
        .unwrap_or_else(|| ev.time.clone());
    Match {
        rule_id: info.id.clone(),
        title: info.meta.title.clone(),
        level: info.level,
        kind: RuleKind::Detection,
        event_ids: vec![ev.id.clone()],
        group_key: None,
        group: Vec::new(),
        window_start: when.clone(),
        window_end: when,
        value: None,
    }
}

/// Writes the session's changes back and packs up what the call produced.
fn finish(sess: Session<'_>, matches: Vec<Match>) -> Evaluation {
    let issues = sess.commit();
    Evaluation { matches, issues }
}
