//! The engine: loads rule texts into compiled rules and correlations, routes
//! each event to the rules of its log source, and keeps correlation windows
//! in the caller's `StateStore`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::correlation::{self, Entry, Session, StateStore, Window};
use crate::detection::Detection;
use crate::error::{EvalIssue, LoadError};
use crate::event::{self, Event, Field, FieldMap};
use crate::modifiers::{CmpOp, Ctx, Placeholders};
use crate::rule::{self, CorrelationType, DocKind, Level, LogSource, RuleMeta};

/// One JSON path or several (tried in turn, any may match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldTarget {
    One(String),
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
    Detection,
    Correlation(CorrelationType),
}

/// A loaded rule as the engine lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// The identifier reported in matches: the Sigma `id`, else `name`, else the title.
    pub id: String,
    pub kind: RuleKind,
    /// Level used in matches (`medium` when the rule sets none).
    pub level: Level,
    #[serde(flatten)]
    pub meta: RuleMeta,
    /// The name the rule text was loaded under.
    pub source: String,
    /// False when only correlations use the rule (Sigma's `generate: false`).
    pub emits: bool,
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    pub kind: RuleKind,
    pub event_ids: Vec<String>,
    /// `field=value` pairs of the correlation's `group-by`, joined by `, `.
    pub group_key: Option<String>,
    pub group: Vec<(String, Option<String>)>,
    /// RFC 3339 bounds of the matched events (both the event's time for detections).
    pub window_start: String,
    pub window_end: String,
    /// The aggregate that met a correlation's condition (count, sum, ...).
    pub value: Option<f64>,
}

/// What one batch produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub matches: Vec<Match>,
    pub issues: Vec<EvalIssue>,
}

struct CompiledRule {
    info: RuleInfo,
    detection: Detection,
    filters: Vec<Detection>,
    /// (correlation, position in its `rules`) that this rule feeds.
    parents: Vec<(usize, usize)>,
}

#[derive(Clone, Copy)]
enum Target {
    Rule(usize),
    Corr(usize),
}

struct CompiledCorrelation {
    info: RuleInfo,
    kind: CorrelationType,
    n_rules: usize,
    group_by: Vec<String>,
    /// Per referenced rule: the fields to read for each group-by entry (aliases applied).
    group_fields: Vec<Vec<Field>>,
    value_fields: Vec<Vec<Field>>,
    span: i64,
    condition: Vec<(CmpOp, f64)>,
    monotone: bool,
    key_prefix: String,
    parents: Vec<(usize, usize)>,
}

struct SourceIndex {
    map: FieldMap,
    rules: Vec<usize>,
}

enum HitSource<'a> {
    Event(Ctx<'a>),
    Group(&'a [(String, Option<String>)]),
}

struct Hit<'a> {
    t: i64,
    ids: Vec<String>,
    src: HitSource<'a>,
}

/// The compiled rule set. Evaluation takes `&self`: all state is in the store.
pub struct Engine {
    config: EngineConfig,
    rules: Vec<CompiledRule>,
    correlations: Vec<CompiledCorrelation>,
    sources: HashMap<String, SourceIndex>,
    all_rules: Vec<usize>,
}

fn effective_id(meta: &RuleMeta) -> String {
    meta.id
        .clone()
        .or_else(|| meta.name.clone())
        .unwrap_or_else(|| meta.title.clone())
}

fn load_error(doc: &rule::Doc, field: Option<&str>, message: String) -> LoadError {
    LoadError {
        file: doc.source.clone(),
        document: doc.document,
        title: Some(doc.meta.title.clone()),
        field: field.map(str::to_string),
        message,
    }
}

impl Engine {
    /// Loads `(name, yaml_text)` rule sources. Rules that fail are left out and
    /// reported; everything else loads.
    pub fn load<N: AsRef<str>, T: AsRef<str>>(
        sources: &[(N, T)],
        config: EngineConfig,
    ) -> (Engine, Vec<LoadError>) {
        let mut errors = Vec::new();
        let mut docs = Vec::new();
        for (name, text) in sources {
            let (d, e) = rule::read_source(name.as_ref(), text.as_ref(), &config.placeholders);
            docs.extend(d);
            errors.extend(e);
        }

        let mut rules: Vec<CompiledRule> = Vec::new();
        let mut corr_docs: Vec<(rule::Doc, rule::CorrelationSpec)> = Vec::new();
        let mut filters = Vec::new();
        let mut names: HashMap<String, Target> = HashMap::new();
        let mut ids_seen: HashMap<String, String> = HashMap::new();

        for doc in docs {
            let id = effective_id(&doc.meta);
            if let Some(prev) = doc.meta.id.as_ref().and_then(|i| ids_seen.get(i)) {
                let msg = format!("id {id} is already used by a rule in {prev}");
                errors.push(load_error(&doc, Some("id"), msg));
                continue;
            }
            if let Some(i) = &doc.meta.id {
                ids_seen.insert(i.clone(), doc.source.clone());
            }
            match doc.kind.clone() {
                DocKind::Detection(detection) => {
                    let idx = rules.len();
                    for key in [&doc.meta.id, &doc.meta.name].into_iter().flatten() {
                        names.entry(key.clone()).or_insert(Target::Rule(idx));
                    }
                    rules.push(CompiledRule {
                        info: RuleInfo {
                            id,
                            kind: RuleKind::Detection,
                            level: doc.meta.level.unwrap_or(Level::Medium),
                            meta: doc.meta.clone(),
                            source: doc.source.clone(),
                            emits: true,
                        },
                        detection,
                        filters: Vec::new(),
                        parents: Vec::new(),
                    });
                }
                DocKind::Correlation(spec) => corr_docs.push((doc, spec)),
                DocKind::Filter { rules, detection } => filters.push((doc, rules, detection)),
            }
        }
        for (i, (doc, _)) in corr_docs.iter().enumerate() {
            for key in [&doc.meta.id, &doc.meta.name].into_iter().flatten() {
                names.entry(key.clone()).or_insert(Target::Corr(i));
            }
        }

        for (doc, targets, detection) in filters {
            for t in targets {
                match names.get(&t) {
                    Some(Target::Rule(r)) => rules[*r].filters.push(detection.clone()),
                    Some(Target::Corr(_)) => errors.push(load_error(
                        &doc,
                        Some("filter.rules"),
                        format!("'{t}' is a correlation rule; filters apply to detection rules"),
                    )),
                    None => errors.push(load_error(
                        &doc,
                        Some("filter.rules"),
                        format!("no loaded rule has the id or name '{t}'"),
                    )),
                }
            }
        }

        // Resolve correlations; one whose references are missing, failed or
        // cyclic is dropped (and so is anything built on it).
        let mut resolved: Vec<Option<Vec<Target>>> = Vec::with_capacity(corr_docs.len());
        for (doc, spec) in &corr_docs {
            let mut refs = Vec::new();
            let mut ok = true;
            for r in &spec.rules {
                match names.get(r) {
                    Some(t) => refs.push(*t),
                    None => {
                        ok = false;
                        errors.push(load_error(
                            doc,
                            Some("correlation.rules"),
                            format!("no loaded rule has the id or name '{r}'"),
                        ));
                    }
                }
            }
            resolved.push(ok.then_some(refs));
        }
        let mut valid = vec![false; corr_docs.len()];
        loop {
            let mut changed = false;
            for i in 0..corr_docs.len() {
                if valid[i] {
                    continue;
                }
                if let Some(refs) = &resolved[i]
                    && refs.iter().all(|t| match t {
                        Target::Rule(_) => true,
                        Target::Corr(c) => valid[*c],
                    })
                {
                    valid[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut new_index = vec![usize::MAX; corr_docs.len()];
        let mut next = 0;
        for i in 0..corr_docs.len() {
            if valid[i] {
                new_index[i] = next;
                next += 1;
            } else if resolved[i].is_some() {
                errors.push(load_error(
                    &corr_docs[i].0,
                    Some("correlation.rules"),
                    "refers to a correlation that did not load or refers back to this one"
                        .to_string(),
                ));
            }
        }

        let mut correlations: Vec<CompiledCorrelation> = Vec::with_capacity(next);
        let mut referenced_by: Vec<Vec<bool>> = vec![Vec::new(); rules.len()];
        let mut corr_referenced_by: Vec<Vec<bool>> = vec![Vec::new(); next];
        for (i, (doc, spec)) in corr_docs.iter().enumerate() {
            if !valid[i] {
                continue;
            }
            let ci = new_index[i];
            let refs = resolved[i].clone().unwrap_or_default();
            let mut group_fields = Vec::with_capacity(refs.len());
            let mut value_fields = Vec::with_capacity(refs.len());
            let mut levels = Vec::new();
            for (pos, t) in refs.iter().enumerate() {
                let keys: Vec<String> = match t {
                    Target::Rule(r) => {
                        rules[*r].parents.push((ci, pos));
                        referenced_by[*r].push(spec.generate);
                        levels.push(rules[*r].info.level);
                        let m = &rules[*r].info.meta;
                        [&m.id, &m.name].into_iter().flatten().cloned().collect()
                    }
                    Target::Corr(c) => {
                        let m = &corr_docs[*c].0.meta;
                        [&m.id, &m.name].into_iter().flatten().cloned().collect()
                    }
                };
                let field_for = |f: &String| {
                    let aliased = spec
                        .aliases
                        .get(f)
                        .and_then(|per| keys.iter().find_map(|k| per.get(k)))
                        .unwrap_or(f);
                    Field::new(aliased)
                };
                group_fields.push(spec.group_by.iter().map(field_for).collect());
                value_fields.push(spec.fields.iter().map(field_for).collect());
            }
            let mut key = effective_id(&doc.meta)
                .replace('%', "%25")
                .replace('/', "%2F");
            key.insert_str(0, &format!("{}/w/", config.state_prefix));
            key.push('/');
            let level = doc
                .meta
                .level
                .or_else(|| levels.iter().max().copied())
                .unwrap_or(Level::Medium);
            correlations.push(CompiledCorrelation {
                info: RuleInfo {
                    id: effective_id(&doc.meta),
                    kind: RuleKind::Correlation(spec.kind),
                    level,
                    meta: doc.meta.clone(),
                    source: doc.source.clone(),
                    emits: true,
                },
                kind: spec.kind,
                n_rules: refs.len(),
                group_by: spec.group_by.clone(),
                group_fields,
                value_fields,
                span: spec.timespan_ms,
                condition: spec.condition.clone(),
                monotone: correlation::is_monotone(spec.kind, &spec.condition),
                key_prefix: key,
                parents: Vec::new(),
            });
            for (pos, t) in refs.iter().enumerate() {
                if let Target::Corr(c) = t {
                    corr_referenced_by[new_index[*c]].push(spec.generate);
                }
                let _ = pos;
            }
        }
        // Parent links between correlations, now that indices are final.
        for (i, (_, _)) in corr_docs.iter().enumerate() {
            if !valid[i] {
                continue;
            }
            let ci = new_index[i];
            let refs = resolved[i].clone().unwrap_or_default();
            for (pos, t) in refs.iter().enumerate() {
                if let Target::Corr(c) = t {
                    correlations[new_index[*c]].parents.push((ci, pos));
                }
            }
        }
        for (r, by) in referenced_by.iter().enumerate() {
            if !by.is_empty() {
                rules[r].info.emits = by.iter().any(|g| *g);
            }
        }
        for (c, by) in corr_referenced_by.iter().enumerate() {
            if !by.is_empty() {
                correlations[c].info.emits = by.iter().any(|g| *g);
            }
        }

        let mut index = HashMap::new();
        for s in &config.sources {
            let map: FieldMap = s
                .fields
                .iter()
                .map(|(k, v)| {
                    let paths = match v {
                        FieldTarget::One(p) => vec![event::split_path(p)],
                        FieldTarget::Many(ps) => ps.iter().map(|p| event::split_path(p)).collect(),
                    };
                    (k.clone(), paths)
                })
                .collect();
            let applicable = (0..rules.len())
                .filter(|&r| rules[r].info.meta.logsource.applies_to(&s.logsource))
                .collect();
            index.insert(
                s.source.clone(),
                SourceIndex {
                    map,
                    rules: applicable,
                },
            );
        }
        let all_rules = (0..rules.len()).collect();
        (
            Engine {
                config,
                rules,
                correlations,
                sources: index,
                all_rules,
            },
            errors,
        )
    }

    /// Every loaded rule: detection rules first, then correlations.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules
            .iter()
            .map(|r| &r.info)
            .chain(self.correlations.iter().map(|c| &c.info))
    }

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
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (times[i].unwrap_or(i64::MIN), i));
        let mut newest: Option<i64> = None;
        for i in order {
            let ev = &events[i];
            let (map, rule_ids) = match self.sources.get(&ev.source) {
                Some(s) => (Some(&s.map), s.rules.as_slice()),
                None if self.config.match_unknown_sources => (None, self.all_rules.as_slice()),
                None => continue,
            };
            let ctx = Ctx {
                body: &ev.body,
                map: map.filter(|m| !m.is_empty()),
            };
            let mut warned = false;
            for &r in rule_ids {
                let rule = &self.rules[r];
                if !rule.detection.matches(&ctx) || rule.filters.iter().any(|f| f.matches(&ctx)) {
                    continue;
                }
                if rule.info.emits {
                    let when = times[i]
                        .map(event::format_time)
                        .unwrap_or_else(|| ev.time.clone());
                    out.push(Match {
                        rule_id: rule.info.id.clone(),
                        title: rule.info.meta.title.clone(),
                        level: rule.info.level,
                        kind: RuleKind::Detection,
                        event_ids: vec![ev.id.clone()],
                        group_key: None,
                        group: Vec::new(),
                        window_start: when.clone(),
                        window_end: when,
                        value: None,
                    });
                }
                if rule.parents.is_empty() {
                    continue;
                }
                let Some(t) = times[i] else {
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
                    self.hit(&mut sess, c, pos, hit, &mut out);
                }
            }
            if let Some(t) = times[i] {
                newest = Some(newest.map_or(t, |n: i64| n.max(t)));
            }
        }
        if !self.correlations.is_empty() {
            let wm_key = format!("{}/watermark", self.config.state_prefix);
            let stored = sess
                .get_raw(&wm_key)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<i64>().ok());
            let watermark = match (stored, newest) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if let Some(w) = watermark
                && Some(w) != stored
            {
                sess.set_raw(&wm_key, w.to_string().into_bytes());
            }
            self.sweep(&mut sess, watermark, false, &mut out);
        }
        let issues = sess.commit();
        Evaluation {
            matches: out,
            issues,
        }
    }

    /// Ends the input: judges every open window whose condition waits for the
    /// window to close (upper bounds, averages, percentiles) and clears it.
    pub fn flush(&self, state: &mut dyn StateStore) -> Evaluation {
        let mut sess = Session::new(state);
        let mut out = Vec::new();
        self.sweep(&mut sess, None, true, &mut out);
        let issues = sess.commit();
        Evaluation {
            matches: out,
            issues,
        }
    }

    fn resolve(&self, fields: &[Field], src: &HitSource<'_>) -> Vec<Option<String>> {
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

    fn hit(
        &self,
        sess: &mut Session<'_>,
        ci: usize,
        pos: usize,
        hit: Hit<'_>,
        out: &mut Vec<Match>,
    ) {
        let c = &self.correlations[ci];
        let group = self.resolve(&c.group_fields[pos], &hit.src);
        let v = if c.value_fields[pos].is_empty() {
            None
        } else {
            let vals = self.resolve(&c.value_fields[pos], &hit.src);
            vals.into_iter()
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
        let fired = {
            let w = sess.window(&key);
            if w.entries.is_empty() {
                w.group = group.clone();
            }
            if c.monotone {
                w.insert(entry);
                let end = w.end().unwrap_or(hit.t);
                w.entries.retain(|e| e.t >= end.saturating_sub(c.span));
                correlation::satisfied(c.kind, &c.condition, c.n_rules, w)
                    .map(|value| (std::mem::take(w), value))
            } else {
                let mut closed = None;
                if let Some(start) = w.start()
                    && hit.t > start.saturating_add(c.span)
                {
                    let old = std::mem::take(w);
                    if let Some(value) =
                        correlation::satisfied(c.kind, &c.condition, c.n_rules, &old)
                    {
                        closed = Some((old, value));
                    }
                    w.group = group.clone();
                }
                w.insert(entry);
                closed
            }
        };
        if let Some((w, value)) = fired {
            self.fire(sess, ci, w, value, out);
        }
    }

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
            let group_key = (!group.is_empty()).then(|| {
                group
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            out.push(Match {
                rule_id: c.info.id.clone(),
                title: c.info.meta.title.clone(),
                level: c.info.level,
                kind: c.info.kind,
                event_ids: ids.clone(),
                group_key,
                group: group.clone(),
                window_start: event::format_time(start),
                window_end: event::format_time(end),
                value: Some(value),
            });
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
    fn sweep(
        &self,
        sess: &mut Session<'_>,
        watermark: Option<i64>,
        flush: bool,
        out: &mut Vec<Match>,
    ) {
        for (ci, c) in self.correlations.iter().enumerate() {
            let keys = sess.keys(&c.key_prefix);
            for key in keys {
                if c.monotone {
                    let Some(wm) = watermark else { continue };
                    let w = sess.window_clean(&key);
                    let before = w.entries.len();
                    w.entries.retain(|e| e.t >= wm.saturating_sub(c.span));
                    if w.entries.len() != before {
                        sess.mark(&key);
                    }
                } else {
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
                    if let Some(value) =
                        correlation::satisfied(c.kind, &c.condition, c.n_rules, &old)
                    {
                        self.fire(sess, ci, old, value, out);
                    }
                }
            }
        }
    }
}
