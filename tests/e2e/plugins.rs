//! Plugins beside the built-in engine: the Rust SDK example through the CLI,
//! `plugins list`, and every kind of component the host must refuse.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{DEMO_FAIL, Env, demo, guest, stderr};

/// Expected failures of the example plugin, computed from the snapshot itself.
fn expected_example_failures(snapshot: &Value) -> (usize, usize) {
    let tagged = [
        "aws_s3_bucket",
        "aws_ec2_instance",
        "aws_ec2_volume",
        "aws_rds_db_instance",
        "aws_kms_key",
    ];
    let mut missing_tags = 0;
    let mut wrong_region = 0;
    for a in snapshot["assets"].as_array().unwrap() {
        let ty = a["resource_type"].as_str().unwrap();
        if tagged.contains(&ty) {
            let tags = &a["tags"];
            let has = |k: &str| tags[k].as_str().is_some_and(|v| !v.trim().is_empty());
            if !(has("owner") && has("environment")) {
                missing_tags += 1;
            }
        }
        let region = a["region"].as_str().unwrap();
        if region != "global" && region != "us-east-1" {
            wrong_region += 1;
        }
    }
    (missing_tags, wrong_region)
}

#[test]
fn the_rust_sdk_example_runs_through_the_cli() {
    let env = Env::new();
    let component = guest("stance-example-rust");
    let manifest = env.manifest(
        "example",
        &component,
        "timeout_ms = 2000\n[settings]\nrequired_tags = [\"owner\", \"environment\"]\nallowed_regions = [\"us-east-1\"]",
    );
    let demo = demo();
    let (code, v) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--plugin",
        manifest.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    let (missing_tags, wrong_region) = expected_example_failures(&snapshot);
    assert!(
        missing_tags > 0 && wrong_region > 0,
        "the demo should exercise both rules"
    );
    let fails = |rule: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == rule && f["status"] == "fail")
            .count()
    };
    assert_eq!(fails("example-required-tags"), missing_tags);
    assert_eq!(fails("example-allowed-regions"), wrong_region);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "example-allowed-regions")
        .unwrap();
    assert_eq!(f["evidence"][0]["path"], "asset.region");
    assert_eq!(f["plugin"], "example-rust");
    assert_eq!(
        v["scan"]["totals"]["by_status"]["fail"].as_u64().unwrap() as usize,
        DEMO_FAIL as usize + missing_tags + wrong_region
    );
}

#[test]
fn plugins_list_shows_world_version_and_digest() {
    let env = Env::new();
    let component = guest("stance-example-rust");
    let (code, v) = env.json(&[
        "plugins",
        "list",
        "--plugin",
        component.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "yaml-policy");
    assert_eq!(list[0]["origin"], "builtin:yaml-policy");
    assert!(list[0]["rules"].as_array().unwrap().len() >= 25);
    let example = &list[1];
    assert_eq!(example["name"], "example-rust");
    assert_eq!(example["world"], "policy");
    assert_eq!(example["wit_version"], "0.1.0");
    let digest = hex::encode(Sha256::digest(std::fs::read(&component).unwrap()));
    assert_eq!(example["digest"], format!("sha256:{digest}"));
    assert_eq!(example["rules"].as_array().unwrap().len(), 2);
}

fn refused(env: &Env, plugin: &str) -> String {
    let demo = demo();
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--plugin",
        plugin,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert_eq!(
        scans.as_array().unwrap().len(),
        0,
        "a refused plugin must not leave a scan"
    );
    stderr(&out)
}

#[test]
fn components_of_another_contract_version_are_refused_naming_both() {
    let env = Env::new();
    let err = refused(&env, guest("stance-wit-mismatch-guest").to_str().unwrap());
    assert!(
        err.contains("built for stance:plugin@0.2.0, but this Stance speaks stance:plugin@0.1.0"),
        "{err}"
    );
}

#[test]
fn core_modules_and_garbage_are_refused() {
    let env = Env::new();
    let core = env.path("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = refused(&env, core.to_str().unwrap());
    assert!(
        err.contains("not a WebAssembly component (it is a core wasm module)"),
        "{err}"
    );
    let junk = env.path("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n").unwrap();
    let err = refused(&env, junk.to_str().unwrap());
    assert!(
        err.contains("junk.wasm: not a WebAssembly component (no wasm header)"),
        "{err}"
    );
    let err = refused(&env, env.path("missing.wasm").to_str().unwrap());
    assert!(err.contains("missing.wasm: cannot read"), "{err}");
}

#[test]
fn settings_are_checked_before_the_plugin_goes_live() {
    let env = Env::new();
    let hostile = guest("stance-hostile-guest");
    let m = env.manifest("no-mode", &hostile, "");
    let err = refused(&env, m.to_str().unwrap());
    assert!(
        err.contains("plugin hostile refused its settings: setting `mode` is required"),
        "{err}"
    );

    let m = env.manifest(
        "unknown",
        &hostile,
        "[settings]\nmode = \"ok\"\ncolour = \"red\"",
    );
    let err = refused(&env, m.to_str().unwrap());
    assert!(err.contains("unknown setting `colour`"), "{err}");

    let m = env.manifest("kind", &hostile, "[settings]\nmode = 3");
    let err = refused(&env, m.to_str().unwrap());
    assert!(
        err.contains("setting `mode` must be of kind string"),
        "{err}"
    );

    // The example validates its own settings in describe.
    let m = env.manifest(
        "example",
        &guest("stance-example-rust"),
        "[settings]\nrequired_tags = \"owner\"",
    );
    let err = refused(&env, m.to_str().unwrap());
    assert!(
        err.contains("the plugin refused its settings: invalid settings: invalid type: string"),
        "{err}"
    );

    let m = env.path("bad.toml");
    std::fs::write(&m, "path = \"x.wasm\"\ntimeout = 5\n").unwrap();
    let err = refused(&env, m.to_str().unwrap());
    assert!(
        err.contains("bad.toml") && err.contains("unknown field `timeout`"),
        "{err}"
    );
}

#[test]
fn rule_ids_must_be_unique_across_plugins() {
    let env = Env::new();
    let component = guest("stance-example-rust");
    let demo = demo();
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--plugin",
        component.to_str().unwrap(),
        "--plugin",
        component.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rule example-required-tags is declared by both"),
        "{}",
        stderr(&out)
    );
}
