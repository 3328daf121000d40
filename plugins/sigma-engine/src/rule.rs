//! Rule documents: YAML text (one or many documents, with `action: global`,
//! `reset` and `repeat`) read into detection rules, correlation rules and
//! filters, with their metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_norway::Value as Yaml;

use crate::detection::{Detection, key_text, untag};
use crate::error::{LoadError, RuleError};
use crate::modifiers::{CmpOp, Placeholders};

/// Severity of a rule, from `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
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
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<String>,
    pub level: Option<Level>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
}

/// The correlation types: the four of the specification and the value aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMin,
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

    pub fn needs_field(self) -> bool {
        !matches!(
            self,
            CorrelationType::EventCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        )
    }
}

/// The `correlation` section, before rule references are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationSpec {
    pub kind: CorrelationType,
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    pub timespan: String,
    /// AND-ed comparisons on the aggregate; empty for temporal types without a condition.
    pub condition: Vec<(CmpOp, f64)>,
    pub fields: Vec<String>,
    /// alias → (rule id or name → field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub generate: bool,
}

#[derive(Debug, Clone)]
pub enum DocKind {
    Detection(Detection),
    Correlation(CorrelationSpec),
    /// A Sigma filter: excluded from the named rules when its detection matches.
    Filter {
        rules: Vec<String>,
        detection: Detection,
    },
}

/// One successfully read rule document.
#[derive(Debug, Clone)]
pub struct Doc {
    pub source: String,
    pub document: usize,
    pub meta: RuleMeta,
    pub kind: DocKind,
}

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

fn get<'a>(map: &'a serde_norway::Mapping, key: &str) -> Option<&'a Yaml> {
    map.get(key).map(untag)
}

fn opt_string(map: &serde_norway::Mapping, key: &str) -> Result<Option<String>, RuleError> {
    match get(map, key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s.clone())),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(Yaml::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(RuleError::at(key, "must be a string")),
    }
}

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

fn read_correlation(
    map: &serde_norway::Mapping,
    top: &serde_norway::Mapping,
) -> Result<CorrelationSpec, RuleError> {
    let kind_text = opt_string(map, "type")?.ok_or_else(|| RuleError::at("type", "is missing"))?;
    let kind = CorrelationType::parse(&kind_text).ok_or_else(|| {
        RuleError::at(
            "type",
            format!("'{kind_text}' is not event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_min or value_max"),
        )
    })?;
    let rules = string_list(map, "rules")?;
    if rules.is_empty() {
        return Err(RuleError::at("rules", "must name at least one rule"));
    }
    let group_by = string_list(map, "group-by")?;
    let timespan =
        opt_string(map, "timespan")?.ok_or_else(|| RuleError::at("timespan", "is missing"))?;
    let timespan_ms = parse_timespan(&timespan).ok_or_else(|| {
        RuleError::at(
            "timespan",
            format!("'{timespan}' is not a number followed by s, m, h, d or w"),
        )
    })?;
    let mut condition = Vec::new();
    let mut fields = string_list(map, "field")?;
    match get(map, "condition") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(c)) => {
            for (k, v) in c {
                let key = key_text(k).unwrap_or_default();
                if key == "field" {
                    fields = string_list(c, "field").map_err(|e| e.within("condition"))?;
                    continue;
                }
                let op = CmpOp::parse(&key).ok_or_else(|| {
                    RuleError::at(
                        format!("condition.{key}"),
                        "is not gt, gte, lt, lte, eq, neq or field",
                    )
                })?;
                let n = match untag(v) {
                    Yaml::Number(n) => n.as_f64(),
                    Yaml::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| RuleError::at(format!("condition.{key}"), "must be a number"))?;
                condition.push((op, n));
            }
        }
        Some(_) => {
            return Err(RuleError::at(
                "condition",
                "must be a map such as {gte: 10}",
            ));
        }
    }
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
    let mut aliases = BTreeMap::new();
    match get(map, "aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(a)) => {
            for (alias, per_rule) in a {
                let alias = key_text(alias).unwrap_or_default();
                let Yaml::Mapping(per_rule) = untag(per_rule) else {
                    return Err(RuleError::at(
                        format!("aliases.{alias}"),
                        "must map rule names to fields",
                    ));
                };
                let mut m = BTreeMap::new();
                for (r, f) in per_rule {
                    let (Some(r), Some(f)) = (key_text(r), key_text(f)) else {
                        return Err(RuleError::at(
                            format!("aliases.{alias}"),
                            "must map rule names to fields",
                        ));
                    };
                    m.insert(r, f);
                }
                aliases.insert(alias, m);
            }
        }
        Some(_) => return Err(RuleError::at("aliases", "must be a map")),
    }
    let generate = match get(map, "generate").or_else(|| get(top, "generate")) {
        None | Some(Yaml::Null) => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => return Err(RuleError::at("generate", "must be true or false")),
    };
    Ok(CorrelationSpec {
        kind,
        rules,
        group_by,
        timespan_ms,
        timespan,
        condition,
        fields,
        aliases,
        generate,
    })
}

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

/// Reads every document of one rule source.
pub fn read_source(
    source: &str,
    text: &str,
    placeholders: &Placeholders,
) -> (Vec<Doc>, Vec<LoadError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut global: Option<Yaml> = None;
    let mut previous: Option<Yaml> = None;
    for (i, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let err = |title: Option<String>, e: RuleError| LoadError {
            file: source.to_string(),
            document,
            title,
            field: e.field,
            message: e.message,
        };
        let value = match Yaml::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                errors.push(err(None, RuleError::new(format!("invalid YAML: {e}"))));
                // The YAML stream cannot be resumed after a syntax error.
                break;
            }
        };
        if matches!(value, Yaml::Null) {
            continue;
        }
        let mut value = value;
        let action = match &value {
            Yaml::Mapping(m) => opt_string(m, "action").ok().flatten(),
            _ => None,
        };
        if let (Some(_), Yaml::Mapping(m)) = (&action, &mut value) {
            m.remove("action");
        }
        let value = match action.as_deref() {
            Some("global") => {
                global = Some(match &global {
                    Some(g) => merge(g, &value),
                    None => value,
                });
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => match &previous {
                Some(p) => merge(p, &value),
                None => {
                    errors.push(err(
                        None,
                        RuleError::at("action", "repeat with no previous rule"),
                    ));
                    continue;
                }
            },
            Some(other) => {
                errors.push(err(
                    None,
                    RuleError::at("action", format!("unknown action '{other}'")),
                ));
                continue;
            }
            None => match &global {
                Some(g) => merge(g, &value),
                None => value,
            },
        };
        match read_doc(&value, placeholders) {
            Ok((meta, kind)) => docs.push(Doc {
                source: source.to_string(),
                document,
                meta,
                kind,
            }),
            Err((title, e)) => errors.push(err(title, e)),
        }
        previous = Some(value);
    }
    (docs, errors)
}
