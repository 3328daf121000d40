//! The host side of the WIT `prefilter` interface: a detector's declared
//! tests, checked against the rules it described ([`Prefilter`]), and the
//! [`Screen`] that reads, in one pass over each event's JSON, every value
//! the tests of all detectors of a run name, then tells for each detector
//! whether the event can match one of its rules.
//!
//! The test is the interface's: the value at a dotted path is a string equal
//! to one of the values, ignoring case; absent or null fails; anything the
//! screen does not compare (numbers, booleans, objects, arrays on the path, a
//! key with a dot in it beside a missing one) passes. It never decides that an
//! event matches, only that it cannot. It knows nothing of Sigma.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::bindings::prefiltered::exports::stance::plugin::prefilter as wit;
use crate::model::Rule;

/// A detector's prefilter: an event can match one of its rules only when it
/// passes one of the tests, each a conjunction of field tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Prefilter {
    tests: Vec<Vec<FieldTest>>,
}

/// One field test: the folded string at `path` is one of `values`.
#[derive(Debug, Clone, PartialEq)]
struct FieldTest {
    path: String,
    values: HashSet<String>,
}

impl Prefilter {
    /// The prefilter a plugin declared, or `None` when some rule can match
    /// any event (it said `any`, or did not list the rule, or its references
    /// loop); an error when it names a rule it did not describe.
    pub(crate) fn declared(
        rules: &[Rule],
        list: Vec<wit::RulePrefilter>,
    ) -> Result<Option<Prefilter>, String> {
        let mut by_id: HashMap<String, wit::Requirement> = HashMap::new();
        for p in list {
            if !rules.iter().any(|r| r.id == p.rule_id) {
                return Err(format!(
                    "a prefilter names rule {:?}, which the plugin does not describe",
                    p.rule_id
                ));
            }
            by_id.insert(p.rule_id, p.requirement);
        }
        let mut tests = Vec::new();
        for r in rules {
            let mut path = Vec::new();
            if !resolve(&r.id, &by_id, &mut path, &mut tests) {
                return Ok(None);
            }
        }
        Ok(Some(Prefilter { tests }))
    }

    /// How many rule tests the prefilter holds (after resolving references).
    pub fn tests(&self) -> usize {
        self.tests.len()
    }
}

/// Appends the tests rule `id` stands for; false when it can match any event.
fn resolve(
    id: &str,
    by_id: &HashMap<String, wit::Requirement>,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<FieldTest>>,
) -> bool {
    if path.iter().any(|p| p == id) {
        return false;
    }
    path.push(id.to_string());
    let ok = match by_id.get(id) {
        None | Some(wit::Requirement::Any) => false,
        Some(wit::Requirement::AllOf(fields)) if fields.is_empty() => false,
        Some(wit::Requirement::AllOf(fields)) => {
            out.push(
                fields
                    .iter()
                    .map(|f| FieldTest {
                        path: f.path.clone(),
                        values: f.values.iter().map(|v| fold(v).into_owned()).collect(),
                    })
                    .collect(),
            );
            true
        }
        Some(wit::Requirement::Rules(ids)) => ids.iter().all(|r| resolve(r, by_id, path, out)),
    };
    path.pop();
    ok
}

/// Lower case, as the interface compares: ASCII alone when the text is ASCII.
fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// What the screen found at one path of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Absent or null: no string equals it.
    Missing,
    /// A string, folded.
    Text(String),
    /// Something the screen does not compare: it passes every test.
    Open,
}

/// A path of the screen as a tree of keys.
#[derive(Debug, Default)]
struct Node {
    slot: Option<usize>,
    children: Vec<(String, Node)>,
}

impl Node {
    fn insert(&mut self, path: &str, slot: usize) -> usize {
        let mut node = self;
        for seg in path.split('.') {
            let i = match node.children.iter().position(|(k, _)| k == seg) {
                Some(i) => i,
                None => {
                    node.children.push((seg.to_string(), Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
        *node.slot.get_or_insert(slot)
    }

    /// Sets every slot at and under this node.
    fn fill(&self, out: &mut [Found], with: &Found) {
        if let Some(s) = self.slot {
            out[s] = with.clone();
        }
        for (_, c) in &self.children {
            c.fill(out, with);
        }
    }
}

/// One detector's tests over the screen's slots, keyed by their first field.
#[derive(Debug, Default)]
struct Bound {
    /// Per key slot: the first field's values → (test, the rest of its fields).
    keys: Vec<(usize, HashMap<String, Vec<usize>>)>,
    /// Every test: its fields after the first, as (slot, values).
    rest: Vec<Vec<(usize, HashSet<String>)>>,
}

/// The prefilters of a run's detectors, over one read of each event.
#[derive(Debug, Default)]
pub struct Screen {
    root: Node,
    slots: usize,
    /// Per detector, in the run's order: its tests, or `None` (every event).
    detectors: Vec<Option<Bound>>,
}

impl Screen {
    /// The screen of `prefilters`, one per detector in the run's order.
    pub fn new(prefilters: &[Option<&Prefilter>]) -> Screen {
        let mut screen = Screen::default();
        for p in prefilters {
            let bound = p.map(|p| screen.bind(p));
            screen.detectors.push(bound);
        }
        screen
    }

    fn bind(&mut self, p: &Prefilter) -> Bound {
        let mut bound = Bound::default();
        for (t, test) in p.tests.iter().enumerate() {
            let mut fields = test.iter().map(|f| {
                let next = self.slots;
                let slot = self.root.insert(&f.path, next);
                if slot == next {
                    self.slots += 1;
                }
                (slot, f.values.clone())
            });
            let Some((key, values)) = fields.next() else {
                continue;
            };
            bound.rest.push(fields.collect());
            let pos = match bound.keys.iter().position(|(s, _)| *s == key) {
                Some(i) => i,
                None => {
                    bound.keys.push((key, HashMap::new()));
                    bound.keys.len() - 1
                }
            };
            for v in values {
                bound.keys[pos].1.entry(v).or_default().push(t);
            }
        }
        bound
    }

    /// Whether some detector has a prefilter (otherwise there is nothing to read).
    pub fn active(&self) -> bool {
        self.detectors.iter().any(Option::is_some)
    }

    /// Whether detector `i` has a prefilter.
    pub fn filters(&self, i: usize) -> bool {
        matches!(self.detectors.get(i), Some(Some(_)))
    }

    /// The values every test names, read from an event's JSON in one pass;
    /// a body that is not JSON opens every test.
    pub fn read(&self, body: &str) -> Vec<Found> {
        let mut out = vec![Found::Missing; self.slots];
        let mut de = serde_json::Deserializer::from_str(body);
        let seed = Seed {
            node: &self.root,
            out: &mut out,
        };
        if seed.deserialize(&mut de).is_err() {
            out.fill(Found::Open);
        }
        out
    }

    /// Whether the event read as `found` can match a rule of detector `i`.
    pub fn admits(&self, i: usize, found: &[Found]) -> bool {
        let Some(Some(bound)) = self.detectors.get(i) else {
            return true;
        };
        let passes = |t: usize| {
            bound.rest[t]
                .iter()
                .all(|(slot, values)| match &found[*slot] {
                    Found::Missing => false,
                    Found::Text(s) => values.contains(s),
                    Found::Open => true,
                })
        };
        bound.keys.iter().any(|(slot, map)| match &found[*slot] {
            Found::Missing => false,
            Found::Text(s) => map.get(s).is_some_and(|ts| ts.iter().any(|&t| passes(t))),
            Found::Open => map.values().flatten().any(|&t| passes(t)),
        })
    }
}

/// Reads the values under one node of the path tree.
struct Seed<'a> {
    node: &'a Node,
    out: &'a mut [Found],
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seed<'_> {
    fn leaf(self, found: Found) {
        if let Some(s) = self.node.slot {
            self.out[s] = found;
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        let text = fold(v).into_owned();
        self.leaf(Found::Text(text));
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.leaf(Found::Open);
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.leaf(Found::Open);
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.leaf(Found::Open);
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.leaf(Found::Open);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.node.fill(self.out, &Found::Open);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let Some(s) = self.node.slot {
            self.out[s] = Found::Open;
        }
        let mut seen = vec![false; self.node.children.len()];
        let mut dotted = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.node.children.iter().position(|(k, _)| *k == *key.0) {
                Some(i) => {
                    let child = &self.node.children[i].1;
                    // The last of repeated keys wins, as in a parsed object.
                    child.fill(self.out, &Found::Missing);
                    seen[i] = true;
                    map.next_value_seed(Seed {
                        node: child,
                        out: self.out,
                    })?;
                }
                None => {
                    dotted |= key.0.contains('.');
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if dotted {
            // A missing key may be found as part of a dotted one.
            for ((_, child), seen) in self.node.children.iter().zip(seen) {
                if !seen {
                    child.fill(self.out, &Found::Open);
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Milliseconds since the epoch of an event's time, read as the Sigma
/// engine and most detectors read it (RFC 3339, else `YYYY-MM-DD HH:MM:SS`
/// as UTC): which left-out event is a batch's newest.
pub fn event_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            title: id.into(),
            description: String::new(),
            severity: crate::model::Severity::Low,
            resource_types: vec!["*".into()],
            compliance: Vec::new(),
            remediation: crate::model::Remediation::default(),
            tags: Vec::new(),
            reads: Vec::new(),
        }
    }

    fn all_of(fields: &[(&str, &[&str])]) -> wit::Requirement {
        wit::Requirement::AllOf(
            fields
                .iter()
                .map(|(p, vs)| wit::FieldEquals {
                    path: p.to_string(),
                    values: vs.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
        )
    }

    fn declared(list: Vec<(&str, wit::Requirement)>) -> Result<Option<Prefilter>, String> {
        let rules: Vec<Rule> = list.iter().map(|(id, _)| rule(id)).collect();
        let list = list
            .into_iter()
            .map(|(id, requirement)| wit::RulePrefilter {
                rule_id: id.into(),
                requirement,
            })
            .collect();
        Prefilter::declared(&rules, list)
    }

    #[test]
    fn a_rule_that_can_match_anything_leaves_the_plugin_unfiltered() {
        let p = declared(vec![
            ("a", all_of(&[("eventName", &["X"])])),
            ("b", wit::Requirement::Any),
        ]);
        assert_eq!(p, Ok(None));
        let p = declared(vec![("a", all_of(&[]))]);
        assert_eq!(p, Ok(None), "all of nothing holds for every event");
        let p = declared(vec![("c", wit::Requirement::Rules(vec!["c".into()]))]);
        assert_eq!(p, Ok(None), "a loop");
        // A rule described but not listed gets every event.
        let list = vec![wit::RulePrefilter {
            rule_id: "a".into(),
            requirement: all_of(&[("eventName", &["X"])]),
        }];
        assert_eq!(Prefilter::declared(&[rule("a"), rule("b")], list), Ok(None));
        let err = Prefilter::declared(
            &[rule("a")],
            vec![wit::RulePrefilter {
                rule_id: "zz".into(),
                requirement: wit::Requirement::Any,
            }],
        );
        assert!(err.unwrap_err().contains("\"zz\""));
    }

    #[test]
    fn the_screen_reads_each_event_once_and_admits_what_can_match() {
        let p = declared(vec![
            (
                "login",
                all_of(&[
                    ("eventSource", &["signin.amazonaws.com"]),
                    ("eventName", &["ConsoleLogin"]),
                ]),
            ),
            ("root", all_of(&[("userIdentity.type", &["Root"])])),
            ("corr", wit::Requirement::Rules(vec!["login".into()])),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(p.tests(), 3);
        let screen = Screen::new(&[Some(&p), None]);
        assert!(screen.active());
        let admits = |body: &str| screen.admits(0, &screen.read(body));
        assert!(admits(
            r#"{"eventSource":"SIGNIN.amazonaws.com","eventName":"ConsoleLogin"}"#
        ));
        assert!(!admits(
            r#"{"eventSource":"signin.amazonaws.com","eventName":"Other"}"#
        ));
        assert!(admits(
            r#"{"eventName":"x","userIdentity":{"type":"root","arn":"a"}}"#
        ));
        assert!(!admits(
            r#"{"userIdentity":{"type":"IAMUser"},"eventName":null}"#
        ));
        assert!(
            !admits(r#"{"userIdentity":"Root"}"#),
            "a string has no fields"
        );
        // What the screen does not compare passes.
        assert!(admits(r#"{"userIdentity":[{"type":"x"}]}"#));
        assert!(admits(r#"{"userIdentity":{"type":true}}"#));
        assert!(admits(r#"{"userIdentity.type":"IAMUser"}"#));
        assert!(admits(r#"{"userIdentity":{"type.x":1}}"#));
        assert!(admits("not json"));
        // Escaped keys and values; the last of repeated keys wins.
        assert!(admits(r#"{"user\u0049dentity":{"type":"R\u006fot"}}"#));
        assert!(!admits(
            r#"{"userIdentity":{"type":"Root"},"userIdentity":{"type":"x"}}"#
        ));
        // A detector without a prefilter gets everything.
        assert!(screen.admits(1, &screen.read(r#"{"eventName":"x"}"#)));
        assert!(!Screen::new(&[None]).active());
    }

    #[test]
    fn event_times_read_as_the_sigma_engine_reads_them() {
        assert_eq!(event_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(event_millis(" 1970-01-01T01:00:01+01:00 "), Some(1000));
        assert_eq!(event_millis("1970-01-01 00:00:01.5"), Some(1500));
        assert_eq!(event_millis("yesterday"), None);
    }
}
