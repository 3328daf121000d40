//! Prefilters: for each loaded rule, a test that every event the rule can
//! match passes, cheap enough for a host to run on every event before it
//! hands any to the engine. A prefilter is a necessary condition, never a
//! sufficient one: an event that passes may still match nothing, and one that
//! fails can match no rule it was derived from.
//!
//! A detection rule pins a field when a search identifier AND-ed into the
//! condition holds an item that tests the field for equality with plain
//! strings: no wildcard, no modifier that makes it anything but whole-value
//! equality, no `neq`, no keyword, and a field that no source mapping
//! renames. An OR (of conditions, or the maps of a list) pins the fields that
//! every branch pins, with the values of all branches; NOT pins nothing.
//! Anything else says nothing, and a rule that pins no field can match any
//! event. Sigma filters only cancel
//! matches, so they are left out. A correlation sees what the rules it
//! references match.
//!
//! [`Screen`] applies prefilters to a JSON body as a host must (the WIT
//! `prefilter` interface describes the same test), so that the engine's own
//! tests can check that screening never changes a result. Nothing here
//! evaluates rules.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Cond;
use crate::detection::{Detection, Selection};
use crate::modifiers::{FieldItem, Matcher};
use crate::pattern;

use super::Engine;

/// One field a rule needs: the value at `path` is a string equal, ignoring
/// case, to one of `values` (stored lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldEquals {
    /// Dotted path into the event body.
    pub path: String,
    /// The values, lower-cased, sorted, without repeats.
    pub values: Vec<String>,
}

/// What every event a rule can match has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prefilter {
    /// Nothing cheap to test: any event.
    Any,
    /// Every one of these holds.
    AllOf(Vec<FieldEquals>),
    /// Only what these rules (by id) match: a correlation's references.
    Rules(Vec<String>),
}

impl Engine {
    /// Every loaded rule's prefilter, by rule id, in the order of [`Engine::rules`].
    pub fn prefilters(&self) -> Vec<(String, Prefilter)> {
        let mapped: BTreeSet<&str> = self
            .config
            .sources
            .iter()
            .flat_map(|s| s.fields.keys().map(String::as_str))
            .collect();
        let mut out: Vec<(String, Prefilter)> = self
            .rules
            .iter()
            .map(|r| (r.info.id.clone(), of_detection(&r.detection, &mapped)))
            .collect();
        let mut children: Vec<Vec<String>> = vec![Vec::new(); self.correlations.len()];
        let parents = self
            .rules
            .iter()
            .map(|r| (&r.info.id, &r.parents))
            .chain(self.correlations.iter().map(|c| (&c.info.id, &c.parents)));
        for (id, ps) in parents {
            for &(ci, _) in ps {
                if !children[ci].contains(id) {
                    children[ci].push(id.clone());
                }
            }
        }
        for (c, refs) in self.correlations.iter().zip(children) {
            out.push((c.info.id.clone(), Prefilter::Rules(refs)));
        }
        out
    }
}

/// The prefilter of one detection.
fn of_detection(d: &Detection, mapped: &BTreeSet<&str>) -> Prefilter {
    let fields = of_cond(&d.condition, d, mapped);
    if fields.is_empty() {
        Prefilter::Any
    } else {
        Prefilter::AllOf(fields)
    }
}

/// The fields every event that satisfies `c` has (all of them hold).
fn of_cond(c: &Cond, d: &Detection, mapped: &BTreeSet<&str>) -> Vec<FieldEquals> {
    match c {
        Cond::Sel(i) => d
            .selections
            .get(*i)
            .map(|s| of_selection(s, mapped))
            .unwrap_or_default(),
        Cond::Not(_) => Vec::new(),
        Cond::And(cs) => cs.iter().flat_map(|c| of_cond(c, d, mapped)).collect(),
        Cond::Or(cs) => either(cs.iter().map(|c| of_cond(c, d, mapped)).collect()),
    }
}

/// The fields a selection pins: a map's items, a list's common fields.
fn of_selection(s: &Selection, mapped: &BTreeSet<&str>) -> Vec<FieldEquals> {
    match s {
        Selection::All(items) => items.iter().filter_map(|i| pinned(i, mapped)).collect(),
        Selection::Any(sels) => either(sels.iter().map(|s| of_selection(s, mapped)).collect()),
    }
}

/// What one of several branches pins: each field every branch pins, equal
/// to a value of any branch (a branch's first test of the field stands for it).
fn either(branches: Vec<Vec<FieldEquals>>) -> Vec<FieldEquals> {
    let mut branches = branches.into_iter();
    let Some(first) = branches.next() else {
        return Vec::new();
    };
    let mut out: Vec<FieldEquals> = Vec::new();
    for f in first {
        if !out.iter().any(|o| o.path == f.path) {
            out.push(f);
        }
    }
    for branch in branches {
        out.retain_mut(|o| match branch.iter().find(|f| f.path == o.path) {
            Some(f) => {
                let all: BTreeSet<String> = o.values.drain(..).chain(f.values.clone()).collect();
                o.values = all.into_iter().collect();
                true
            }
            None => false,
        });
    }
    out
}

/// The equality an item pins, if it is one: a named, unmapped field whose
/// every alternative is a whole string without wildcards.
fn pinned(item: &FieldItem, mapped: &BTreeSet<&str>) -> Option<FieldEquals> {
    let field = item.field.as_ref()?;
    if mapped.contains(field.name.as_str()) || item.values.is_empty() {
        return None;
    }
    let mut values = BTreeSet::new();
    for m in item.values.iter().flatten() {
        match m {
            Matcher::Str(p) => values.insert(pattern::fold(p.literal()?).into_owned()),
            _ => return None,
        };
    }
    Some(FieldEquals {
        path: field.name.clone(),
        values: values.into_iter().collect(),
    })
}

/// Prefilters applied to event bodies, as a host applies them.
pub struct Screen {
    /// Each rule's prefilter, with `Rules` resolved to the rules' own.
    tests: Vec<Vec<FieldEquals>>,
    /// Some rule can match any event.
    open: bool,
}

impl Screen {
    /// The screen of a rule set's prefilters; a correlation stands for the
    /// rules it references (one that names an unknown rule or loops is open).
    pub fn new(prefilters: &[(String, Prefilter)]) -> Screen {
        let by_id: HashMap<&str, &Prefilter> =
            prefilters.iter().map(|(id, p)| (id.as_str(), p)).collect();
        let mut tests = Vec::new();
        let mut open = false;
        for (id, _) in prefilters {
            let mut seen = Vec::new();
            open |= !leaves(id, &by_id, &mut seen, &mut tests);
        }
        Screen { tests, open }
    }

    /// Whether an event with this body can match some rule.
    pub fn admits(&self, body: &Value) -> bool {
        self.open
            || self
                .tests
                .iter()
                .any(|t| t.iter().all(|f| field_passes(body, f)))
    }
}

/// Appends the field tests rule `id` stands for; false when it stands for any event.
fn leaves<'a>(
    id: &'a str,
    by_id: &HashMap<&'a str, &'a Prefilter>,
    seen: &mut Vec<&'a str>,
    out: &mut Vec<Vec<FieldEquals>>,
) -> bool {
    if seen.contains(&id) {
        return false;
    }
    seen.push(id);
    let ok = match by_id.get(id) {
        None | Some(Prefilter::Any) => false,
        Some(Prefilter::AllOf(fields)) => {
            out.push(fields.clone());
            true
        }
        Some(Prefilter::Rules(ids)) => ids.iter().all(|r| leaves(r, by_id, seen, out)),
    };
    seen.pop();
    ok
}

/// The WIT contract's test of one field on a JSON body.
fn field_passes(body: &Value, f: &FieldEquals) -> bool {
    let mut v = body;
    for seg in f.path.split('.') {
        match v {
            Value::Object(map) => match map.get(seg) {
                Some(child) => v = child,
                None => return map.keys().any(|k| k.contains('.')),
            },
            Value::Array(_) => return true,
            _ => return false,
        }
    }
    match v {
        Value::String(s) => {
            let s = pattern::fold(s);
            f.values.iter().any(|x| *x == *s)
        }
        Value::Null => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;

    fn prefilters(detection: &str) -> Vec<(String, Prefilter)> {
        let rule = format!(
            "title: t\nid: r1\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}\n"
        );
        let (engine, errors) = Engine::load(&[("r.yml", rule)], EngineConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        engine.prefilters()
    }

    fn eq(path: &str, values: &[&str]) -> FieldEquals {
        FieldEquals {
            path: path.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn equalities_anded_into_the_condition_pin_fields() {
        let p = prefilters(
            "  sel:\n    eventSource: EC2.amazonaws.com\n    eventName: [RunInstances, StopInstances]\n    userAgent|contains: x\n  other:\n    errorCode: AccessDenied\n  condition: sel and not other",
        );
        assert_eq!(
            p[0].1,
            Prefilter::AllOf(vec![
                eq("eventSource", &["ec2.amazonaws.com"]),
                eq("eventName", &["runinstances", "stopinstances"]),
            ])
        );
        // A field every branch of an OR pins stays pinned.
        let p = prefilters(
            "  a:\n    eventName: X\n  b:\n    errorCode: E\n  c:\n    errorCode: F\n  condition: (a and b) or (a and c)",
        );
        assert_eq!(
            p[0].1,
            Prefilter::AllOf(vec![eq("eventName", &["x"]), eq("errorCode", &["e", "f"])])
        );
        // Branches pinning the same field pin it to the values of both.
        let p = prefilters(
            "  a:\n    eventSource: s\n    eventName: X\n  b:\n    eventSource: s\n    eventName: [Y, Z]\n  condition: a or b",
        );
        assert_eq!(
            p[0].1,
            Prefilter::AllOf(vec![
                eq("eventSource", &["s"]),
                eq("eventName", &["x", "y", "z"])
            ])
        );
        let p = prefilters("  a:\n    - eventName: X\n    - eventName: Y\n  condition: a");
        assert_eq!(p[0].1, Prefilter::AllOf(vec![eq("eventName", &["x", "y"])]));
    }

    #[test]
    fn or_not_keywords_wildcards_and_modifiers_pin_nothing() {
        for d in [
            "  a:\n    eventName: X\n  b:\n    errorCode: Y\n  condition: a or b",
            "  a:\n    eventName: X\n  condition: not a",
            "  k:\n    - DeleteTrail\n  condition: k",
            "  a:\n    eventName: Delete*\n  condition: a",
            "  a:\n    eventName|startswith: Delete\n  condition: a",
            "  a:\n    eventName|neq: X\n  condition: a",
            "  a:\n    eventName: null\n  condition: a",
            "  a:\n    - eventName: X\n    - errorCode: Y\n  condition: a",
            "  a:\n    eventName|re: '^X$'\n  condition: a",
        ] {
            assert_eq!(prefilters(d)[0].1, Prefilter::Any, "{d}");
        }
    }

    #[test]
    fn a_correlation_stands_for_its_rules_and_the_screen_tests_bodies() {
        let text = "title: base\nid: b1\nlogsource: {product: aws}\ndetection:\n  s:\n    eventName: ConsoleLogin\n  condition: s\n---\ntitle: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: 2}\n";
        let (engine, errors) = Engine::load(&[("c.yml", text)], EngineConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        let p = engine.prefilters();
        assert_eq!(p[1], ("c1".into(), Prefilter::Rules(vec!["b1".into()])));
        let screen = Screen::new(&p);
        let admits = |body: &str| screen.admits(&serde_json::from_str(body).unwrap());
        assert!(admits(r#"{"eventName": "consolelogin"}"#));
        assert!(!admits(r#"{"eventName": "GetObject"}"#));
        assert!(!admits(r#"{"eventName": null}"#));
        assert!(!admits(r#"{"other": 1}"#));
        assert!(admits(r#"{"eventName": 7}"#), "numbers are not compared");
        assert!(admits(r#"[{"eventName": "x"}]"#), "arrays pass");
        assert!(admits(r#"{"a.b": 1}"#), "dotted keys pass");
        // A loop or an unknown reference opens the screen.
        let open = Screen::new(&[("x".into(), Prefilter::Rules(vec!["y".into()]))]);
        assert!(open.admits(&serde_json::json!({})));
    }
}
