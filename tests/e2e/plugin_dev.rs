//! `stance plugin new|build|test|bench` end to end: scaffolds in every
//! language built by their own toolchains (cargo, componentize-py from the
//! test venv, esbuild + componentize-js from npm), the example plugins, the
//! case runner's reports, and the refusals of the build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{Env, demo, root, stderr};

/// The venv `tests/run.sh` installs componentize-py into (with moto).
fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("STANCE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cache/stance-build/venv"));
    let bin = venv.join("bin");
    assert!(
        bin.join("componentize-py").is_file(),
        "{} has no componentize-py: run tests/run.sh (or tests/aws/moto.sh install)",
        bin.display()
    );
    bin
}

/// Where scaffolded Rust plugins build: a persistent directory beside the
/// host's target, so a second run only relinks.
fn plugin_target() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_stance"));
    bin.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("plugin-guests")
}

/// `stance` with the plugin toolchains on PATH.
fn dev(env: &Env, args: &[&str]) -> Output {
    let path = std::env::join_paths(std::iter::once(venv_bin()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    env.cmd()
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", plugin_target())
        // The SDKs of this checkout, not of the one the binary was built in.
        .env("STANCE_SDK_DIR", root().join("sdk"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(args)
        .output()
        .expect("run stance")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn npm_install(dir: &Path) {
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(dir)
        .output()
        .expect("run npm (Node.js must be installed)");
    assert!(
        out.status.success(),
        "npm install in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Scaffold NAME in LANG/WORLD, build it, run its cases: the promise of `plugin new`.
fn scaffold(env: &Env, name: &str, lang: &str, world: &str) -> PathBuf {
    let dir = env.path(name);
    ok(
        &dev(
            env,
            &[
                "plugin",
                "new",
                name,
                "--lang",
                lang,
                "--world",
                world,
                "--dir",
                s(&dir),
            ],
        ),
        "plugin new",
    );
    if lang == "js" {
        npm_install(&dir);
    }
    let built = ok(
        &dev(env, &["plugin", "build", s(&dir), "--format", "json"]),
        "plugin build",
    );
    let built: Value = serde_json::from_str(&built).unwrap();
    assert_eq!(built["metadata"]["name"], name);
    assert_eq!(built["metadata"]["lang"], lang);
    assert_eq!(built["metadata"]["world"], world);
    assert_eq!(built["metadata"]["wit"], "0.1.0");
    assert!(built["rules"].as_u64().unwrap() >= 1);
    let report = test_json(env, &dir, &[]);
    assert_eq!(report.0, 0, "{name}: its own cases must pass: {}", report.1);
    assert!(report.1["passed"].as_u64().unwrap() >= 2, "{}", report.1);
    assert_eq!(report.1["rules_without_cases"], serde_json::json!([]));
    assert_eq!(report.1["rules_one_sided"], serde_json::json!([]));
    dir
}

fn test_json(env: &Env, dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["plugin", "test", s(dir), "--json", "-"];
    args.extend_from_slice(extra);
    let out = dev(env, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "plugin test gave no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// The scan's failing rows of `rule` on the demo, with the plugin project.
fn demo_failures(env: &Env, dir: &Path, rule_prefix: &str) -> Vec<String> {
    let out = dev(
        env,
        &[
            "scan",
            "--snapshot",
            s(&demo()),
            "--no-builtin-policies",
            "--plugin",
            s(dir),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.code() == Some(0),
        "scan with {}: {}",
        dir.display(),
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["status"] == "fail" && f["rule_id"].as_str().unwrap().starts_with(rule_prefix)
        })
        .map(|f| {
            format!(
                "{} {}",
                f["rule_id"].as_str().unwrap(),
                f["resource"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_rust_scaffold_builds_passes_its_cases_and_finds_in_a_scan() {
    let env = Env::new();
    let dir = scaffold(&env, "acme-buckets", "rust", "policy");
    assert_eq!(
        demo_failures(&env, &dir, "acme-buckets-"),
        ["acme-buckets-versioning acme-eu-analytics-scratch"]
    );

    // Unchanged sources: no rebuild. A changed source: a rebuild.
    let again = ok(&dev(&env, &["plugin", "build", s(&dir)]), "rebuild");
    assert!(again.contains("up to date"), "{again}");
    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        text.replace("keeps no object versions", "has no object versions"),
    )
    .unwrap();
    let again = ok(&dev(&env, &["plugin", "build", s(&dir)]), "rebuild");
    assert!(again.contains("built in"), "{again}");

    // A wrong expectation: exit 1, a readable diff, JUnit XML and JSON.
    let cases = dir.join("tests/cases.yaml");
    let text = std::fs::read_to_string(&cases).unwrap();
    std::fs::write(&cases, text.replace("status: Suspended", "status: Enabled")).unwrap();
    let junit = env.path("junit.xml");
    let json = env.path("report.json");
    let out = dev(
        &env,
        &[
            "plugin",
            "test",
            s(&dir),
            "--junit",
            s(&junit),
            "--json",
            s(&json),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED  cases.yaml::suspended versioning fails"),
        "{text}"
    );
    assert!(
        text.contains("- acme-buckets-versioning on arn:aws:s3:::prod-logs: fail")
            && text.contains("+ acme-buckets-versioning on arn:aws:s3:::prod-logs: pass"),
        "{text}"
    );
    assert!(
        text.contains("- evidence: resource.versioning.status"),
        "{text}"
    );
    assert!(
        text.contains("test result: FAILED. 2 passed; 1 failed"),
        "{text}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"3\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase classname=\"cases.yaml\" name=\"suspended versioning fails\""),
        "{xml}"
    );
    assert!(
        xml.contains("&lt;") || xml.contains("- acme-buckets-versioning"),
        "{xml}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["failed"], 1);
    assert_eq!(report["passed"], 2);

    // --filter runs only the matching cases.
    let (code, report) = test_json(&env, &dir, &["--filter", "versioned bucket passes"]);
    assert_eq!(code, 0);
    assert_eq!(report["passed"], 1);
    assert_eq!(report["filtered_out"], 2);

    // A rule without cases is reported.
    std::fs::write(&cases, "cases: []\n").unwrap();
    let (code, report) = test_json(&env, &dir, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        report["rules_without_cases"],
        serde_json::json!(["acme-buckets-versioning"])
    );

    // The detector scaffold.
    scaffold(&env, "trail-watch", "rust", "detector");
}

#[test]
fn python_plugins_build_with_componentize_py_and_load_warm_from_the_cache() {
    let env = Env::new();
    let dir = scaffold(&env, "py-buckets", "python", "policy");
    assert_eq!(
        demo_failures(&env, &dir, "py-buckets-"),
        ["py-buckets-s3-versioning acme-eu-analytics-scratch"]
    );
    // The second scan loads the precompiled component from the cache.
    let out = dev(
        &env,
        &[
            "scan",
            "--snapshot",
            s(&demo()),
            "--no-builtin-policies",
            "--plugin",
            s(&dir),
        ],
    );
    let text = stderr(&out);
    assert!(
        text.contains("plugin py-buckets 0.1.0 (2 rules, cache hit"),
        "{text}"
    );
    scaffold(&env, "py-signins", "python", "detector");

    // The IAM analysis example: every case passes, and it finds the demo's risky roles.
    let example = root().join("plugins/iam-python");
    let (code, report) = test_json(&env, &example, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(report["passed"].as_u64().unwrap() >= 30, "{report}");
    assert_eq!(report["rules_without_cases"], serde_json::json!([]));
    let failures = demo_failures(&env, &example, "iam-py-");
    for expected in [
        "iam-py-role-cross-account-trust OrganizationAccountAccessRole",
        "iam-py-role-public-trust legacy-partner-access",
        "iam-py-wildcard-actions AcmeBreakGlassAdmin",
        "iam-py-privilege-escalation AcmeBreakGlassAdmin",
    ] {
        assert!(
            failures.iter().any(|f| f == expected),
            "{expected} not in {failures:?}"
        );
    }
    assert!(
        !failures.iter().any(|f| f.contains("AcmeCIDeployPolicy")),
        "scoped iam:PassRole must pass: {failures:?}"
    );
}

#[test]
fn javascript_plugins_build_with_componentize_js() {
    let env = Env::new();
    let dir = scaffold(&env, "js-buckets", "js", "policy");
    let failures = demo_failures(&env, &dir, "js-buckets-versioning");
    assert_eq!(
        failures,
        ["js-buckets-versioning acme-eu-analytics-scratch"]
    );
    scaffold(&env, "js-root-watch", "js", "detector");

    let example = root().join("plugins/s3-js");
    npm_install(&example);
    let (code, report) = test_json(&env, &example, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(report["passed"].as_u64().unwrap() >= 20, "{report}");
    assert_eq!(report["rules_without_cases"], serde_json::json!([]));
    let failures = demo_failures(&env, &example, "s3-js-");
    assert!(
        failures.contains(&"s3-js-public-principal acme-web-static-assets".to_string()),
        "{failures:?}"
    );
}

#[test]
fn the_yaml_policy_library_runs_through_plugin_test() {
    let env = Env::new();
    let (code, report) = test_json(&env, &root().join("policies/aws"), &[]);
    assert_eq!(code, 0, "{}", report["cases"]);
    assert_eq!(report["lang"], "yaml");
    assert!(
        report["passed"].as_u64().unwrap() >= 500,
        "{}",
        report["passed"]
    );
    assert_eq!(report["failed"], 0);
    assert_eq!(report["rules_without_cases"], serde_json::json!([]));
    assert_eq!(report["rules_one_sided"], serde_json::json!([]));
}

#[test]
fn builds_are_refused_with_what_to_do() {
    let env = Env::new();
    // No componentize-py on PATH: the message says what to install.
    let dir = env.path("no-tool");
    ok(
        &dev(
            &env,
            &[
                "plugin",
                "new",
                "no-tool",
                "--lang",
                "python",
                "--dir",
                s(&dir),
            ],
        ),
        "new",
    );
    let out = env
        .cmd()
        .env("PATH", "/usr/bin:/bin")
        .args(["plugin", "build", s(&dir)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("componentize-py is not installed: pip install componentize-py==0.25.1"),
        "{}",
        stderr(&out)
    );

    // A JS project whose dependencies were never installed, without Node on PATH.
    let js = env.path("no-node");
    ok(
        &dev(
            &env,
            &["plugin", "new", "no-node", "--lang", "js", "--dir", s(&js)],
        ),
        "new",
    );
    let out = env
        .cmd()
        .env("PATH", "/nonexistent")
        .args(["plugin", "build", s(&js)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Node.js is not installed"),
        "{}",
        stderr(&out)
    );

    // The manifest says detector, the code is a policy: refused, nothing written.
    let rust = env.path("wrong-world");
    ok(
        &dev(&env, &["plugin", "new", "wrong-world", "--dir", s(&rust)]),
        "new",
    );
    let manifest = rust.join("stance-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("world = \"policy\"", "world = \"detector\""),
    )
    .unwrap();
    let out = dev(&env, &["plugin", "build", s(&rust)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is a policy plugin, but this command runs detector plugins"),
        "{}",
        stderr(&out)
    );
    assert!(!rust.join("dist/wrong-world.wasm").exists());

    // The manifest's name disagrees with what describe() says.
    std::fs::write(
        &manifest,
        text.replace("name = \"wrong-world\"", "name = \"other-name\""),
    )
    .unwrap();
    let out = dev(&env, &["plugin", "build", s(&rust)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "describe() says wrong-world 0.1.0, but stance-plugin.toml says other-name 0.1.0"
        ),
        "{}",
        stderr(&out)
    );

    // A bad manifest names the file and the field.
    std::fs::write(
        &manifest,
        text.replace("lang = \"rust\"", "lang = \"cobol\""),
    )
    .unwrap();
    let out = dev(&env, &["plugin", "build", s(&rust)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("stance-plugin.toml") && err.contains("lang") && err.contains("cobol"),
        "{err}"
    );

    // `plugin new` never overwrites, and checks the name.
    let out = dev(&env, &["plugin", "new", "wrong-world", "--dir", s(&rust)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already exists and is not empty"),
        "{}",
        stderr(&out)
    );
    let out = dev(
        &env,
        &["plugin", "new", "Bad_Name", "--dir", s(&env.path("x"))],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a valid plugin name"),
        "{}",
        stderr(&out)
    );

    // Not a project at all.
    let out = dev(&env, &["plugin", "test", s(env.dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("neither a plugin project"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugin_bench_reports_comparable_figures() {
    let env = Env::new();
    let dir = scaffold(&env, "bench-me", "rust", "policy");
    let out = dev(
        &env,
        &[
            "plugin",
            "bench",
            s(&dir),
            "--items",
            "300",
            "--batch-size",
            "100",
            "--rounds",
            "2",
            "--format",
            "json",
            "-o",
            s(&env.path("b.json")),
        ],
    );
    ok(&out, "plugin bench");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("b.json")).unwrap()).unwrap();
    assert_eq!(r["plugin"], "bench-me");
    assert_eq!(r["items"], 300);
    assert_eq!(r["batch"]["samples"], 6);
    assert_eq!(r["instantiate"]["samples"], 20);
    assert_eq!(
        r["results_per_round"], 300,
        "every case asset is a bucket the rule judges"
    );
    for key in [
        "compile_cold_ms",
        "compile_warm_ms",
        "load_warm_ms",
        "per_item_us",
        "peak_rss_mib",
    ] {
        assert!(
            r[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {}",
            r[key]
        );
    }
    let out = dev(
        &env,
        &[
            "plugin",
            "bench",
            s(&dir),
            "--items",
            "100",
            "--rounds",
            "1",
            "--baseline",
            s(&env.path("b.json")),
        ],
    );
    let text = ok(&out, "plugin bench --baseline");
    assert!(
        text.contains("BASELINE")
            && text.contains("CHANGE")
            && text.contains("compile, cold cache"),
        "{text}"
    );
}
