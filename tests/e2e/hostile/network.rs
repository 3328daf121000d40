//! Hostile inputs: network (see the module doc of `hostile`). Downloads
//! (`pack install http://…`, `oci://…`) and webhook deliveries against
//! loopback servers that misbehave on purpose: an endless chunked body, a
//! body that stalls, a body that drips one byte at a time, an OCI layer
//! longer than its manifest says, a response that never ends its status
//! line. Each must end with a clear error, memory bounded by the child's
//! limit, time bounded by the cut-offs Stance announces.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

#[allow(unused_imports)]
use super::*;

/// How one connection is answered, after the request was read.
type Answer = fn(&str, &mut TcpStream) -> std::io::Result<()>;

/// A loopback HTTP/1.1 server answering every connection with `answer`
/// (given the request path), each on its own thread; runs until the test
/// process ends. Returns `127.0.0.1:PORT`.
fn serve(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            std::thread::spawn(move || {
                if let Some(path) = read_request(&conn) {
                    let _ = answer(&path, &mut conn);
                }
            });
        }
    });
    addr
}

/// Reads a request's line, headers and body; returns its path.
fn read_request(conn: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(path)
}

/// Chunks of zeros, forever.
fn endless_chunks(conn: &mut TcpStream) -> std::io::Result<()> {
    let chunk = vec![0u8; 64 * 1024];
    loop {
        write!(conn, "{:x}\r\n", chunk.len())?;
        conn.write_all(&chunk)?;
        conn.write_all(b"\r\n")?;
    }
}

/// A user whose home, packs and project are in the test's directory: the
/// commands run in `project`, never in the repository or the real home.
fn user(env: &Env) -> (PathBuf, PathBuf) {
    let home = env.path("home");
    let project = env.path("project");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&project).expect("project");
    (home, project)
}

/// `stance ARGS` as that user, memory-bounded, killed past the deadline.
fn run_as_user(env: &Env, args: &[&str]) -> std::process::Output {
    let (home, project) = user(env);
    let mut cmd = env.cmd();
    cmd.env("STANCE_HOME", &home)
        .env("DOCKER_CONFIG", env.path("docker"))
        .current_dir(&project)
        .args(args);
    finish(bounded(cmd, MEMORY_LIMIT_MIB), HANG_DEADLINE)
}

fn nothing_installed(env: &Env) {
    let packs = env.path("home").join("packs");
    let empty = std::fs::read_dir(&packs).map_or(true, |mut d| d.next().is_none());
    assert!(empty, "a refused download was installed into {packs:?}");
}

#[test]
fn an_endless_chunked_download_stops_at_the_size_cap_with_memory_flat() {
    let addr = serve(|_, conn| {
        conn.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        endless_chunks(conn)
    });
    let env = Env::new();
    let url = format!("http://{addr}/pack.tar.gz");
    let out = run_as_user(&env, &["pack", "install", &url]);
    assert_refused(&out, &[&url, "stopped after", "256 MiB", "download limit"]);
    nothing_installed(&env);
}

#[test]
fn a_download_that_declares_more_than_the_cap_is_refused_before_reading() {
    let addr = serve(|_, conn| {
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n")?;
        endless_chunks(conn)
    });
    let env = Env::new();
    let url = format!("http://{addr}/pack.tar.gz");
    let out = run_as_user(&env, &["pack", "install", &url]);
    assert_refused(&out, &[&url, "5000000000 bytes", "256 MiB"]);
}

#[test]
fn a_stalled_download_stops_after_the_idle_timeout() {
    let addr = serve(|_, conn| {
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nsome bytes")?;
        std::thread::sleep(Duration::from_secs(600));
        Ok(())
    });
    let env = Env::new();
    let url = format!("http://{addr}/pack.tar.gz");
    let out = run_as_user(&env, &["pack", "install", &url]);
    assert_refused(
        &out,
        &[&url, "stopped after 30 s", "nothing arrived for 30 s"],
    );
}

#[test]
fn a_download_dripping_one_byte_at_a_time_is_cut_off() {
    let addr = serve(|_, conn| {
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")?;
        loop {
            conn.write_all(b"x")?;
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    let env = Env::new();
    let url = format!("http://{addr}/pack.tar.gz");
    let out = run_as_user(&env, &["pack", "install", &url]);
    assert_refused(
        &out,
        &[&url, "stopped after", "under the minimum of 1 KiB/s"],
    );
}

/// The digest of `bytes` as OCI writes it.
fn oci_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A registry serving `team/pack:big`, whose one pack layer the manifest
/// declares as 1000 bytes and the blob endpoint streams forever, and
/// `team/pack:huge`, whose manifest itself never ends.
fn lying_registry() -> String {
    serve(|path, conn| {
        let config = br#"{"name":"acme","version":"1.0.0","digest":"sha256:0","wit":"stance:plugin@0.1.0","min-stance-version":"0.1.0"}"#;
        let layer = format!("sha256:{}", "a".repeat(64));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.stance.pack.config.v1+json",
                "digest": oci_digest(config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.stance.pack.layer.v1.tar+gzip",
                "digest": layer,
                "size": 1000,
            }],
        })
        .to_string();
        let json = "application/vnd.oci.image.manifest.v1+json";
        if path == "/v2/" {
            conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
        } else if path.ends_with("/manifests/big") {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {json}\r\nContent-Length: {}\r\n\r\n{manifest}",
                manifest.len()
            )
        } else if path.ends_with("/manifests/huge") {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {json}\r\nTransfer-Encoding: chunked\r\n\r\n"
            )?;
            endless_chunks(conn)
        } else if path.ends_with(&oci_digest(config)) {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                config.len()
            )?;
            conn.write_all(config)
        } else {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
            )?;
            endless_chunks(conn)
        }
    })
}

#[test]
fn an_oci_layer_longer_than_its_manifest_declares_is_cut_at_the_declared_size() {
    let addr = lying_registry();
    let env = Env::new();
    let big = format!("oci://{addr}/team/pack:big");
    let out = run_as_user(&env, &["pack", "install", &big]);
    assert_refused(
        &out,
        &[
            &big,
            "pack layer",
            "more than the 1000 bytes the manifest declares",
        ],
    );
    nothing_installed(&env);
    let huge = format!("oci://{addr}/team/pack:huge");
    let out = run_as_user(&env, &["pack", "pull", &huge, "-o", "pulled.tar.gz"]);
    assert_refused(&out, &[&huge, "manifest", "4 MiB"]);
}

/// A CloudTrail file with one record that the rule below alerts on, and
/// that rule; returns their paths.
fn one_alert(env: &Env) -> (String, String) {
    let log = env.path("trail.json");
    std::fs::write(
        &log,
        r#"{"Records": [{"eventID": "ev-1", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"}]}"#,
    )
    .expect("write trail");
    let rule = env.path("stop-logging.yml");
    std::fs::write(
        &rule,
        "title: Trail logging stopped\nid: 5f1e2c3a-1111-4222-8333-944455566677\nstatus: test\n\
         logsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}\n  condition: sel\nlevel: high\n",
    )
    .expect("write rule");
    (log.display().to_string(), rule.display().to_string())
}

/// `stance detect` of one alert routed to a webhook and a Slack route,
/// both at `addr`.
fn detect_routed_to(env: &Env, addr: &str) -> Command {
    let (log, rule) = one_alert(env);
    let routes = env.path("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[[route]]\nwebhook = \"http://{addr}/hook\"\n\n[[route]]\nslack = \"http://{addr}/services/T0/B0/SECRET\"\n"
        ),
    )
    .expect("write routes");
    let mut cmd = env.cmd();
    cmd.args(["detect", "-i", &log, "--rules", &rule, "--no-builtin-rules"])
        .arg("--route")
        .arg(&routes);
    cmd
}

/// Connections the concurrency server holds open now, and the most it held.
static HELD: AtomicUsize = AtomicUsize::new(0);
static MOST_HELD: AtomicUsize = AtomicUsize::new(0);

#[test]
fn deliveries_to_several_routes_run_at_once() {
    // Routes were delivered one after another: N unreachable endpoints
    // cost N delivery deadlines. The server holds each request until three
    // are open at once (or 20 s pass), so only concurrent deliveries meet.
    let addr = serve(|_, conn| {
        let now = HELD.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_HELD.fetch_max(now, Ordering::SeqCst);
        let start = std::time::Instant::now();
        while HELD.load(Ordering::SeqCst) < 3 && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let answered = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        HELD.fetch_sub(1, Ordering::SeqCst);
        answered
    });
    let env = Env::new();
    let (log, rule) = one_alert(&env);
    let routes = env.path("routes.toml");
    let route = |p: &str| format!("[[route]]\nwebhook = \"http://{addr}/{p}\"\n\n");
    std::fs::write(&routes, route("a") + &route("b") + &route("c")).expect("write routes");
    let mut cmd = env.cmd();
    cmd.args(["detect", "-i", &log, "--rules", &rule, "--no-builtin-rules"])
        .arg("--route")
        .arg(&routes);
    let out = finish(bounded(cmd, MEMORY_LIMIT_MIB), HANG_DEADLINE);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        MOST_HELD.load(Ordering::SeqCst),
        3,
        "the three webhooks were not delivered at once"
    );
}

#[test]
fn a_webhook_dripping_its_response_is_cut_off_at_the_delivery_deadline() {
    // One byte every 5 s: never idle long enough for a read timeout.
    let addr = serve(|_, conn| {
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
            conn.write_all(&[*b])?;
            std::thread::sleep(Duration::from_secs(5));
        }
        Ok(())
    });
    let env = Env::new();
    let out = finish(
        bounded(detect_routed_to(&env, &addr), MEMORY_LIMIT_MIB),
        HANG_DEADLINE,
    );
    assert_refused(
        &out,
        &[
            &format!("http://{addr}/hook"),
            "stopped after 30 s: the endpoint kept the response open",
            "slack http://",
        ],
    );
    assert!(
        !stderr_of(&out).contains("SECRET"),
        "a Slack URL is a secret"
    );
}

#[test]
fn a_webhook_answering_endlessly_without_a_line_end_is_refused() {
    let addr = serve(|_, conn| {
        let junk = vec![b'x'; 64 * 1024];
        loop {
            conn.write_all(&junk)?;
        }
    });
    let env = Env::new();
    let out = finish(
        bounded(detect_routed_to(&env, &addr), MEMORY_LIMIT_MIB),
        HANG_DEADLINE,
    );
    assert_refused(&out, &[&format!("http://{addr}/hook"), "after 3 attempts"]);
}

#[test]
fn a_failing_webhook_s_endless_error_body_is_read_only_in_part() {
    let addr = serve(|_, conn| {
        conn.write_all(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        endless_chunks(conn)
    });
    let env = Env::new();
    let out = finish(
        bounded(detect_routed_to(&env, &addr), MEMORY_LIMIT_MIB),
        HANG_DEADLINE,
    );
    assert_refused(&out, &[&format!("http://{addr}/hook"), "HTTP 400"]);
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
