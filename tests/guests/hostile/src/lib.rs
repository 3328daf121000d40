//! A policy plugin that misbehaves on purpose, to prove the sandbox holds.
//!
//! The `mode` setting picks the misbehaviour; with `trigger_asset` set, it
//! misbehaves only in the batch that holds that asset and evaluates every
//! other batch honestly, so tests can check that one bad batch spoils
//! nothing else.
//!
//! Mode `count` keeps state on purpose: each call fails every (rule, asset)
//! of its batch with `call N of this instance`, counting the calls the
//! instance has served, so tests see when the host reuses an instance; with
//! `trigger_asset` it panics in the batch holding that asset.

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use stance_sdk::prelude::*;

struct Hostile;

const RULE_ALL: &str = "hostile-any-asset";
const RULE_BUCKETS: &str = "hostile-buckets";

fn setting(settings: &Value, key: &str) -> Option<String> {
    settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Policy for Hostile {
    fn describe() -> Result<PluginInfo, PluginError> {
        let settings = stance_sdk::settings::json()?;
        if setting(&settings, "mode").as_deref() == Some("describe-panic") {
            panic!("hostile plugin panics in describe");
        }
        Ok(PluginInfo::new("hostile", "0.0.1")
            .description("misbehaves on purpose (tests only)")
            .setting("mode", "string", true, "the misbehaviour")
            .setting(
                "trigger_asset",
                "string",
                false,
                "misbehave only in the batch holding this asset",
            )
            .setting(
                "addr",
                "string",
                false,
                "address the socket mode connects to",
            )
            .setting(
                "invalid",
                "string",
                false,
                "kind of invalid record for mode=invalid",
            )
            .rule(
                RuleInfo::new(RULE_ALL, "Hostile rule over every asset", Severity::Low)
                    .resource_types(["*"]),
            )
            .rule(
                RuleInfo::new(RULE_BUCKETS, "Hostile rule over buckets", Severity::High)
                    .resource_types(["aws_s3_bucket"]),
            ))
    }

    fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError> {
        let settings = stance_sdk::settings::json()?;
        let mode = setting(&settings, "mode").unwrap_or_default();
        if mode == "count" {
            let trap = setting(&settings, "trigger_asset")
                .is_some_and(|id| batch.iter().any(|a| a.id == id));
            return Ok(counted(&batch, trap));
        }
        let triggered = match setting(&settings, "trigger_asset") {
            Some(id) => batch.iter().any(|a| a.id == id),
            None => true,
        };
        if triggered {
            misbehave(&mode, &settings, &batch)
        } else {
            Ok(honest(&batch))
        }
    }
}

fn honest(batch: &[Asset]) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in batch {
        out.push(Finding::pass(RULE_ALL, a));
        if a.resource_type == "aws_s3_bucket" {
            out.push(Finding::pass(RULE_BUCKETS, a));
        }
    }
    out
}

/// Calls this instance has served (mode `count`).
static CALLS: AtomicU64 = AtomicU64::new(0);

fn counted(batch: &[Asset], trap: bool) -> Vec<Finding> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    if trap {
        panic!("hostile plugin panicked on call {n} of its instance");
    }
    let message = format!("call {n} of this instance");
    let mut out = Vec::new();
    for a in batch {
        out.push(Finding::fail(RULE_ALL, a, message.clone()));
        if a.resource_type == "aws_s3_bucket" {
            out.push(Finding::fail(RULE_BUCKETS, a, message.clone()));
        }
    }
    out
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    black_box(recurse(depth + 1)) + frame[3]
}

fn misbehave(mode: &str, settings: &Value, batch: &[Asset]) -> Result<Vec<Finding>, PluginError> {
    let first = batch
        .first()
        .ok_or_else(|| PluginError::new("empty batch"))?;
    match mode {
        "ok" => Ok(honest(batch)),
        "loop" => {
            let mut i: u64 = 0;
            loop {
                i = black_box(i.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut v: Vec<u8> = Vec::with_capacity(1 << 30);
            v.resize(1 << 30, 1);
            Ok(vec![Finding::fail(
                RULE_ALL,
                first,
                format!("allocated {} bytes", black_box(v.len())),
            )])
        }
        "recurse" => Ok(vec![Finding::fail(
            RULE_ALL,
            first,
            format!("depth {}", recurse(0)),
        )]),
        "panic" => panic!("hostile plugin panicked on purpose"),
        "read-file" => match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => Ok(vec![Finding::fail(
                RULE_ALL,
                first,
                format!("LEAKED /etc/passwd: {text}"),
            )]),
            Err(e) => Err(PluginError::new(format!("cannot read /etc/passwd: {e}"))),
        },
        "env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            if vars.is_empty() {
                Err(PluginError::new("no environment variables are visible"))
            } else {
                Ok(vec![Finding::fail(
                    RULE_ALL,
                    first,
                    format!("LEAKED env: {}", vars.join(" ")),
                )])
            }
        }
        "socket" => {
            let addr = setting(settings, "addr").unwrap_or_else(|| "127.0.0.1:9".into());
            match std::net::TcpStream::connect(&addr) {
                Ok(mut s) => {
                    let _ = s.write_all(b"LEAKED over the network\n");
                    let mut buf = [0u8; 16];
                    let _ = s.read(&mut buf);
                    Ok(vec![Finding::fail(
                        RULE_ALL,
                        first,
                        format!("LEAKED: connected to {addr}"),
                    )])
                }
                Err(e) => Err(PluginError::new(format!("cannot connect to {addr}: {e}"))),
            }
        }
        "big-output" => Ok(vec![Finding::fail(RULE_ALL, first, "x".repeat(100 << 20))]),
        "invalid" => {
            let kind = setting(settings, "invalid").unwrap_or_default();
            let mut f = Finding::fail(RULE_ALL, first, "invalid on purpose");
            match kind.as_str() {
                "unknown-rule" => f.rule_id = "no-such-rule".into(),
                "unknown-asset" => f.asset_id = "arn:aws:s3:::not-in-this-batch".into(),
                "bad-evidence" => f.evidence.push(Evidence {
                    path: "resource.x".into(),
                    actual: "{not json".into(),
                    expected: "anything".into(),
                }),
                "duplicate" => return Ok(vec![f.clone(), f]),
                "wrong-type" => {
                    f.rule_id = RULE_BUCKETS.into();
                    let not_bucket = batch
                        .iter()
                        .find(|a| a.resource_type != "aws_s3_bucket")
                        .unwrap_or(first);
                    f.asset_id = not_bucket.id.clone();
                }
                other => return Err(PluginError::new(format!("unknown invalid kind {other:?}"))),
            }
            Ok(vec![f])
        }
        other => Err(PluginError::new(format!("unknown mode {other:?}"))),
    }
}

stance_sdk::export_policy!(Hostile);
