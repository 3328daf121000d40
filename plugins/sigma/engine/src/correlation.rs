//! Correlation state: the caller-supplied key-value `StateStore`, the window
//! kept per (correlation, group) in it, and the aggregates that correlation
//! conditions are held against.
//!
//! It never decides what feeds a window or when a window is judged (the engine's
//! `correlate` does), and it never reads events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::EvalIssue;
use crate::modifiers::CmpOp;
use crate::rule::CorrelationType;

/// Where correlation windows live between calls: the wasm wrapper backs it
/// with the host's `state` interface, so windows survive batches and reloads.
pub trait StateStore {
    /// The value at `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` at `key`.
    ///
    /// Fails when the store refuses the write (a quota, say).
    fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String>;
    /// Removes `key` (nothing happens when it is absent).
    fn delete(&mut self, key: &str);
    /// Keys starting with `prefix`, in byte order.
    fn keys(&self, prefix: &str) -> Vec<String>;
}

/// An in-memory `StateStore` (tests, the native host, one-shot runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// Every key and its value.
    pub entries: BTreeMap<String, Vec<u8>>,
}

impl StateStore for MemoryStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.entries.insert(key.to_string(), value);
        Ok(())
    }

    fn delete(&mut self, key: &str) {
        self.entries.remove(key);
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        self.entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// One matched event (or fired inner correlation) in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Epoch milliseconds.
    pub t: i64,
    /// Position of the matching rule in the correlation's `rules`.
    pub r: usize,
    /// The matched events' ids.
    pub ids: Vec<String>,
    /// The aggregated field's value, for the value_* types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
}

/// The state of one (correlation, group): its group values and entries in time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The group-by values shared by every entry.
    #[serde(rename = "g", default)]
    pub group: Vec<Option<String>>,
    /// The entries, oldest first.
    #[serde(rename = "e", default)]
    pub entries: Vec<Entry>,
}

impl Window {
    /// Adds an entry in time order (after entries of the same time), unless
    /// the window already holds it: the same events for the same rule (one
    /// event read twice, or delivered twice as CloudTrail may) count once.
    /// Returns whether it was added.
    pub fn insert(&mut self, e: Entry) -> bool {
        // An entry's events share its time, so a repeat sits among the
        // entries of that time.
        let from = self.entries.partition_point(|x| x.t < e.t);
        let to = self.entries.partition_point(|x| x.t <= e.t);
        if self.entries[from..to]
            .iter()
            .any(|x| x.r == e.r && x.ids == e.ids)
        {
            return false;
        }
        self.entries.insert(to, e);
        true
    }

    /// The time of the oldest entry.
    pub fn start(&self) -> Option<i64> {
        self.entries.first().map(|e| e.t)
    }

    /// The time of the newest entry.
    pub fn end(&self) -> Option<i64> {
        self.entries.last().map(|e| e.t)
    }

    /// The ids of the entries' events, each once, in entry order.
    pub fn ids(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for e in &self.entries {
            for id in &e.ids {
                if seen.insert(id.as_str()) {
                    out.push(id.clone());
                }
            }
        }
        out
    }
}

/// Whether every comparison holds for `x`.
pub fn holds(cond: &[(CmpOp, f64)], x: f64) -> bool {
    cond.iter().all(|(op, n)| op.holds(x, *n))
}

/// Whether a condition can only become true by adding entries, so it can be
/// checked as each entry arrives (otherwise the window is judged when it closes).
pub fn is_monotone(kind: CorrelationType, cond: &[(CmpOp, f64)]) -> bool {
    let lower = cond
        .iter()
        .all(|(op, _)| matches!(op, CmpOp::Gt | CmpOp::Gte));
    let upper = cond
        .iter()
        .all(|(op, _)| matches!(op, CmpOp::Lt | CmpOp::Lte));
    match kind {
        CorrelationType::EventCount
        | CorrelationType::ValueCount
        | CorrelationType::Temporal
        | CorrelationType::TemporalOrdered
        | CorrelationType::ValueSum
        | CorrelationType::ValueMax => lower,
        CorrelationType::ValueMin => upper && !cond.is_empty(),
        CorrelationType::ValueAvg | CorrelationType::ValuePercentile => false,
    }
}

/// The aggregate of `w` when it satisfies the condition.
pub fn satisfied(
    kind: CorrelationType,
    cond: &[(CmpOp, f64)],
    n_rules: usize,
    w: &Window,
) -> Option<f64> {
    let check = |x: f64| holds(cond, x).then_some(x);
    match kind {
        CorrelationType::EventCount => check(w.entries.len() as f64),
        CorrelationType::ValueCount => check(distinct_values(w) as f64),
        CorrelationType::Temporal => temporal(cond, n_rules, distinct_rules(w)),
        CorrelationType::TemporalOrdered => temporal(cond, n_rules, ordered_prefix(w, n_rules)),
        CorrelationType::ValueSum => sum(w).and_then(check),
        CorrelationType::ValueAvg => average(w).and_then(check),
        CorrelationType::ValueMin => numbers(w).reduce(f64::min).and_then(check),
        CorrelationType::ValueMax => numbers(w).reduce(f64::max).and_then(check),
        CorrelationType::ValuePercentile => rarest_share(cond, w),
    }
}

/// The entries' values that read as numbers.
fn numbers(w: &Window) -> impl Iterator<Item = f64> + '_ {
    w.entries
        .iter()
        .filter_map(|e| e.v.as_deref()?.trim().parse::<f64>().ok())
}

/// How many different values the entries carry.
fn distinct_values(w: &Window) -> usize {
    w.entries
        .iter()
        .filter_map(|e| e.v.as_deref())
        .collect::<BTreeSet<&str>>()
        .len()
}

/// How many of the referenced rules have an entry.
fn distinct_rules(w: &Window) -> usize {
    w.entries
        .iter()
        .map(|e| e.r)
        .collect::<BTreeSet<usize>>()
        .len()
}

/// The longest prefix of `rules` seen in order (greedy, earliest first).
fn ordered_prefix(w: &Window, n_rules: usize) -> usize {
    let mut next = 0;
    for e in &w.entries {
        if next < n_rules && e.r == next {
            next += 1;
        }
    }
    next
}

/// The temporal types: without a condition every referenced rule must have
/// been seen; with one, the number seen is held against it.
fn temporal(cond: &[(CmpOp, f64)], n_rules: usize, seen: usize) -> Option<f64> {
    let n = seen as f64;
    if cond.is_empty() {
        (seen >= n_rules).then_some(n)
    } else {
        holds(cond, n).then_some(n)
    }
}

/// The sum of the numeric values; `None` when there is none.
fn sum(w: &Window) -> Option<f64> {
    let mut any = false;
    let s: f64 = numbers(w).inspect(|_| any = true).sum();
    any.then_some(s)
}

/// The mean of the numeric values; `None` when there is none.
fn average(w: &Window) -> Option<f64> {
    let v: Vec<f64> = numbers(w).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The share (in percent) of the window's events that carry each value; the
/// rarest value that satisfies the condition is reported.
fn rarest_share(cond: &[(CmpOp, f64)], w: &Window) -> Option<f64> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut total = 0usize;
    for e in &w.entries {
        if let Some(v) = e.v.as_deref() {
            *counts.entry(v).or_default() += 1;
            total += 1;
        }
    }
    if total == 0 {
        return None;
    }
    let mut shares: Vec<f64> = counts
        .values()
        .map(|c| *c as f64 * 100.0 / total as f64)
        .collect();
    shares.sort_by(f64::total_cmp);
    shares.into_iter().find(|s| holds(cond, *s))
}

/// A batch's view of the store: windows are read once, changed in memory and
/// written back once at the end.
pub struct Session<'s> {
    store: &'s mut dyn StateStore,
    /// Windows read so far, and whether each has changed.
    cache: BTreeMap<String, (Window, bool)>,
    /// Problems met so far; `commit` returns them.
    pub issues: Vec<EvalIssue>,
}

impl<'s> Session<'s> {
    /// A session over `store`, with nothing read yet.
    pub fn new(store: &'s mut dyn StateStore) -> Session<'s> {
        Session {
            store,
            cache: BTreeMap::new(),
            issues: Vec::new(),
        }
    }

    /// The window at `key`, loaded on first use and marked as changed.
    pub fn window(&mut self, key: &str) -> &mut Window {
        if !self.cache.contains_key(key) {
            let w = match self.store.get(key) {
                None => Window::default(),
                Some(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(w) => w,
                    Err(_) => {
                        self.issues.push(EvalIssue::CorruptState {
                            key: key.to_string(),
                        });
                        Window::default()
                    }
                },
            };
            self.cache.insert(key.to_string(), (w, true));
        }
        let slot = self.cache.entry(key.to_string()).or_default();
        slot.1 = true;
        &mut slot.0
    }

    /// The window at `key` without marking it changed (call `mark` after changing it).
    pub fn window_clean(&mut self, key: &str) -> &mut Window {
        let dirty = self.cache.get(key).map(|(_, d)| *d);
        let _ = self.window(key);
        let slot = self.cache.entry(key.to_string()).or_default();
        slot.1 = dirty.unwrap_or(false);
        &mut slot.0
    }

    /// Marks the window at `key` changed, so `commit` writes it back.
    pub fn mark(&mut self, key: &str) {
        if let Some(slot) = self.cache.get_mut(key) {
            slot.1 = true;
        }
    }

    /// Keys under `prefix` in the store and among windows created in this session.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: BTreeSet<String> = self.store.keys(prefix).into_iter().collect();
        keys.extend(
            self.cache
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone()),
        );
        keys.into_iter().collect()
    }

    /// The raw value at `key`, straight from the store.
    pub fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        self.store.get(key)
    }

    /// Writes a raw value to the store, noting a refusal as an issue.
    pub fn set_raw(&mut self, key: &str, value: Vec<u8>) {
        if let Err(message) = self.store.set(key, value) {
            self.issues.push(EvalIssue::State {
                key: key.to_string(),
                message,
            });
        }
    }

    /// Writes changed windows back; empty windows are deleted.
    pub fn commit(mut self) -> Vec<EvalIssue> {
        let cache = std::mem::take(&mut self.cache);
        for (key, (w, dirty)) in cache {
            if !dirty {
                continue;
            }
            if w.entries.is_empty() {
                self.store.delete(&key);
            } else {
                match serde_json::to_vec(&w) {
                    Ok(bytes) => self.set_raw(&key, bytes),
                    Err(e) => self.issues.push(EvalIssue::State {
                        key,
                        message: e.to_string(),
                    }),
                }
            }
        }
        self.issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, EngineConfig, Event};

    fn entry(t: i64, r: usize, id: &str) -> Entry {
        Entry {
            t,
            r,
            ids: vec![id.to_string()],
            v: None,
        }
    }

    #[test]
    fn a_window_counts_an_event_once() {
        let mut w = Window::default();
        assert!(w.insert(entry(10, 0, "a")));
        assert!(w.insert(entry(20, 0, "b")));
        assert!(!w.insert(entry(10, 0, "a")), "the same event again");
        assert!(
            w.insert(entry(10, 1, "a")),
            "the same event for another rule"
        );
        assert!(
            w.insert(entry(10, 0, "c")),
            "another event at the same time"
        );
        let ids: Vec<(i64, usize, &str)> = w
            .entries
            .iter()
            .map(|e| (e.t, e.r, e.ids[0].as_str()))
            .collect();
        assert_eq!(
            ids,
            [(10, 0, "a"), (10, 1, "a"), (10, 0, "c"), (20, 0, "b")]
        );
    }

    #[test]
    fn one_event_read_twice_never_makes_a_brute_force() {
        let failed = "title: Failed\nid: failed\nname: failed_login\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\ndetection:\n  s:\n    eventName: ConsoleLogin\n  condition: s\n";
        let brute = "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [sourceIPAddress]\n  timespan: 10m\n  condition: {gte: 3}\nlevel: high\n";
        let (engine, errors) = Engine::load(
            &[("failed.yml", failed), ("brute.yml", brute)],
            EngineConfig::default(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let login = |id: &str, t: &str| {
            Event::new(
                id,
                "aws_cloudtrail",
                t,
                serde_json::json!({"eventName": "ConsoleLogin", "sourceIPAddress": "203.0.113.9"}),
            )
        };
        let two = [
            login("e1", "2024-05-05T22:00:00Z"),
            login("e2", "2024-05-05T22:01:00Z"),
        ];
        let mut st = MemoryStore::default();
        // The same two events in one batch three times, then again in a second batch.
        let thrice: Vec<Event> = two.iter().cycle().take(6).cloned().collect();
        let m = engine.evaluate(&thrice, &mut st);
        assert!(m.iter().all(|m| m.rule_id != "brute"), "{m:?}");
        let m = engine.evaluate(&two, &mut st);
        assert!(m.iter().all(|m| m.rule_id != "brute"), "{m:?}");
        // A third event does make one, naming each event once.
        let m = engine.evaluate(&[login("e3", "2024-05-05T22:02:00Z")], &mut st);
        let brute: Vec<_> = m.iter().filter(|m| m.rule_id == "brute").collect();
        assert_eq!(brute.len(), 1, "{m:?}");
        assert_eq!(brute[0].event_ids, ["e1", "e2", "e3"]);
    }
}
