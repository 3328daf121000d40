//! Sharing packs through a real OCI registry (Debian's `docker-registry`, the
//! CNCF distribution registry) started on 127.0.0.1 by the tests: push, pull
//! and install by tag and digest, and credentials from the docker config.

use super::*;

/// A CNCF distribution registry (`docker-registry`) on a free port of
/// 127.0.0.1, storing into a temporary directory; stopped on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

impl Registry {
    fn start(htpasswd: Option<&str>) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).is_file(),
            "{REGISTRY_BIN} is missing: apt-get install docker-registry (tests/run.sh installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let auth = match htpasswd {
            Some(line) => {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, format!("{line}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: stance-test\n    path: {}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(&registry.addr, "/v2/", "*/*").is_none() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn reference(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 GET: the status code and body, or None when nothing listens.
fn http_get(addr: &str, path: &str, accept: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response[split + 4..].to_vec()))
}

/// The `oci://…@sha256:…` reference printed by `pack push`.
fn pinned(push_output: &str) -> String {
    push_output
        .lines()
        .find_map(|l| l.strip_prefix("pinned: "))
        .unwrap_or_else(|| panic!("no pinned reference in {push_output}"))
        .trim()
        .to_string()
}

#[test]
fn oci_push_pull_by_tag_and_digest_and_install_from_a_real_registry() {
    let registry = Registry::start(None);
    let publisher = User::new();
    let (key, public) = generate_key(&publisher, "team.key");
    let dir = publisher.path("acme");
    let wasm = std::fs::read(guest("stance-example-rust")).unwrap();
    let wasm_digest = format!("sha256:{}", hex::encode(Sha256::digest(&wasm)));
    write_pack(
        &dir,
        "acme",
        "1.2.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        &format!(
            "\n[[plugin]]\nname = \"example\"\npath = \"plugins/example.wasm\"\nworld = \"policy\"\ndigest = \"{wasm_digest}\"\n"
        ),
    );
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::write(dir.join("plugins/example.wasm"), &wasm).unwrap();
    let archive = build_signed(&publisher, &dir, &key, "acme.tar.gz");
    let bytes = std::fs::read(&archive).unwrap();
    let tagged = format!("{}:1.2.0", registry.reference("team/acme"));

    let out = publisher.ok(&["pack", "push", s(&archive), &tagged]);
    assert!(out.contains(&format!("to {tagged}")), "{out}");
    let by_digest = pinned(&out);
    assert!(by_digest.starts_with(&registry.reference("team/acme@sha256:")));
    // Pushing the same archive again gives the same manifest.
    let again = publisher.ok(&["pack", "push", s(&archive), &tagged]);
    assert_eq!(pinned(&again), by_digest);

    // The artifact layout (docs/packs.md): our config media type, the first
    // layer holding the archive byte for byte, then each component as an
    // `application/wasm` layer.
    let (status, body) = http_get(
        &registry.addr,
        "/v2/team/acme/manifests/1.2.0",
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let manifest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        format!("sha256:{}", hex::encode(Sha256::digest(&body))),
        by_digest.rsplit('@').next().unwrap()
    );
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.stance.pack.config.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest:#}");
    assert_eq!(layers[1]["mediaType"], "application/wasm");
    assert_eq!(layers[1]["digest"], wasm_digest.as_str());
    assert_eq!(
        layers[1]["annotations"]["org.opencontainers.image.title"],
        "plugins/example.wasm"
    );
    let (status, blob) = http_get(
        &registry.addr,
        &format!("/v2/team/acme/blobs/{wasm_digest}"),
        "*/*",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        blob, wasm,
        "the component layer is the component byte for byte"
    );
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.stance.pack.layer.v1.tar+gzip"
    );
    let archive_digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    assert_eq!(layers[0]["digest"], archive_digest);
    let (_, config) = http_get(
        &registry.addr,
        &format!(
            "/v2/team/acme/blobs/{}",
            manifest["config"]["digest"].as_str().unwrap()
        ),
        "*/*",
    )
    .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["name"], "acme");
    assert_eq!(config["version"], "1.2.0");
    assert_eq!(config["digest"], archive_digest.as_str());

    // Another user pulls by tag and by digest: the same bytes.
    let consumer = User::new();
    let by_tag_file = consumer.path("by-tag.tar.gz");
    consumer.ok(&["pack", "pull", &tagged, "-o", s(&by_tag_file)]);
    assert_eq!(std::fs::read(&by_tag_file).unwrap(), bytes);
    let by_digest_file = consumer.path("by-digest.tar.gz");
    consumer.ok(&["pack", "pull", &by_digest, "-o", s(&by_digest_file)]);
    assert_eq!(std::fs::read(&by_digest_file).unwrap(), bytes);
    consumer.ok(&["pack", "verify", s(&by_digest_file), "--key", s(&public)]);

    // Install needs trust, like any source.
    consumer.refused(
        &["pack", "install", &tagged],
        &["pack acme@1.2.0", "refused", "not among the trusted keys"],
    );
    assert!(consumer.installed().is_empty());
    trust_for_user(&consumer, &public);
    let out = consumer.ok(&["pack", "install", &by_digest]);
    assert!(out.contains("installed acme@1.2.0"), "{out}");
    assert_eq!(consumer.installed(), [("acme".into(), "1.2.0".into())]);
    let out = consumer.ok(&["pack", "install", &tagged]);
    assert!(out.contains("already installed"), "{out}");
    let rules = consumer.scan_rules(&["--pack", "acme@^1"]);
    assert!(rules.iter().any(|r| r == "acme-one"));

    // From a URL (plain http is allowed for loopback only): the blob itself.
    let fresh = User::new();
    trust_for_user(&fresh, &public);
    let url = format!(
        "http://{}/v2/team/acme/blobs/{archive_digest}",
        registry.addr
    );
    fresh.ok(&["pack", "install", &url]);
    assert_eq!(fresh.installed(), [("acme".into(), "1.2.0".into())]);
    fresh.refused(
        &["pack", "install", "http://example.invalid/acme.tar.gz"],
        &["plain http is allowed only for loopback hosts"],
    );

    // What is not there, or not a pack, is an error (exit 2).
    fresh.refused(
        &[
            "pack",
            "pull",
            &format!("{}:9.9.9", registry.reference("team/acme")),
            "-o",
            s(&fresh.path("x")),
        ],
        &["manifest unknown"],
    );
    fresh.refused(
        &[
            "pack",
            "pull",
            "oci://team/acme:1.2.0",
            "-o",
            s(&fresh.path("x")),
        ],
        &["name the registry"],
    );
    // A tampered download is refused by the same gate.
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let bad = publisher.path("bad.tar.gz");
    std::fs::write(&bad, &flipped).unwrap();
    publisher.refused(&["pack", "push", s(&bad), &tagged], &["bad.tar.gz"]);
}

#[test]
fn oci_credentials_come_from_the_docker_config() {
    // htpasswd line for user `stance`, password `s3cret` (bcrypt, cost 4).
    let registry = Registry::start(Some(
        "stance:$2b$04$bQTd5gztNKq7zzpdkNhVaeR/Mc67R9QKmBb3KLs57yadYF8yXPzkW",
    ));
    let u = User::new();
    let (key, _) = generate_key(&u, "team.key");
    let dir = u.path("acme");
    write_pack(
        &dir,
        "acme",
        "1.0.0",
        "stance:plugin@0.1.0",
        &["acme-one"],
        "",
    );
    let archive = build_signed(&u, &dir, &key, "acme.tar.gz");
    let tagged = format!("{}:1.0.0", registry.reference("private/acme"));

    // Anonymous: refused by the registry.
    let err = u.refused(&["pack", "push", s(&archive), &tagged], &[&tagged]);
    assert!(err.contains("the registry wants credentials"), "{err}");

    // With an `auths` entry (base64 of USER:PASSWORD), as `docker login` writes.
    std::fs::write(
        u.docker.join("config.json"),
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{}\"}}}}}}",
            registry.addr,
            "c3RhbmNlOnMzY3JldA==" // stance:s3cret
        ),
    )
    .unwrap();
    u.ok(&["pack", "push", s(&archive), &tagged]);
    let pulled = u.path("pulled.tar.gz");
    u.ok(&["pack", "pull", &tagged, "-o", s(&pulled)]);
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&archive).unwrap()
    );
}
