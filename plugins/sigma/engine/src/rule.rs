//! Rule documents: YAML text (one or many documents, with `action: global`,
//! `reset` and `repeat`) read into detection rules, correlation rules and
//! filters, with their metadata.
//!
//! Each document is read on its own: compiling detections is `detection`'s
//! job, and resolving the references between rules is the engine loader's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_norway::Value as Yaml;

use crate::detection::{Detection, key_text, untag};
use crate::error::{LoadError, RuleError};
use crate::event::check_path;
use crate::modifiers::{CmpOp, Placeholders};

/// Severity of a rule, from `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `informational` (also read from `info`).
    Informational,
    /// `low`.
    Low,
    /// `medium`: also the level of a rule that sets none.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Level {
    /// The level named `s`, in any case.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The level's name as Sigma writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// `logsource`: which logs a rule reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSource {
    /// `category` (`process_creation`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `product` (`aws`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `service` (`cloudtrail`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl LogSource {
    /// Whether a rule with this log source reads logs described by `binding`:
    /// every attribute the rule names must be named alike by the binding.
    pub fn applies_to(&self, binding: &LogSource) -> bool {
        let ok = |rule: &Option<String>, b: &Option<String>| match rule {
            None => true,
            Some(r) => b.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(r)),
        };
        ok(&self.category, &binding.category)
            && ok(&self.product, &binding.product)
            && ok(&self.service, &binding.service)
    }
}

/// What every rule document carries besides its logic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleMeta {
    /// `id`: the rule's identifier (a UUID in SigmaHQ).
    pub id: Option<String>,
    /// `name`: a readable identifier that correlations and filters may use.
    pub name: Option<String>,
    /// `title`: the one field every rule must have.
    pub title: String,
    /// `description`.
    pub description: Option<String>,
    /// `status` (`stable`, `test`, `experimental`, ...), as written.
    pub status: Option<String>,
    /// `level`, when the rule sets one.
    pub level: Option<Level>,
    /// `author`.
    pub author: Option<String>,
    /// `tags` (`attack.t1078`, ...).
    pub tags: Vec<String>,
    /// `references`: links that explain the rule.
    pub references: Vec<String>,
    /// `falsepositives`: known benign causes of a match.
    pub falsepositives: Vec<String>,
    /// `logsource`: which logs the rule reads.
    pub logsource: LogSource,
}

/// The correlation types: the four of the specification and the value aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    /// `event_count`: how many events matched.
    EventCount,
    /// `value_count`: how many different values of a field they carry.
    ValueCount,
    /// `temporal`: how many of the referenced rules matched, in any order.
    Temporal,
    /// `temporal_ordered`: how many of the referenced rules matched in the order listed.
    TemporalOrdered,
    /// `value_sum`: the sum of a numeric field.
    ValueSum,
    /// `value_avg`: the mean of a numeric field.
    ValueAvg,
    /// `value_percentile`: the share in percent of the events carrying a
    /// value, for the rarest value that meets the condition.
    ValuePercentile,
    /// `value_min`: the least value of a numeric field.
    ValueMin,
    /// `value_max`: the greatest value of a numeric field.
    ValueMax,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_min" => CorrelationType::ValueMin,
            "value_max" => CorrelationType::ValueMax,
            _ => return None,
        })
    }

    /// The type's name as Sigma writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMin => "value_min",
            CorrelationType::ValueMax => "value_max",
        }
    }

    /// Whether the type aggregates the values of a field (`value_*`).
    pub fn needs_field(self) -> bool {
        !matches!(
            self,
            CorrelationType::EventCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        )
    }
}

/// A correlation condition: comparisons on the aggregate, all of which must hold.
pub type Condition = Vec<(CmpOp, f64)>;

/// Correlation `aliases`: alias → (rule id or name → field).
pub type Aliases = BTreeMap<String, BTreeMap<String, String>>;

/// The `correlation` section, before rule references are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationSpec {
    /// `type`.
    pub kind: CorrelationType,
    /// `rules`: the ids or names of the rules correlated.
    pub rules: Vec<String>,
    /// `group-by`: fields whose values split the events into groups.
    pub group_by: Vec<String>,
    /// `timespan`, in milliseconds.
    pub timespan_ms: i64,
    /// `timespan`, as written.
    pub timespan: String,
    /// AND-ed comparisons on the aggregate; empty for temporal types without a condition.
    pub condition: Condition,
    /// The field(s) whose values the `value_*` types aggregate.
    pub fields: Vec<String>,
    /// alias → (rule id or name → field).
    pub aliases: Aliases,
    /// `generate`: the referenced rules report their own matches too.
    pub generate: bool,
}

/// What a rule document is.
#[derive(Debug, Clone)]
pub enum DocKind {
    /// A detection rule.
    Detection(Detection),
    /// A correlation rule, its references not yet resolved.
    Correlation(CorrelationSpec),
    /// A Sigma filter: excluded from the named rules when its detection matches.
    Filter {
        /// The ids or names of the rules it applies to.
        rules: Vec<String>,
        /// What, when it matches, cancels those rules' matches.
        detection: Detection,
    },
}

/// One successfully read rule document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The name the rule text was given.
    pub source: String,
    /// 1-based index of the YAML document within the source.
    pub document: usize,
    /// 1-based line of the source where the document's content starts.
    pub line: usize,
    /// The rule's metadata.
    pub meta: RuleMeta,
    /// The rule's logic.
    pub kind: DocKind,
}

/// `over` merged into `base`, maps key by key (for `action: global` and `repeat`).
fn merge(base: &Yaml, over: &Yaml) -> Yaml {
    match (base, over) {
        (Yaml::Mapping(b), Yaml::Mapping(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Yaml::Mapping(out)
        }
        (_, o) => o.clone(),
    }
}

/// The value at `key`, with YAML tags removed.
fn get<'a>(map: &'a serde_norway::Mapping, key: &str) -> Option<&'a Yaml> {
    map.get(key).map(untag)
}

/// An optional scalar field, as text.
fn opt_string(map: &serde_norway::Mapping, key: &str) -> Result<Option<String>, RuleError> {
    match get(map, key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s.clone())),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(Yaml::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(RuleError::at(key, "must be a string")),
    }
}

/// A field that holds a string or a list of strings.
fn string_list(map: &serde_norway::Mapping, key: &str) -> Result<Vec<String>, RuleError> {
    match get(map, key) {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| key_text(i).ok_or_else(|| RuleError::at(key, "must be a list of strings")))
            .collect(),
        Some(other) => key_text(other)
            .map(|s| vec![s])
            .ok_or_else(|| RuleError::at(key, "must be a string or a list of strings")),
    }
}

/// Everything a rule document carries besides its logic.
fn read_meta(map: &serde_norway::Mapping) -> Result<RuleMeta, RuleError> {
    let title = opt_string(map, "title")?.ok_or_else(|| RuleError::at("title", "is missing"))?;
    let level = match opt_string(map, "level")? {
        None => None,
        Some(l) => Some(Level::parse(&l).ok_or_else(|| {
            RuleError::at(
                "level",
                format!("'{l}' is not one of informational, low, medium, high, critical"),
            )
        })?),
    };
    let logsource = match get(map, "logsource") {
        None => LogSource::default(),
        Some(Yaml::Mapping(ls)) => LogSource {
            category: opt_string(ls, "category").map_err(|e| e.within("logsource"))?,
            product: opt_string(ls, "product").map_err(|e| e.within("logsource"))?,
            service: opt_string(ls, "service").map_err(|e| e.within("logsource"))?,
        },
        Some(_) => return Err(RuleError::at("logsource", "must be a map")),
    };
    Ok(RuleMeta {
        id: opt_string(map, "id")?,
        name: opt_string(map, "name")?,
        title,
        description: opt_string(map, "description")?,
        status: opt_string(map, "status")?,
        level,
        author: opt_string(map, "author")?,
        tags: string_list(map, "tags")?,
        references: string_list(map, "references")?,
        falsepositives: string_list(map, "falsepositives")?,
        logsource,
    })
}

/// Parses a timespan (`30s`, `5m`, `1h`, `2d`, `1w`) into milliseconds.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

/// Reads a `correlation` section; `top` is the whole document (where
/// `generate` may also sit).
fn read_correlation(
    map: &serde_norway::Mapping,
    top: &serde_norway::Mapping,
) -> Result<CorrelationSpec, RuleError> {
    let (kind, kind_text) = read_type(map)?;
    let rules = string_list(map, "rules")?;
    if rules.is_empty() {
        return Err(RuleError::at("rules", "must name at least one rule"));
    }
    let group_by = string_list(map, "group-by")?;
    let (timespan, timespan_ms) = read_timespan(map)?;
    let fields = string_list(map, "field")?;
    let (condition, fields) = read_condition(map, fields)?;
    check_condition(kind, &kind_text, &condition, &fields)?;
    let aliases = read_aliases(map)?;
    for (key, names) in [("group-by", &group_by), ("field", &fields)] {
        for name in names {
            check_path(name).map_err(|e| e.within(key))?;
        }
    }
    for (alias, per_rule) in &aliases {
        for name in per_rule.values() {
            check_path(name).map_err(|e| e.within(&format!("aliases.{alias}")))?;
        }
    }
    Ok(CorrelationSpec {
        kind,
        rules,
        group_by,
        timespan_ms,
        timespan,
        condition,
        fields,
        aliases,
        generate: read_generate(map, top)?,
    })
}

/// `type`, parsed and as written.
fn read_type(map: &serde_norway::Mapping) -> Result<(CorrelationType, String), RuleError> {
    let text = opt_string(map, "type")?.ok_or_else(|| RuleError::at("type", "is missing"))?;
    let kind = CorrelationType::parse(&text).ok_or_else(|| {
        RuleError::at(
            "type",
            format!("'{text}' is not event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_min or value_max"),
        )
    })?;
    Ok((kind, text))
}

/// `timespan`, as written and in milliseconds.
fn read_timespan(map: &serde_norway::Mapping) -> Result<(String, i64), RuleError> {
    let text =
        opt_string(map, "timespan")?.ok_or_else(|| RuleError::at("timespan", "is missing"))?;
    let ms = parse_timespan(&text).ok_or_else(|| {
        RuleError::at(
            "timespan",
            format!("'{text}' is not a number followed by s, m, h, d or w"),
        )
    })?;
    Ok((text, ms))
}

/// `condition`: its comparisons, and the aggregated fields (a `field` inside
/// the condition replaces `fields`, read from the section's own `field`).
fn read_condition(
    map: &serde_norway::Mapping,
    mut fields: Vec<String>,
) -> Result<(Condition, Vec<String>), RuleError> {
    let mut condition = Vec::new();
    match get(map, "condition") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(c)) => {
            for (k, v) in c {
                let key = key_text(k).unwrap_or_default();
                if key == "field" {
                    fields = string_list(c, "field").map_err(|e| e.within("condition"))?;
                    continue;
                }
                condition.push(read_comparison(&key, v)?);
            }
        }
        Some(_) => {
            return Err(RuleError::at(
                "condition",
                "must be a map such as {gte: 10}",
            ));
        }
    }
    Ok((condition, fields))
}

/// One `op: number` entry of a correlation condition.
fn read_comparison(key: &str, value: &Yaml) -> Result<(CmpOp, f64), RuleError> {
    let op = CmpOp::parse(key).ok_or_else(|| {
        RuleError::at(
            format!("condition.{key}"),
            "is not gt, gte, lt, lte, eq, neq or field",
        )
    })?;
    let n = match untag(value) {
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| RuleError::at(format!("condition.{key}"), "must be a number"))?;
    Ok((op, n))
}

/// Only the temporal types may go without a condition; the value types need
/// the field they aggregate.
fn check_condition(
    kind: CorrelationType,
    kind_text: &str,
    condition: &[(CmpOp, f64)],
    fields: &[String],
) -> Result<(), RuleError> {
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    if condition.is_empty() && !temporal {
        return Err(RuleError::at(
            "condition",
            format!("{kind_text} needs a condition such as {{gte: 10}}"),
        ));
    }
    if kind.needs_field() && fields.is_empty() {
        return Err(RuleError::at(
            "condition.field",
            format!("{kind_text} needs the field whose values it aggregates"),
        ));
    }
    Ok(())
}

/// `aliases`: alias → (rule id or name → field).
fn read_aliases(map: &serde_norway::Mapping) -> Result<Aliases, RuleError> {
    let mut aliases = BTreeMap::new();
    match get(map, "aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(a)) => {
            for (alias, per_rule) in a {
                let alias = key_text(alias).unwrap_or_default();
                let per_rule = read_alias(untag(per_rule)).ok_or_else(|| {
                    RuleError::at(format!("aliases.{alias}"), "must map rule names to fields")
                })?;
                aliases.insert(alias, per_rule);
            }
        }
        Some(_) => return Err(RuleError::at("aliases", "must be a map")),
    }
    Ok(aliases)
}

/// One alias: a map of rule names to fields, all of them strings.
fn read_alias(per_rule: &Yaml) -> Option<BTreeMap<String, String>> {
    let Yaml::Mapping(per_rule) = per_rule else {
        return None;
    };
    per_rule
        .iter()
        .map(|(r, f)| Some((key_text(r)?, key_text(f)?)))
        .collect()
}

/// `generate`, in the correlation section or at the top of the document.
fn read_generate(
    map: &serde_norway::Mapping,
    top: &serde_norway::Mapping,
) -> Result<bool, RuleError> {
    match get(map, "generate").or_else(|| get(top, "generate")) {
        None | Some(Yaml::Null) => Ok(false),
        Some(Yaml::Bool(b)) => Ok(*b),
        Some(_) => Err(RuleError::at("generate", "must be true or false")),
    }
}

/// One rule document (after actions are applied): its metadata and whether
/// it is a correlation, a detection or a filter. Errors carry the title when
/// the document has one.
fn read_doc(
    doc: &Yaml,
    placeholders: &Placeholders,
) -> Result<(RuleMeta, DocKind), (Option<String>, RuleError)> {
    let Yaml::Mapping(map) = untag(doc) else {
        return Err((None, RuleError::new("a rule must be a YAML map")));
    };
    let title = opt_string(map, "title").ok().flatten();
    let fail = |e: RuleError| (title.clone(), e);
    let meta = read_meta(map).map_err(fail)?;
    if let Some(Yaml::Mapping(c)) = get(map, "correlation") {
        let spec = read_correlation(c, map).map_err(|e| fail(e.within("correlation")))?;
        return Ok((meta, DocKind::Correlation(spec)));
    }
    if get(map, "correlation").is_some() {
        return Err(fail(RuleError::at("correlation", "must be a map")));
    }
    if let Some(det) = get(map, "detection") {
        if !map.contains_key("logsource") {
            return Err(fail(RuleError::at("logsource", "is missing")));
        }
        let d = Detection::compile(det, placeholders).map_err(|e| fail(e.within("detection")))?;
        return Ok((meta, DocKind::Detection(d)));
    }
    if let Some(f) = get(map, "filter") {
        let Yaml::Mapping(fm) = f else {
            return Err(fail(RuleError::at("filter", "must be a map")));
        };
        let rules = string_list(fm, "rules").map_err(|e| fail(e.within("filter")))?;
        if rules.is_empty() {
            return Err(fail(RuleError::at(
                "filter.rules",
                "must name the rules the filter applies to",
            )));
        }
        let mut body = fm.clone();
        body.remove("rules");
        let d = Detection::compile(&Yaml::Mapping(body), placeholders)
            .map_err(|e| fail(e.within("filter")))?;
        return Ok((
            meta,
            DocKind::Filter {
                rules,
                detection: d,
            },
        ));
    }
    Err(fail(RuleError::new(
        "has neither detection, correlation nor filter: not a Sigma rule",
    )))
}

/// Reads every document of one rule source. Each document is parsed on its
/// own (`stream`), so a YAML error costs that document alone; every
/// document that does not become a rule is reported with its number and line.
pub fn read_source(
    source: &str,
    text: &str,
    placeholders: &Placeholders,
) -> (Vec<Doc>, Vec<LoadError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut actions = Actions::default();
    for (i, chunk) in crate::stream::documents(text).into_iter().enumerate() {
        let document = i + 1;
        let err = |line: usize, title: Option<String>, e: RuleError| LoadError {
            file: source.to_string(),
            document,
            line,
            title,
            field: e.field,
            message: e.message,
        };
        let value = match parse_document(&chunk) {
            Ok(v) => v,
            Err((line, e)) => {
                errors.push(err(line, None, e));
                continue;
            }
        };
        let value = match actions.apply(value) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                errors.push(err(chunk.content_line, None, e));
                continue;
            }
        };
        match read_doc(&value, placeholders) {
            Ok((meta, kind)) => docs.push(Doc {
                source: source.to_string(),
                document,
                line: chunk.content_line,
                meta,
                kind,
            }),
            Err((title, e)) => errors.push(err(chunk.content_line, title, e)),
        }
        actions.previous = Some(value);
    }
    (docs, errors)
}

/// One document's YAML (nesting at most serde_norway's 128 levels); an
/// error carries the line of the stream where it is.
fn parse_document(chunk: &crate::stream::Chunk<'_>) -> Result<Yaml, (usize, RuleError)> {
    let mut values = serde_norway::Deserializer::from_str(chunk.text);
    let Some(de) = values.next() else {
        return Ok(Yaml::Null);
    };
    let value = Yaml::deserialize(de).map_err(|e| {
        // An error at the end of the text is placed on its last line.
        let last_line = chunk.first_line + chunk.text.trim_end_matches('\n').matches('\n').count();
        let (line, column) = e
            .location()
            .map(|l| (chunk.first_line + l.line().saturating_sub(1), l.column()))
            .map(|(line, column)| (line.min(last_line), column))
            .unwrap_or((chunk.content_line, 0));
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        let at = if column > 0 {
            format!(" at column {column}")
        } else {
            String::new()
        };
        (line, RuleError::new(format!("invalid YAML{at}: {message}")))
    })?;
    if values.next().is_some() {
        // The split found one document; a parser that finds two is told so.
        return Err((
            chunk.content_line,
            RuleError::new("invalid YAML: a document marker the stream split missed"),
        ));
    }
    Ok(value)
}

/// What the `action` of earlier documents left for the next ones.
#[derive(Default)]
struct Actions {
    /// Merged into every following document (`action: global`), until `reset`.
    global: Option<Yaml>,
    /// The last rule document read, which `action: repeat` builds on.
    previous: Option<Yaml>,
}

impl Actions {
    /// The rule document that `value` stands for, or `None` when it is empty
    /// or only changes the actions' state.
    fn apply(&mut self, mut value: Yaml) -> Result<Option<Yaml>, RuleError> {
        if matches!(value, Yaml::Null) {
            return Ok(None);
        }
        let action = match &mut value {
            Yaml::Mapping(m) => {
                let action = opt_string(m, "action").ok().flatten();
                if action.is_some() {
                    m.remove("action");
                }
                action
            }
            _ => None,
        };
        match action.as_deref() {
            Some("global") => {
                self.global = Some(over(self.global.as_ref(), value));
                Ok(None)
            }
            Some("reset") => {
                self.global = None;
                Ok(None)
            }
            Some("repeat") => match &self.previous {
                Some(p) => Ok(Some(merge(p, &value))),
                None => Err(RuleError::at("action", "repeat with no previous rule")),
            },
            Some(other) => Err(RuleError::at("action", format!("unknown action '{other}'"))),
            None => Ok(Some(over(self.global.as_ref(), value))),
        }
    }
}

/// `value` merged over `base`, when there is one.
fn over(base: Option<&Yaml>, value: Yaml) -> Yaml {
    match base {
        Some(b) => merge(b, &value),
        None => value,
    }
}
