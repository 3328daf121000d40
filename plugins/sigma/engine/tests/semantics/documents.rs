//! Rule documents and errors: metadata, global actions, bad documents,
//! logsource routing, field mapping, plugin config and sigma filters.

use serde_json::json;

use super::*;

#[test]
fn rule_documents_and_metadata() {
    let text = "title: Bad level\nlogsource: {product: aws}\nlevel: severe\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("l.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("level"));
    let text = "logsource: {product: aws}\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("n.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("title"));
    let text = "title: x\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("n.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("logsource"));
    let (_, errors) = Engine::load(&[("y.yml", "title: [unclosed\n")], EngineConfig::default());
    assert!(errors[0].message.contains("invalid YAML"));
    let (engine, _) = Engine::load(
        &[(
            "t.yml",
            format!("{HEAD}detection: {{s: {{a: 1}}, condition: s}}\ntags: [attack.t1078]\n"),
        )],
        EngineConfig::default(),
    );
    let info = engine.rules().next().cloned();
    let info = info.unwrap_or_else(|| panic!("no rule"));
    assert_eq!(info.id, "rule-1");
    assert_eq!(info.level, Level::High);
    assert_eq!(info.meta.tags, vec!["attack.t1078".to_string()]);
}

#[test]
fn global_action_and_multiple_documents() {
    let text = "action: global\ntitle: Shared\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  base:\n    eventSource: iam.amazonaws.com\n  condition: base and sel\n---\nid: g1\ndetection:\n  sel:\n    eventName: CreateUser\n---\nid: g2\ntitle: Second\ndetection:\n  sel:\n    eventName: DeleteUser\n";
    let (engine, errors) = Engine::load(&[("g.yml", text)], EngineConfig::default());
    assert!(errors.is_empty(), "{errors:?}");
    let titles: Vec<_> = engine
        .rules()
        .map(|r| (r.id.clone(), r.meta.title.clone()))
        .collect();
    assert_eq!(
        titles,
        vec![
            ("g1".into(), "Shared".into()),
            ("g2".into(), "Second".into())
        ]
    );
    let m = engine.evaluate(
        &[ev(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser"}),
        )],
        &mut MemoryStore::default(),
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule_id, "g2");
}

#[test]
fn one_bad_document_does_not_stop_the_others() {
    let text = format!(
        "{HEAD}detection: {{s: {{a|nope: 1}}, condition: s}}\n---\ntitle: ok\nid: ok\nlogsource: {{product: aws}}\ndetection: {{s: {{a: 1}}, condition: s}}\n"
    );
    let (engine, errors) = Engine::load(&[("m.yml", text)], EngineConfig::default());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].document, 1);
    assert_eq!(engine.rules().count(), 1);
}

#[test]
fn logsource_routing_and_field_mapping() {
    let text = "title: Okta\nid: okta\nlogsource: {product: okta}\ndetection: {s: {user: bob}, condition: s}\n";
    let (engine, _) = Engine::load(&[("o.yml", text)], EngineConfig::default());
    // A CloudTrail event never reaches an Okta rule.
    assert!(
        engine
            .evaluate(&[ev(json!({"user": "bob"}))], &mut MemoryStore::default())
            .is_empty()
    );
    // An unknown source is tested against every rule by default...
    let other = Event::new(
        "e",
        "custom",
        "2024-01-01T00:00:00Z",
        json!({"user": "bob"}),
    );
    assert_eq!(
        engine
            .evaluate(std::slice::from_ref(&other), &mut MemoryStore::default())
            .len(),
        1
    );
    // ...and mapped fields are read where the mapping says.
    let mut config = EngineConfig::default();
    config.sources.push(SourceMapping {
        source: "okta_system".into(),
        logsource: LogSource {
            product: Some("okta".into()),
            ..LogSource::default()
        },
        fields: [(
            "user".to_string(),
            FieldTarget::Many(vec!["actor.alternateId".into(), "actor.displayName".into()]),
        )]
        .into_iter()
        .collect(),
    });
    config.match_unknown_sources = false;
    let (engine, _) = Engine::load(&[("o.yml", text)], config);
    let okta = Event::new(
        "e",
        "okta_system",
        "2024-01-01T00:00:00Z",
        json!({"actor": {"displayName": "Bob"}}),
    );
    assert_eq!(
        engine.evaluate(&[okta], &mut MemoryStore::default()).len(),
        1
    );
    assert!(
        engine
            .evaluate(&[other], &mut MemoryStore::default())
            .is_empty()
    );
}

#[test]
fn config_deserializes_from_plugin_settings() {
    let config: EngineConfig = serde_json::from_value(json!({
        "placeholders": {"Admins": ["root"]},
        "sources": [{"source": "aws_cloudtrail", "logsource": {"product": "aws", "service": "cloudtrail"},
                     "fields": {"User": "userIdentity.userName", "Ip": ["sourceIPAddress"]}}]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sources[0].fields.len(), 2);
    assert!(config.match_unknown_sources);
}

#[test]
fn sigma_filters_exclude_matches() {
    let rule = "title: Login\nid: login\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {eventName: ConsoleLogin}, condition: s}\n";
    let filter = "title: Skip admins\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n  rules: [login]\n  selection:\n    user|startswith: adm_\n  condition: selection\n";
    let (engine, errors) = Engine::load(
        &[("r.yml", rule), ("f.yml", filter)],
        EngineConfig::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut st = MemoryStore::default();
    assert_eq!(
        engine
            .evaluate(
                &[ev(json!({"eventName": "ConsoleLogin", "user": "bob"}))],
                &mut st
            )
            .len(),
        1
    );
    assert!(
        engine
            .evaluate(
                &[ev(json!({"eventName": "ConsoleLogin", "user": "adm_x"}))],
                &mut st
            )
            .is_empty()
    );
}
