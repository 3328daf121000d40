//! Rule packs through the CLI: keys, deterministic builds, signatures and
//! every refusal (exit 2 with a message naming the pack, the file and the
//! reason), versions side by side, `scan --pack` and `detect --pack` with
//! `stance.lock`; sharing through a real OCI registry in `oci`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{Env, demo, guest, stderr};

/// A user with their own STANCE_HOME (keys, packs), docker config and
/// project directory (the current directory of every command).
struct User {
    env: Env,
    home: PathBuf,
    project: PathBuf,
    docker: PathBuf,
}

impl User {
    fn new() -> User {
        let env = Env::new();
        let home = env.path("stance-home");
        let project = env.path("project");
        let docker = env.path("docker");
        for d in [&home, &project, &docker] {
            std::fs::create_dir_all(d).unwrap();
        }
        User {
            env,
            home,
            project,
            docker,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.env.path(name)
    }

    fn cmd(&self) -> Command {
        let mut c = self.env.cmd();
        c.env("STANCE_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker)
            .current_dir(&self.project);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run stance")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stance {args:?} exited {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must be refused: exit 2, and stderr has every needle.
    fn refused(&self, args: &[&str], needles: &[&str]) -> String {
        let out = self.run(args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "stance {args:?} should exit 2\nstdout: {}\nstderr: {err}",
            String::from_utf8_lossy(&out.stdout)
        );
        for n in needles {
            assert!(
                err.contains(n),
                "stance {args:?}: stderr lacks {n:?}:\n{err}"
            );
        }
        err
    }

    /// `scan --format json` of the demo with extra arguments; the rule ids
    /// of the failing findings.
    fn scan_rules(&self, extra: &[&str]) -> Vec<String> {
        let demo = demo();
        let mut args = vec![
            "scan",
            "--snapshot",
            demo.to_str().unwrap(),
            "--format",
            "json",
            "-q",
        ];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "fail")
            .map(|f| f["rule_id"].as_str().unwrap().to_string())
            .collect()
    }

    fn installed(&self) -> Vec<(String, String)> {
        let v: Value =
            serde_json::from_str(&self.ok(&["pack", "list", "--format", "json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["version"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A policy that fails on every S3 bucket of the demo.
fn policy(id: &str) -> String {
    format!(
        "id: {id}\nname: {id}\nseverity: medium\nresource_type: aws_s3_bucket\ncheck:\n  expression: asset.name == \"no-bucket-is-called-this\"\n  message: \"Bucket {{{{asset.name}}}} fails {id}\"\n"
    )
}

/// Writes a pack directory: its manifest and one policy file per rule id.
fn write_pack(dir: &Path, name: &str, version: &str, wit: &str, rules: &[&str], extra: &str) {
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(
        dir.join("stance-pack.toml"),
        format!(
            "[pack]\nname = \"{name}\"\nversion = \"{version}\"\ndescription = \"test pack\"\nauthors = [\"Tests\"]\nwit = \"{wit}\"\nmin-stance-version = \"0.1.0\"\n\n[data]\npolicies = [\"policies/*.yaml\"]\n{extra}"
        ),
    )
    .unwrap();
    for r in rules {
        std::fs::write(dir.join("policies").join(format!("{r}.yaml")), policy(r)).unwrap();
    }
}

/// Builds and signs a pack; returns the archive path.
fn build_signed(u: &User, dir: &Path, key: &Path, out: &str) -> PathBuf {
    let archive = u.path(out);
    u.ok(&["pack", "build", s(dir), "-o", s(&archive)]);
    u.ok(&["pack", "sign", s(&archive), "--key", s(key)]);
    archive
}

fn generate_key(u: &User, name: &str) -> (PathBuf, PathBuf) {
    let key = u.path(name);
    u.ok(&["key", "generate", "--out", s(&key)]);
    let public = PathBuf::from(format!("{}.pub", key.display()));
    (key, public)
}

fn trust_for_user(u: &User, public: &Path) {
    let keys = u.home.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(public, keys.join(public.file_name().unwrap())).unwrap();
}

#[test]
fn keygen_init_deterministic_build_sign_and_verify() {
    let u = User::new();
    let (key, public) = generate_key(&u, "team.key");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("BEGIN PRIVATE KEY")
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is private");
    }
    // Never overwritten.
    u.refused(&["key", "generate", "--out", s(&key)], &["already exists"]);

    let dir = u.path("acme");
    let init = u.ok(&["pack", "init", s(&dir)]);
    assert!(init.contains("for pack acme"), "{init}");
    assert!(dir.join("stance-pack.toml").is_file());
    write_pack(
        &dir,
        "acme",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        "",
    );

    let (a, b) = (u.path("a.tar.gz"), u.path("b.tar.gz"));
    u.ok(&["pack", "build", s(&dir), "-o", s(&a)]);
    // Another mtime on every file must not change a byte.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        dir.join("policies/acme-one.yaml"),
        std::fs::read(dir.join("policies/acme-one.yaml")).unwrap(),
    )
    .unwrap();
    u.ok(&["pack", "build", s(&dir), "-o", s(&b)]);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "two builds of the same pack differ"
    );

    u.refused(
        &["pack", "verify", s(&a)],
        &["pack acme@1.0.0", "a.tar.gz", "refused", "not signed"],
    );
    u.ok(&["pack", "sign", s(&a), "--key", s(&key)]);
    // Against the given key...
    let ok = u.ok(&["pack", "verify", s(&a), "--key", s(&public)]);
    assert!(
        ok.contains("OK") && ok.contains("signed by trusted key"),
        "{ok}"
    );
    // ...and refused with no trusted key at all...
    u.refused(
        &["pack", "verify", s(&a)],
        &[
            "pack acme@1.0.0",
            "a.tar.gz",
            "signature",
            "not among the trusted keys",
        ],
    );
    // ...not by a key file sitting in the project directory...
    let project_keys = u.project.join(".stance/keys");
    std::fs::create_dir_all(&project_keys).unwrap();
    std::fs::copy(&public, project_keys.join("team.pub")).unwrap();
    u.refused(
        &["pack", "verify", s(&a)],
        &["not among the trusted keys", "stance key trust --project"],
    );
    // ...but once the user trusts it for the project (stance.lock names it)...
    u.ok(&["key", "trust", "--project", ".", ".stance/keys/team.pub"]);
    let ok = u.ok(&["pack", "verify", s(&a)]);
    assert!(ok.contains("project key"), "{ok}");
    // ...for as long as the lock names it; and per user.
    std::fs::remove_file(u.project.join("stance.lock")).unwrap();
    u.refused(&["pack", "verify", s(&a)], &["not among the trusted keys"]);
    trust_for_user(&u, &public);
    u.ok(&["pack", "verify", s(&a)]);

    // Signing into another file leaves the input as it was.
    let c = u.path("c.tar.gz");
    u.ok(&["pack", "sign", s(&b), "--key", s(&key), "-o", s(&c)]);
    u.refused(&["pack", "verify", s(&b)], &["not signed"]);
    u.ok(&["pack", "verify", s(&c)]);

    // --allow-unsigned accepts an unsigned pack, loudly.
    let out = u.run(&["pack", "verify", s(&b), "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("WARNING") && err.contains("NOT SIGNED"),
        "{err}"
    );
}

#[test]
fn every_refusal_exits_2_with_the_pack_the_file_and_the_reason() {
    let u = User::new();
    let (key, public) = generate_key(&u, "team.key");
    let (other, _) = generate_key(&u, "other.key");
    trust_for_user(&u, &public);

    let dir = u.path("acme");
    write_pack(
        &dir,
        "acme",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        "",
    );
    let good = build_signed(&u, &dir, &key, "good.tar.gz");
    u.ok(&["pack", "verify", s(&good)]);
    let bytes = std::fs::read(&good).unwrap();

    // Unsigned.
    let unsigned = u.path("unsigned.tar.gz");
    u.ok(&["pack", "build", s(&dir), "-o", s(&unsigned)]);
    // One flipped byte, anywhere: the gzip header, the compressed stream, the trailer.
    let mut flipped = Vec::new();
    for (i, at) in [
        3,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 10,
        bytes.len() - 1,
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let path = u.path(&format!("flipped-{i}.tar.gz"));
        std::fs::write(&path, &b).unwrap();
        flipped.push(path);
    }
    // Signed by a key nobody trusts.
    let untrusted = build_signed(&u, &dir, &other, "untrusted.tar.gz");
    // Built for another WIT, and for a future Stance.
    let wit_dir = u.path("acme-wit");
    write_pack(
        &wit_dir,
        "acme",
        "1.0.0",
        "stance:plugin@0.2.0",
        &["acme-one"],
        "",
    );
    let wit = build_signed(&u, &wit_dir, &key, "wit.tar.gz");
    let future_dir = u.path("acme-future");
    write_pack(
        &future_dir,
        "acme",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        "",
    );
    let manifest = future_dir.join("stance-pack.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "min-stance-version = \"0.1.0\"",
        "min-stance-version = \"99.0.0\"",
    );
    std::fs::write(&manifest, text).unwrap();
    let future = build_signed(&u, &future_dir, &key, "future.tar.gz");

    let mut cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            unsigned.clone(),
            vec![
                "pack acme@1.0.0",
                "unsigned.tar.gz",
                "refused",
                "not signed",
            ],
        ),
        (
            untrusted.clone(),
            vec![
                "pack acme@1.0.0",
                "untrusted.tar.gz",
                "refused",
                "signature",
                "not among the trusted keys",
            ],
        ),
        (
            wit.clone(),
            vec![
                "pack acme@1.0.0",
                "wit.tar.gz",
                "refused",
                "stance-pack.toml",
                "requires WIT stance:plugin@0.2.0, but this Stance provides stance:plugin@0.1.0",
            ],
        ),
        (
            future.clone(),
            vec![
                "pack acme@1.0.0",
                "future.tar.gz",
                "refused",
                "stance-pack.toml",
                "requires Stance 99.0.0 or newer",
            ],
        ),
    ];
    for f in &flipped {
        cases.push((f.clone(), vec![f.file_name().unwrap().to_str().unwrap()]));
    }
    for (path, needles) in &cases {
        let v = u.refused(&["pack", "verify", s(path)], needles);
        let i = u.refused(&["pack", "install", s(path)], needles);
        if path.to_str().unwrap().contains("flipped") {
            // The archive check names what it found wrong.
            assert!(
                v.contains("not a Stance pack archive") || v.contains("tampered"),
                "{v}"
            );
            assert_eq!(v, i);
        }
    }
    assert!(u.installed().is_empty(), "a refused pack was installed");

    // --allow-unsigned installs an unsigned pack, loudly; every load
    // verifies again, so a scan needs the flag too (and warns again).
    let out = u.run(&["pack", "install", s(&unsigned), "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("is NOT SIGNED"), "{}", stderr(&out));
    assert!(u.ok(&["pack", "list"]).contains("UNSIGNED"));
    let snapshot = demo();
    let scan = ["scan", "--snapshot", s(&snapshot), "--pack", "acme", "-q"];
    u.refused(&scan, &["pack acme@1.0.0", "pack.tar.gz", "not signed"]);
    let mut with_flag = scan.to_vec();
    with_flag.push("--allow-unsigned");
    let out = u.run(&with_flag);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("is NOT SIGNED"), "{}", stderr(&out));
    u.ok(&["pack", "remove", "acme@1.0.0"]);
    std::fs::remove_file(u.project.join("stance.lock")).unwrap();

    // A pack changed in the store after it was installed is refused at load.
    u.ok(&["pack", "install", s(&good)]);
    let stored = u.home.join("packs/acme/1.0.0/pack.tar.gz");
    let mut b = std::fs::read(&stored).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0x01;
    std::fs::write(&stored, b).unwrap();
    u.refused(
        &["scan", "--snapshot", s(&demo()), "--pack", "acme", "-q"],
        &["pack.tar.gz", "acme"],
    );
}

#[test]
fn versions_side_by_side_scan_pack_lock_and_update() {
    let u = User::new();
    let (key, public) = generate_key(&u, "team.key");
    trust_for_user(&u, &public);

    // 1.0.0: acme-one. 1.1.0: acme-one, acme-two and the example plugin
    // with its settings. 2.0.0: acme-three.
    let v1 = u.path("acme-1.0.0");
    write_pack(
        &v1,
        "acme",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        "",
    );
    let component = guest("stance-example-rust");
    let wasm = std::fs::read(&component).unwrap();
    let v11 = u.path("acme-1.1.0");
    write_pack(
        &v11,
        "acme",
        "1.1.0",
        "stance:plugin@0.1.0",
        &["acme-one", "acme-two"],
        &format!(
            "\n[[plugin]]\nname = \"example\"\npath = \"plugins/example.wasm\"\nworld = \"policy\"\ndigest = \"sha256:{}\"\n[plugin.settings]\nrequired_tags = [\"owner\", \"environment\"]\nallowed_regions = [\"us-east-1\"]\n",
            hex::encode(Sha256::digest(&wasm))
        ),
    );
    std::fs::create_dir_all(v11.join("plugins")).unwrap();
    std::fs::write(v11.join("plugins/example.wasm"), &wasm).unwrap();
    let v2 = u.path("acme-2.0.0");
    write_pack(
        &v2,
        "acme",
        "2.0.0",
        "stance:plugin@0.1.0",
        &["acme-three"],
        "",
    );
    let a1 = build_signed(&u, &v1, &key, "acme-1.0.0.tar.gz");
    let a11 = build_signed(&u, &v11, &key, "acme-1.1.0.tar.gz");
    let a2 = build_signed(&u, &v2, &key, "acme-2.0.0.tar.gz");

    u.ok(&["pack", "install", s(&a1)]);
    u.ok(&["pack", "install", s(&a2)]);
    let again = u.ok(&["pack", "install", s(&a1)]);
    assert!(again.contains("already installed"), "{again}");
    assert_eq!(
        u.installed(),
        [
            ("acme".into(), "1.0.0".into()),
            ("acme".into(), "2.0.0".into())
        ]
    );
    let table = u.ok(&["pack", "list"]);
    assert!(
        table.contains("acme  1.0.0") && table.contains("acme  2.0.0"),
        "{table}"
    );

    // Without a pack, no pack rule; with `acme@^1`, the rule of 1.0.0.
    let lock = u.project.join("stance.lock");
    let plain = u.scan_rules(&[]);
    assert!(!plain.iter().any(|r| r.starts_with("acme-")));
    let rules = u.scan_rules(&["--pack", "acme@^1"]);
    let buckets = rules.iter().filter(|r| *r == "acme-one").count();
    assert!(buckets > 0, "no finding of the pack's rule: {rules:?}");
    assert!(!rules.iter().any(|r| r == "acme-three"));
    assert_eq!(
        rules.len(),
        plain.len() + buckets,
        "the built-in findings stay"
    );
    let text = std::fs::read_to_string(&lock).expect("scan --pack writes stance.lock");
    assert!(text.contains("requires = [\"acme@^1\"]"), "{text}");
    assert!(text.contains("version = \"1.0.0\""), "{text}");

    // 1.1.0 appears; the lock still pins 1.0.0, and the scan respects it.
    u.ok(&["pack", "install", s(&a11)]);
    let rules = u.scan_rules(&["--pack", "acme@^1"]);
    assert!(rules.iter().any(|r| r == "acme-one"));
    assert!(
        !rules.iter().any(|r| r == "acme-two"),
        "the lock was not respected"
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), text);

    // `pack update` moves to the newest 1.x (never 2.0.0: out of range).
    let out = u.ok(&["pack", "update"]);
    assert!(out.contains("upgrade acme 1.0.0 -> 1.1.0"), "{out}");
    let updated = std::fs::read_to_string(&lock).unwrap();
    assert!(updated.contains("version = \"1.1.0\""), "{updated}");
    let again = u.ok(&["pack", "update", "acme"]);
    assert!(again.contains("up to date"), "{again}");
    let rules = u.scan_rules(&["--pack", "acme@^1"]);
    for r in [
        "acme-one",
        "acme-two",
        "example-required-tags",
        "example-allowed-regions",
    ] {
        assert!(rules.iter().any(|x| x == r), "{r} missing: {rules:?}");
    }
    assert!(!rules.iter().any(|r| r == "acme-three"));

    // A new requirement is resolved and written to the lock.
    let out = u.ok(&["pack", "update", "acme@^2"]);
    assert!(out.contains("upgrade acme 1.1.0 -> 2.0.0"), "{out}");
    let rules = u.scan_rules(&["--pack", "acme"]);
    assert!(rules.iter().any(|r| r == "acme-three"));
    assert!(!rules.iter().any(|r| r == "acme-one"));
    u.ok(&["pack", "update", "acme@^1"]);

    // Removing the pinned version: the lock is respected, not silently re-resolved.
    u.ok(&["pack", "remove", "acme@1.1.0"]);
    assert_eq!(
        u.installed(),
        [
            ("acme".into(), "1.0.0".into()),
            ("acme".into(), "2.0.0".into())
        ]
    );
    u.refused(
        &["scan", "--snapshot", s(&demo()), "--pack", "acme@^1", "-q"],
        &["stance.lock", "pins acme 1.1.0, which is not installed"],
    );
    u.ok(&["pack", "update"]);
    assert!(
        std::fs::read_to_string(&lock)
            .unwrap()
            .contains("version = \"1.0.0\"")
    );
    u.ok(&["pack", "remove", "acme"]);
    assert!(u.installed().is_empty());
    u.refused(&["pack", "remove", "acme"], &["not installed"]);
}

#[test]
fn detect_runs_the_sigma_rules_of_an_installed_pack() {
    let u = User::new();
    let (key, public) = generate_key(&u, "team.key");
    trust_for_user(&u, &public);
    let dir = u.path("trail-pack");
    write_pack(
        &dir,
        "trail",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["trail-policy"],
        "rules = [\"rules/*.yml\"]\n",
    );
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(
        dir.join("rules/stop-logging.yml"),
        "title: Trail logging stopped (pack)\nid: 5f1e2c3a-1111-4222-8333-944455566677\nstatus: test\n\
         logsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let archive = build_signed(&u, &dir, &key, "trail-1.0.0.tar.gz");
    u.ok(&["pack", "install", s(&archive)]);
    let log = u.path("trail.json");
    std::fs::write(
        &log,
        r#"{"Records": [
  {"eventID": "ev-1", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"},
  {"eventID": "ev-2", "eventTime": "2026-11-20T10:01:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StartLogging", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"}
]}"#,
    )
    .unwrap();
    let out = u.ok(&[
        "detect",
        "-i",
        s(&log),
        "--pack",
        "trail",
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["run"]["totals"]["alerts"], 1, "{v:#}");
    assert_eq!(
        v["alerts"][0]["rule_id"],
        "5f1e2c3a-1111-4222-8333-944455566677"
    );
    assert_eq!(v["alerts"][0]["event_ids"][0], "ev-1");
    // The pack is pinned for the project like a scan's.
    assert!(u.project.join("stance.lock").is_file());
    // Without the pack nothing runs: an error, never a quiet pass.
    let out = u.run(&["detect", "-i", s(&log), "--no-builtin-rules"]);
    assert_eq!(out.status.code(), Some(2));
}

mod oci;

#[test]
fn watch_swaps_in_a_pack_update_and_keeps_it_when_the_store_is_tampered() {
    let u = User::new();
    let (key, public) = generate_key(&u, "team.key");
    trust_for_user(&u, &public);
    for (version, rules) in [
        ("1.0.0", &["acme-one"][..]),
        ("1.1.0", &["acme-one", "acme-two"][..]),
    ] {
        let dir = u.path(&format!("acme-{version}"));
        write_pack(&dir, "acme", version, "stance:plugin@0.1.0", rules, "");
        let archive = build_signed(&u, &dir, &key, &format!("acme-{version}.tar.gz"));
        if version == "1.0.0" {
            u.ok(&["pack", "install", s(&archive)]);
        } else {
            std::fs::rename(&archive, u.path("next.tar.gz")).unwrap();
        }
    }
    let status = u.path("watch-status.json");
    let packs = |v: &Value| -> Vec<String> {
        v["generation"]["packs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p[0].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut w = crate::watch::Watch::spawn(
        u.cmd(),
        &status,
        &[
            "--snapshot",
            s(&demo()),
            "--no-builtin-policies",
            "--pack",
            "acme@^1",
            "--interval",
            "0.2",
            "--debounce-ms",
            "100",
        ],
    );
    w.until("a scan with acme 1.0.0", |v| {
        packs(v) == ["acme@1.0.0"] && v["scans"]["last_scan_id"].is_i64()
    });

    // Installed beside it, then the lock moved to it: the next generation.
    u.ok(&["pack", "install", s(&u.path("next.tar.gz"))]);
    u.ok(&["pack", "update", "acme"]);
    let v = w.until("acme 1.1.0 is live", |v| packs(v) == ["acme@1.1.0"]);
    assert_eq!(v["generation"]["plugins"][0]["rules"], 2);

    // One byte of the installed archive changed: the reload is refused and
    // 1.1.0, verified when it was loaded, keeps running.
    let archive = u.home.join("packs/acme/1.1.0/pack.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&archive, bytes).unwrap();
    let v = w.until("the tampered pack was refused", |v| {
        v["reloads"]["failures"].as_u64() >= Some(1)
    });
    let message = v["reloads"]["last_error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("acme") && message.contains("1.1.0"),
        "{message}"
    );
    let after = v["scans"]["count"].as_u64().unwrap();
    let v = w.until("a scan after the refusal", |v| {
        v["scans"]["count"].as_u64() > Some(after + 1)
    });
    assert_eq!(packs(&v), ["acme@1.1.0"]);
    assert_eq!(v["scans"]["failed"], 0);
    w.stop();
}
