//! The bounds of the policy language (issue 12, cases 9 and 10): an
//! expression nests at most `MAX_EXPRESSION_DEPTH` levels, refused at load
//! with the file, line and column; long `and`/`or` chains are not nesting;
//! and evaluation stops after `MAX_EVAL_STEPS` steps with an `error`
//! outcome for that policy alone. The same crate runs in the wasm plugin,
//! so what loads here loads there (tests/e2e/hostile/parsers.rs scans at
//! the limit inside the plugin).

use serde_json::{Value, json};
use stance_policy_engine::*;

fn policy_yaml(id: &str, expr: &str) -> String {
    format!(
        "id: {id}\nname: Test policy\nseverity: high\nresource_type: aws_test\ncheck:\n  expression: {}\n",
        serde_json::to_string(expr).unwrap()
    )
}

fn load(expr: &str) -> Result<PolicySet, LoadErrors> {
    PolicySet::load(&[SourceFile {
        path: "deep.yaml".into(),
        text: policy_yaml("deep-1", expr),
    }])
}

fn evaluate(set: &PolicySet, body: &Value) -> Vec<(String, Status, String)> {
    set.evaluate(&AssetInput {
        id: "arn:aws:test:::x",
        resource_type: "aws_test",
        provider: "aws",
        account: "123456789012",
        region: "us-east-1",
        name: "x",
        tags: &[],
        collected_at: "2026-11-01T00:00:00Z",
        body,
    })
    .into_iter()
    .map(|o| (o.policy.id.clone(), o.status, o.message))
    .collect()
}

fn refused(expr: &str) -> LoadError {
    match load(expr) {
        Ok(_) => panic!("an expression nested past the limit loaded"),
        Err(LoadErrors(mut errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            errors.remove(0)
        }
    }
}

/// Shapes of nesting, each `n` levels deep by the language's count (every
/// operator, call, quantifier, list, index, field access and pair of
/// parentheses is one level; a name or literal is the last).
fn shapes(n: usize) -> Vec<(&'static str, String)> {
    let parens = format!("{}true{}", "(".repeat(n - 1), ")".repeat(n - 1));
    // `not` over `not` ... over `true`: n - 1 negations.
    let nots = format!("{}true", "not ".repeat(n - 1));
    // resource.a.a...: n - 1 field accesses over `resource`; the comparison is one more.
    let fields = format!("resource{} == null", ".a".repeat(n - 2));
    // [[[...[1]...]]] == null: lists of lists, compared.
    let lists = format!("{}1{} != null", "[".repeat(n - 2), "]".repeat(n - 2));
    // any(resource.l, any(item, any(item, ... true))): each quantifier is
    // one level; `resource.l` is two, as deep as the quantifier below it.
    let quants = format!(
        "any(resource.l, {}true{}",
        "any(item, ".repeat(n - 2),
        ")".repeat(n - 1)
    );
    // len(len(...len(resource)...)) == 0 (a type error at run time, never a trap).
    let calls = format!("{}resource{} == 0", "len(".repeat(n - 2), ")".repeat(n - 2));
    // resource[resource[...]] == null: an index inside an index.
    let index = format!(
        "{}'k'{} == null",
        "resource[".repeat(n - 2),
        "]".repeat(n - 2)
    );
    vec![
        ("parentheses", parens),
        ("not", nots),
        ("fields", fields),
        ("lists", lists),
        ("quantifiers", quants),
        ("calls", calls),
        ("index", index),
    ]
}

#[test]
fn every_kind_of_nesting_at_the_limit_loads_and_evaluates() {
    // Lists nested deeper than the quantifiers, so every level evaluates.
    let mut l = json!([]);
    for _ in 0..MAX_EXPRESSION_DEPTH + 2 {
        l = json!([l]);
    }
    let body = json!({"l": l, "a": null, "k": "k"});
    for (shape, expr) in shapes(MAX_EXPRESSION_DEPTH) {
        let set = load(&expr).unwrap_or_else(|e| panic!("{shape} at the limit: {e}"));
        let out = evaluate(&set, &body);
        assert_eq!(out.len(), 1, "{shape}");
    }
}

#[test]
fn every_kind_of_nesting_past_the_limit_is_refused_with_line_and_column() {
    for (shape, expr) in shapes(MAX_EXPRESSION_DEPTH + 1) {
        let e = refused(&expr);
        assert_eq!(e.file, "deep.yaml", "{shape}");
        assert_eq!(e.policy_id.as_deref(), Some("deep-1"), "{shape}");
        assert_eq!(e.line, 6, "{shape}: {e}");
        assert!(e.column > 14, "{shape}: {e}");
        assert!(
            e.message
                .contains(&format!("nests deeper than {MAX_EXPRESSION_DEPTH} levels")),
            "{shape}: {e}"
        );
    }
}

#[test]
fn thousands_of_nested_parentheses_are_refused_not_a_stack_overflow() {
    // Case 9: 3,000-5,000 parentheses (a 10 KB file) aborted the process.
    for n in [1_000, 5_000, 100_000] {
        let e = refused(&format!("{}true{}", "(".repeat(n), ")".repeat(n)));
        assert!(e.to_string().starts_with("deep.yaml:6:"), "{e}");
        assert!(e.message.contains("nests deeper than"), "{e}");
        // The column points where the limit was crossed, inside the expression.
        assert!(e.column > MAX_EXPRESSION_DEPTH, "{e}");
        let e = refused(&format!("{}true", "not ".repeat(n)));
        assert!(e.message.contains("nests deeper than"), "{e}");
        let e = refused(&format!("resource{} == 1", ".a".repeat(n)));
        assert!(e.message.contains("nests deeper than"), "{e}");
        let e = refused(&format!("{}1{} == 1", "[".repeat(n), "]".repeat(n)));
        assert!(e.message.contains("nests deeper than"), "{e}");
        let e = refused(&format!(
            "{}resource{}",
            "resource[".repeat(n),
            "]".repeat(n)
        ));
        assert!(e.message.contains("nests deeper than"), "{e}");
    }
}

#[test]
fn a_deep_message_placeholder_is_refused_too() {
    let text = format!(
        "id: m\nname: M\nseverity: low\nresource_type: aws_test\ncheck:\n  expression: 'true'\n  message: '{{{{ {}resource{} }}}}'\n",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let Err(LoadErrors(errors)) = PolicySet::load(&[SourceFile {
        path: "m.yaml".into(),
        text,
    }]) else {
        panic!("a deep placeholder loaded");
    };
    assert!(
        errors[0].message.contains("nests deeper than"),
        "{errors:?}"
    );
}

#[test]
fn long_and_or_chains_are_not_nesting() {
    // 20,000 terms: one level of `or`, parsed, analysed and dropped without
    // recursion per term.
    let terms: Vec<String> = (0..20_000)
        .map(|i| format!("resource.f{i} == {i}"))
        .collect();
    let set = load(&terms.join(" or ")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.policies()[0].reads().len(), 20_000);
    assert_eq!(evaluate(&set, &json!({"f0": 0}))[0].1, Status::Pass);
    // Evaluated term by term: two thousand terms, each way.
    let terms = &terms[..2_000];
    let set = load(&terms.join(" or ")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evaluate(&set, &json!({"f1999": 1999}))[0].1, Status::Pass);
    assert_eq!(evaluate(&set, &json!({}))[0].1, Status::Fail);
    let set = load(&terms.join(" and ")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evaluate(&set, &json!({}))[0].1, Status::Fail);
}

#[test]
fn runaway_evaluation_stops_with_an_error_for_that_policy_alone() {
    // Nested quantifiers over a list: 20^6 combinations, far past the budget.
    let bomb = "any(resource.l, a => any(resource.l, b => any(resource.l, c => any(resource.l, d => any(resource.l, e => any(resource.l, f => f == -1))))))";
    let files = [
        SourceFile {
            path: "bomb.yaml".into(),
            text: policy_yaml("bomb", bomb),
        },
        SourceFile {
            path: "fine.yaml".into(),
            text: policy_yaml("fine", "len(resource.l) == 20"),
        },
    ];
    let set = PolicySet::load(&files).unwrap_or_else(|e| panic!("{e}"));
    let body = json!({"l": (0..20).collect::<Vec<i32>>()});
    let out = evaluate(&set, &body);
    assert_eq!(out[0].0, "bomb");
    assert_eq!(out[0].1, Status::Error, "{out:?}");
    assert!(
        out[0].2.contains(&format!("{MAX_EVAL_STEPS} steps")),
        "{out:?}"
    );
    assert_eq!(out[1], ("fine".to_string(), Status::Pass, String::new()));
}

#[test]
fn deep_asset_bodies_evaluate_without_recursion_trouble() {
    // serde_json refuses bodies past 128 levels; at that depth a comparison
    // of whole values (deep_eq, show) recurses 128 levels, no more.
    let mut body = json!(1);
    for _ in 0..120 {
        body = json!({ "a": body });
    }
    let set = load("resource == resource and resource != null").unwrap();
    assert_eq!(evaluate(&set, &body)[0].1, Status::Pass);
    let set = load("resource == 1").unwrap();
    assert_eq!(evaluate(&set, &body)[0].1, Status::Error);
}

#[test]
fn copies_of_large_values_are_charged_to_the_budget() {
    // Each `resource` in a list literal is a copy of the whole body: ten
    // thousand copies of a 1,000-element body would hold ten million values.
    let copies = vec!["resource"; 10_000].join(", ");
    let set = load(&format!("len([{copies}]) > 0")).unwrap_or_else(|e| panic!("{e}"));
    let body = json!({"l": (0..1_000).collect::<Vec<i32>>()});
    let out = evaluate(&set, &body);
    assert_eq!(out[0].1, Status::Error, "{out:?}");
    assert!(out[0].2.contains("steps"), "{out:?}");
    // The same expression over a small body is fine.
    let out = evaluate(&set, &json!({"l": [1]}));
    assert_eq!(out[0].1, Status::Pass, "{out:?}");
}
