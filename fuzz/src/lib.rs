//! What the fuzz targets share: the small asset and events every input is
//! evaluated against, the quoting that places arbitrary text in a YAML
//! document as one scalar, and the host's readers of untrusted input (below).
//! The targets themselves are in `fuzz_targets/`.

use serde_json::{Value, json};
use stance_policy_engine::{AssetInput, PolicySet};
use stance_sigma_engine::{Engine, Event, MemoryStore};

/// `text` as one YAML scalar, whatever it holds: a JSON string is a YAML
/// double-quoted scalar.
pub fn scalar(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// An asset body with a value of every kind, nested a few levels, for
/// expressions to read.
pub fn body() -> Value {
    json!({
        "n": 5, "f": 1.5, "neg": -3, "s": "Enabled", "empty": "", "t": true, "z": null,
        "time": "2024-01-01T00:00:00Z",
        "l": [1, "x", {"k": [true, null, 2.5]}, [[1, 2], []]],
        "o": {"k": "v", "n": {"deep": {"er": [{"a": 1}, {"a": "2"}]}}},
        "rules": [
            {"cidr": "0.0.0.0/0", "port": 22, "tags": {"Name": "a"}},
            {"cidr": "10.0.0.0/8", "port": 443, "tags": {}},
        ],
    })
}

/// Evaluate every policy of `set` on the fuzz asset (and list what each reads).
pub fn evaluate_policies(set: &PolicySet) {
    for p in set.policies() {
        let _ = p.reads();
    }
    let body = body();
    let tags = [("team".to_string(), "core".to_string())];
    for resource_type in ["aws_test", "aws_s3_bucket"] {
        let _ = set.evaluate(&AssetInput {
            id: "arn:aws:test:::fuzz",
            resource_type,
            provider: "aws",
            account: "123456789012",
            region: "us-east-1",
            name: "fuzz",
            tags: &tags,
            collected_at: "2026-11-01T00:00:00Z",
            body: &body,
        });
    }
}

/// CloudTrail-like events for rules to match, from two sources, in and out
/// of order, one with an unreadable time.
pub fn events() -> Vec<Event> {
    let record = |id: &str, time: &str, name: &str, user: &str| {
        Event::new(
            id,
            "aws_cloudtrail",
            time,
            json!({
                "eventName": name, "eventSource": "iam.amazonaws.com", "a": 1, "b": "1", "c": [1, "x"],
                "userIdentity": {"type": "Root", "userName": user, "arn": "arn:aws:iam::1:root"},
                "requestParameters": {"policyDocument": "{\"Statement\": []}", "cmd": "-exec /bin/sh"},
                "responseElements": {"ConsoleLogin": "Failure"}, "sourceIPAddress": "10.0.0.1",
                "a.b": "flat", "n": 10, "encoded": "dGVzdA==",
            }),
        )
    };
    vec![
        record("e1", "2024-05-01T10:00:00Z", "ConsoleLogin", "alice"),
        record("e2", "2024-05-01T10:00:30Z", "CreateUser", "bob"),
        record("e3", "2024-05-01T09:59:00Z", "ConsoleLogin", "alice"),
        record("e4", "not a time", "DeleteTrail", "alice"),
        Event::new("e5", "other", "2024-05-01T10:01:00Z", json!([1, {"a": 1}])),
    ]
}

/// Evaluate the engine's rules on the fuzz events twice (so correlations
/// meet their own state), then flush its windows.
pub fn evaluate_rules(engine: &Engine) {
    let mut state = MemoryStore::default();
    let events = events();
    let _ = engine.evaluate_detailed(&events, &mut state);
    let _ = engine.evaluate_detailed(&events[..2], &mut state);
    let _ = engine.flush(&mut state);
}

/// A small valid pack, signed with a key made for this fuzz run, and the
/// options that trust that key: the base the `pack_archive` target patches.
pub struct SamplePack {
    /// The signed archive bytes.
    pub archive: Vec<u8>,
    /// Verification options that trust the signing key.
    pub options: stance_pack::VerifyOptions,
}

/// The sample pack, built once per process.
pub fn sample_pack() -> &'static SamplePack {
    static SAMPLE: std::sync::OnceLock<SamplePack> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(build_sample_pack)
}

/// Options that trust no key: how a raw input is verified.
pub fn pack_options() -> stance_pack::VerifyOptions {
    stance_pack::VerifyOptions {
        trusted_keys: Vec::new(),
        allow_unsigned: true,
        host: host_versions(),
    }
}

fn host_versions() -> stance_pack::HostVersions {
    stance_pack::HostVersions {
        wit: "stance:plugin@0.1.0".parse().expect("a valid WIT version"),
        stance: "0.1.0".parse().expect("a valid version"),
    }
}

fn build_sample_pack() -> SamplePack {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pack = dir.path().join("pack");
    std::fs::create_dir_all(pack.join("policies")).expect("create the pack directory");
    std::fs::write(
        pack.join(stance_pack::manifest::MANIFEST_FILE),
        stance_pack::manifest::starter_manifest("fuzz-sample")
            .replace("policies = []", "policies = [\"policies/*.yaml\"]"),
    )
    .expect("write the manifest");
    std::fs::write(
        pack.join("policies/sample.yaml"),
        "id: fuzz-sample-policy\nresource: aws_s3_bucket\nexpression: resource.versioning == \"Enabled\"\n",
    )
    .expect("write a policy");
    let unsigned = stance_pack::build(&pack).expect("build the sample pack");
    let key = stance_pack::generate_key(&dir.path().join("key.pem")).expect("make a key");
    let private = stance_pack::load_private_key(&key.private_path).expect("read the key");
    let archive = stance_pack::sign(&unsigned, "sample", &private).expect("sign the sample");
    SamplePack {
        archive,
        options: stance_pack::VerifyOptions {
            trusted_keys: vec![private.public_key("fuzz")],
            allow_unsigned: false,
            host: host_versions(),
        },
    }
}

// The host's readers of untrusted input, compiled here from the host's own
// source files (the same code, not a copy) under the module paths they
// use there (`crate::intake`, `crate::model`), so the fuzz build needs
// neither wasmtime nor the AWS SDK. What needs the AWS SDK (`s3://` event
// inputs, behind the host's `aws-s3` feature) is left out, hence the
// allowance for a feature this crate does not declare.

/// `stance::model`: the records the readers produce.
pub mod model {
    pub use stance_model::*;
}

/// `stance::intake`: limits, bounded JSON and line reading, the walker.
#[path = "../../host/src/intake/mod.rs"]
#[allow(dead_code, unexpected_cfgs)]
pub mod intake;

/// `stance::events::input`: CloudTrail, VPC Flow Logs and GuardDuty readers.
/// (At the root: a `#[path]` inside an inline module would be resolved
/// through a directory that does not exist.)
#[path = "../../host/src/events/input/mod.rs"]
#[allow(dead_code, unexpected_cfgs)]
pub mod event_input;

/// `stance::collect::snapshot`: the snapshot reader (JSON and NDJSON).
#[path = "../../host/src/collect/snapshot.rs"]
#[allow(dead_code, unexpected_cfgs)]
pub mod snapshot;

/// Check what a reader made of an input: every event carries an id and a
/// body that is JSON, as the detectors are promised.
pub fn check_events(events: &[model::Event]) {
    for e in events {
        assert!(!e.id.is_empty(), "an event without an id: {e:?}");
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(&e.body).is_ok(),
            "an event body that is not JSON: {e:?}"
        );
    }
}
