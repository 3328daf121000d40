//! Correlations across batches: event/value counts, temporal rules, windows,
//! aliases, errors, bad times, state writes and reloads, timespans.

use serde_json::json;

use super::*;

const FAILED: &str = "title: Failed console login\nid: failed\nname: failed_login\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\ndetection:\n  s:\n    eventName: ConsoleLogin\n    responseElements.ConsoleLogin: Failure\n  condition: s\n";
const SUCCESS: &str = "title: Console login\nid: success\nname: good_login\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\ndetection:\n  s:\n    eventName: ConsoleLogin\n    responseElements.ConsoleLogin: Success\n  condition: s\n";

fn login(id: &str, time: &str, user: &str, ok: bool, ip: &str) -> Event {
    Event::new(
        id,
        "aws_cloudtrail",
        time,
        json!({"eventName": "ConsoleLogin", "userIdentity": {"userName": user}, "sourceIPAddress": ip,
               "responseElements": {"ConsoleLogin": if ok { "Success" } else { "Failure" }}}),
    )
}

fn corr_engine(corr: &str) -> Engine {
    let (engine, errors) = Engine::load(
        &[
            ("failed.yml", FAILED),
            ("success.yml", SUCCESS),
            ("corr.yml", corr),
        ],
        EngineConfig::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    engine
}

fn corr_matches(m: &[Match]) -> Vec<&Match> {
    m.iter().filter(|m| m.kind != RuleKind::Detection).collect()
}

#[test]
fn event_count_window_survives_batches() {
    let engine = corr_engine(
        "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "bob", false, "1.1.1.1"),
            login("2", "2024-01-01T00:01:00Z", "bob", false, "1.1.1.1"),
        ],
        &mut st,
    );
    // Base rules feed the correlation only (generate: false).
    assert!(m.is_empty(), "{m:?}");
    assert!(!st.entries.is_empty());
    // A second batch, with another user's failure and bob's third.
    let m = engine.evaluate(
        &[
            login("3", "2024-01-01T00:02:00Z", "alice", false, "1.1.1.1"),
            login("4", "2024-01-01T00:03:00Z", "bob", false, "1.1.1.1"),
        ],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].rule_id, "brute");
    assert_eq!(m[0].level, Level::High);
    assert_eq!(m[0].event_ids, vec!["1", "2", "4"]);
    assert_eq!(m[0].group_key.as_deref(), Some("userIdentity.userName=bob"));
    assert_eq!(m[0].window_start, "2024-01-01T00:00:00.000Z");
    assert_eq!(m[0].window_end, "2024-01-01T00:03:00.000Z");
    assert_eq!(m[0].value, Some(3.0));
    // The fired window is cleared: one more failure does not re-alert.
    assert!(
        engine
            .evaluate(
                &[login("5", "2024-01-01T00:03:30Z", "bob", false, "1.1.1.1")],
                &mut st
            )
            .is_empty()
    );
}

#[test]
fn event_count_respects_the_timespan_and_prunes() {
    let engine = corr_engine(
        "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 3}\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "bob", false, "x"),
            login("2", "2024-01-01T00:04:00Z", "bob", false, "x"),
        ],
        &mut st,
    );
    assert!(m.is_empty());
    // 00:09: the first is out of the window.
    let m = engine.evaluate(
        &[login("3", "2024-01-01T00:09:00Z", "bob", false, "x")],
        &mut st,
    );
    assert!(m.is_empty());
    // Much later, another user's event moves the watermark: bob's entries are pruned.
    engine.evaluate(
        &[login("4", "2024-01-01T02:00:00Z", "carol", false, "x")],
        &mut st,
    );
    let bob_keys = st
        .keys("sigma/w/brute/")
        .into_iter()
        .filter(|k| k.contains("bob"))
        .count();
    assert_eq!(bob_keys, 0, "{:?}", st.entries.keys());
}

#[test]
fn events_are_processed_in_time_order() {
    let engine = corr_engine(
        "title: Fail then success\nid: fts\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_login, good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n",
    );
    // Success listed first in the batch but happened later.
    let m = engine.evaluate(
        &[
            login("2", "2024-01-01T00:05:00Z", "bob", true, "x"),
            login("1", "2024-01-01T00:01:00Z", "bob", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    let c = corr_matches(&m);
    assert_eq!(c.len(), 1, "{m:?}");
    assert_eq!(c[0].event_ids, vec!["1", "2"]);
    // Wrong order does not fire.
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:01:00Z", "bob", true, "x"),
            login("2", "2024-01-01T00:05:00Z", "bob", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    assert!(corr_matches(&m).is_empty());
}

#[test]
fn temporal_any_order_within_span() {
    let engine = corr_engine(
        "title: Both\nid: both\ncorrelation:\n  type: temporal\n  rules: [failed_login, good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n  generate: true\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[login("1", "2024-01-01T00:01:00Z", "bob", true, "x")],
        &mut st,
    );
    // generate: true keeps the base rules' own matches.
    assert_eq!(m.len(), 1);
    let m = engine.evaluate(
        &[login("2", "2024-01-01T00:08:00Z", "bob", false, "x")],
        &mut st,
    );
    let c = corr_matches(&m);
    assert_eq!(c.len(), 1, "{m:?}");
    assert_eq!(c[0].kind, RuleKind::Correlation(CorrelationType::Temporal));
    // Too far apart.
    let m = engine.evaluate(
        &[
            login("3", "2024-01-01T01:00:00Z", "amy", true, "x"),
            login("4", "2024-01-01T01:11:00Z", "amy", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    assert!(corr_matches(&m).is_empty());
}

#[test]
fn value_count_counts_distinct_values() {
    let engine = corr_engine(
        "title: Spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [failed_login]\n  group-by: [sourceIPAddress]\n  timespan: 1h\n  condition:\n    field: userIdentity.userName\n    gte: 3\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "a", false, "9.9.9.9"),
            login("2", "2024-01-01T00:01:00Z", "a", false, "9.9.9.9"),
            login("3", "2024-01-01T00:02:00Z", "b", false, "9.9.9.9"),
        ],
        &mut st,
    );
    assert!(m.is_empty());
    let m = engine.evaluate(
        &[login("4", "2024-01-01T00:03:00Z", "c", false, "9.9.9.9")],
        &mut st,
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].value, Some(3.0));
    assert_eq!(
        m[0].group,
        vec![("sourceIPAddress".to_string(), Some("9.9.9.9".to_string()))]
    );
}

#[test]
fn upper_bound_conditions_wait_for_the_window_to_close() {
    let engine = corr_engine(
        "title: Few\nid: few\ncorrelation:\n  type: event_count\n  rules: [good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n  condition: {lt: 2}\n",
    );
    let mut st = MemoryStore::default();
    assert!(
        engine
            .evaluate(
                &[
                    login("1", "2024-01-01T00:00:00Z", "bob", true, "x"),
                    login("2", "2024-01-01T00:01:00Z", "amy", true, "x"),
                    login("3", "2024-01-01T00:02:00Z", "amy", true, "x")
                ],
                &mut st
            )
            .is_empty()
    );
    // Time moves past both windows: bob's (1 event) fires, amy's (2) does not.
    let m = engine.evaluate(
        &[login("4", "2024-01-01T00:30:00Z", "zed", true, "x")],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].group_key.as_deref(), Some("userIdentity.userName=bob"));
    // flush() judges what is still open.
    let m = engine.flush(&mut st).matches;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].event_ids, vec!["4"]);
    assert!(st.keys("sigma/w/").is_empty());
}

#[test]
fn value_sum_avg_min_max_percentile() {
    let base = "title: Bytes\nid: bytes\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {eventName: GetObject}, condition: s}\n";
    let get = |id: &str, t: &str, n: u64, key: &str| {
        Event::new(
            id,
            "aws_cloudtrail",
            t,
            json!({"eventName": "GetObject", "bytes": n, "key": key, "user": "u"}),
        )
    };
    let run = |corr: &str| {
        let (engine, errors) =
            Engine::load(&[("b.yml", base), ("c.yml", corr)], EngineConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        let mut st = MemoryStore::default();
        let mut m = engine.evaluate(
            &[
                get("1", "2024-01-01T00:00:00Z", 100, "a"),
                get("2", "2024-01-01T00:01:00Z", 300, "a"),
                get("3", "2024-01-01T00:02:00Z", 200, "b"),
                get("4", "2024-01-01T00:02:30Z", 200, "a"),
            ],
            &mut st,
        );
        m.extend(engine.flush(&mut st).matches);
        m
    };
    let corr = |kind: &str, cond: &str, field: &str| {
        format!(
            "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: [bytes]\n  group-by: [user]\n  timespan: 1h\n  condition:\n    field: {field}\n    {cond}\n"
        )
    };
    let m = run(&corr("value_sum", "gte: 600", "bytes"));
    assert_eq!((m.len(), m[0].value), (1, Some(600.0)));
    assert!(run(&corr("value_sum", "gte: 900", "bytes")).is_empty());
    let m = run(&corr("value_avg", "gt: 150", "bytes"));
    assert_eq!((m.len(), m[0].value), (1, Some(200.0)));
    assert!(run(&corr("value_avg", "gt: 250", "bytes")).is_empty());
    assert_eq!(run(&corr("value_max", "gte: 300", "bytes")).len(), 1);
    assert_eq!(run(&corr("value_min", "lte: 100", "bytes")).len(), 1);
    // key "b" is 25% of the group's events.
    let m = run(&corr("value_percentile", "lte: 25", "key"));
    assert_eq!((m.len(), m[0].value), (1, Some(25.0)));
    assert!(run(&corr("value_percentile", "lte: 10", "key")).is_empty());
}

#[test]
fn aliases_and_chained_correlations() {
    let corr = "title: Fail then success\nid: inner\nname: fail_success\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_login, good_login]\n  group-by: [who]\n  timespan: 10m\n  aliases:\n    who:\n      failed_login: requestParameters.userName\n      good_login: userIdentity.userName\n---\ntitle: Repeated\nid: outer\ncorrelation:\n  type: event_count\n  rules: [fail_success]\n  group-by: [who]\n  timespan: 1h\n  condition: {gte: 2}\nlevel: critical\n";
    let engine = corr_engine(corr);
    let failed = |id: &str, t: &str| {
        Event::new(
            id,
            "aws_cloudtrail",
            t,
            json!({"eventName": "ConsoleLogin", "requestParameters": {"userName": "bob"}, "responseElements": {"ConsoleLogin": "Failure"}}),
        )
    };
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            failed("1", "2024-01-01T00:00:00Z"),
            login("2", "2024-01-01T00:01:00Z", "bob", true, "x"),
        ],
        &mut st,
    );
    assert!(
        m.is_empty(),
        "inner correlation feeds the outer one only: {m:?}"
    );
    let m = engine.evaluate(
        &[
            failed("3", "2024-01-01T00:20:00Z"),
            login("4", "2024-01-01T00:21:00Z", "bob", true, "x"),
        ],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].rule_id, "outer");
    assert_eq!(m[0].level, Level::Critical);
    assert_eq!(m[0].event_ids, vec!["1", "2", "3", "4"]);
    assert_eq!(m[0].group_key.as_deref(), Some("who=bob"));
}

#[test]
fn correlation_errors() {
    let load = |corr: &str| {
        let (_, errors) = Engine::load(
            &[("failed.yml", FAILED), ("c.yml", corr)],
            EngineConfig::default(),
        );
        errors
    };
    let e = load(
        "title: C\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {gte: 1}\n",
    );
    assert!(e[0].message.contains("'nope'"), "{e:?}");
    let e = load(
        "title: C\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5 minutes\n  condition: {gte: 1}\n",
    );
    assert_eq!(e[0].field.as_deref(), Some("correlation.timespan"));
    let e = load(
        "title: C\ncorrelation:\n  type: value_count\n  rules: [failed]\n  timespan: 5m\n  condition: {gte: 1}\n",
    );
    assert_eq!(e[0].field.as_deref(), Some("correlation.condition.field"));
    let e =
        load("title: C\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5m\n");
    assert_eq!(e[0].field.as_deref(), Some("correlation.condition"));
    let e = load("title: C\ncorrelation:\n  type: nearby\n  rules: [failed]\n  timespan: 5m\n");
    assert_eq!(e[0].field.as_deref(), Some("correlation.type"));
    // A cycle between two correlations.
    let e = load(
        "title: A\nname: a\ncorrelation: {type: event_count, rules: [b], timespan: 5m, condition: {gte: 1}}\n---\ntitle: B\nname: b\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}}\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn bad_times_skip_correlations_only() {
    let engine = corr_engine(
        "title: Both\nid: both\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 10m\n  condition: {gte: 1}\n  generate: true\n",
    );
    let r = engine.evaluate_detailed(
        &[login("1", "yesterday", "bob", false, "x")],
        &mut MemoryStore::default(),
    );
    assert_eq!(r.matches.len(), 1);
    assert_eq!(r.matches[0].kind, RuleKind::Detection);
    assert!(matches!(r.issues[0], EvalIssue::BadTime { .. }));
}

#[test]
fn refused_state_writes_are_reported() {
    struct Full(MemoryStore);
    impl StateStore for Full {
        fn get(&self, k: &str) -> Option<Vec<u8>> {
            self.0.get(k)
        }
        fn set(&mut self, _: &str, _: Vec<u8>) -> Result<(), String> {
            Err("quota exceeded".into())
        }
        fn delete(&mut self, k: &str) {
            self.0.delete(k)
        }
        fn keys(&self, p: &str) -> Vec<String> {
            self.0.keys(p)
        }
    }
    let engine = corr_engine(
        "title: B\nid: b\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 10m\n  condition: {gte: 5}\n",
    );
    let r = engine.evaluate_detailed(
        &[login("1", "2024-01-01T00:00:00Z", "bob", false, "x")],
        &mut Full(MemoryStore::default()),
    );
    assert!(
        r.issues
            .iter()
            .any(|i| matches!(i, EvalIssue::State { message, .. } if message == "quota exceeded"))
    );
}

#[test]
fn state_survives_an_engine_reload() {
    let corr = "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 2}\n";
    let mut st = MemoryStore::default();
    corr_engine(corr).evaluate(
        &[login("1", "2024-01-01T00:00:00Z", "bob", false, "x")],
        &mut st,
    );
    let m = corr_engine(corr).evaluate(
        &[login("2", "2024-01-01T00:01:00Z", "bob", false, "x")],
        &mut st,
    );
    assert_eq!(m.len(), 1);
}

#[test]
fn timespans() {
    assert_eq!(parse_timespan("30s"), Some(30_000));
    assert_eq!(parse_timespan("5m"), Some(300_000));
    assert_eq!(parse_timespan("1h"), Some(3_600_000));
    assert_eq!(parse_timespan("2d"), Some(172_800_000));
    assert_eq!(parse_timespan("1w"), Some(604_800_000));
    assert_eq!(parse_timespan("0s"), None);
    assert_eq!(parse_timespan("h"), None);
    assert_eq!(parse_timespan("5y"), None);
}
