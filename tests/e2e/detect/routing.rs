//! Routing new alerts: a webhook and a file by severity, retries that end in
//! an error, HMAC-signed webhooks, Slack and PagerDuty payloads, and
//! suppressions that silence alerts until they expire.

use super::*;

/// A webhook on loopback: answers each POST with `status` and hands over
/// its request line and body.
fn listener(status: u16) -> (String, mpsc::Receiver<(String, String)>) {
    let (url, requests) = serve("/hooks/stance", status);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for r in requests {
            if tx.send((r.request, r.body)).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

#[test]
fn new_alerts_are_routed_by_severity_to_a_webhook_and_a_file() {
    let env = Env::new();
    let (url, rx) = listener(200);
    let file = env.path("routed/alerts.ndjson");
    let config = env.path("routes.toml");
    std::fs::write(
        &config,
        format!(
            "[[route]]\nmin_severity = \"high\"\nwebhook = {url:?}\n\n[[route]]\nfile = {:?}\n",
            file.display().to_string()
        ),
    )
    .unwrap();
    let failed_login =
        sigmahq("aws/cloudtrail/aws_cloudtrail_console_login_failed_authentication.yml");
    let args = [
        "detect",
        "-i",
        &fixture("cloudtrail/bruteforce"),
        "--rules",
        &fixture("sigma/console-bruteforce.yml"),
        "--rules",
        failed_login.to_str().unwrap(),
        "--no-builtin-rules",
        "--route",
        config.to_str().unwrap(),
        "--format",
        "json",
    ];
    // --dry-run sends nothing and says what it would send.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, v) = env.json(&dry);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["routes"][0]["alerts"], 1);
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(!file.exists());

    let env = Env::new();
    let (code, v) = env.json(&args);
    assert_eq!(code, 0, "{v:#}");
    // Four medium failed logins (SigmaHQ) and one high brute force.
    assert_eq!(v["run"]["totals"]["alerts"], 5, "{v:#}");
    let (request, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        request.starts_with("POST /hooks/stance HTTP/1.1"),
        "{request}"
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["source"], "stance");
    let sent = payload["alerts"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "only high and above: {payload:#}");
    assert_eq!(sent[0]["rule_id"], "stance-test-console-bruteforce");
    assert_eq!(sent[0]["group_key"], "sourceIPAddress=203.0.113.9");
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 5);
    for l in lines.lines() {
        let a: Value = serde_json::from_str(l).unwrap();
        assert!(a["run_id"].as_i64().is_some() && a["fingerprint"].is_string());
    }

    // A second run over the same logs raises nothing new and routes nothing.
    let (_, v) = env.json(&args);
    assert_eq!(v["run"]["totals"]["alerts"], 0, "{v:#}");
    assert!(v["run"]["totals"]["duplicates"].as_u64().unwrap() >= 4);
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 5);
}

#[test]
fn a_webhook_that_keeps_failing_is_an_error() {
    let env = Env::new();
    let (url, rx) = listener(503);
    let out = env.run(&[
        "detect",
        "-i",
        &fixture("cloudtrail/exports"),
        "--rules",
        &disable_logging_rule(),
        "--no-builtin-rules",
        "--route-webhook",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 503 after 3 attempts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rx.try_iter().count(), 3, "retried");
}

/// A request as a loopback receiver read it: request line, headers (names
/// lowercased), body.
struct Received {
    request: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A receiver on loopback that answers 202 and hands over each request whole.
fn receiver(path: &str) -> (String, mpsc::Receiver<Received>) {
    serve(path, 202)
}

/// A loopback server at `path` that answers every request with `status`.
fn serve(path: &str, status: u16) -> (String, mpsc::Receiver<Received>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = conn.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let r = Received {
                request: request.trim_end().to_string(),
                headers,
                body: String::from_utf8(body).unwrap(),
            };
            if tx.send(r).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

/// HMAC-SHA256 written out here (RFC 2104), independent of the host's.
fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize(),
    )
}

const FAILED_LOGIN_RULE: &str = "6393e346-1977-46ef-8987-ad414a145fad";
const BRUTEFORCE_RULE: &str = "stance-test-console-bruteforce";

fn bruteforce_args(extra: &[&str]) -> Vec<String> {
    let failed_login =
        sigmahq("aws/cloudtrail/aws_cloudtrail_console_login_failed_authentication.yml");
    let mut v: Vec<String> = [
        "detect",
        "-i",
        &fixture("cloudtrail/bruteforce"),
        "--rules",
        &fixture("sigma/console-bruteforce.yml"),
        "--rules",
        failed_login.to_str().unwrap(),
        "--no-builtin-rules",
        "--format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn webhooks_are_signed_and_slack_and_pagerduty_get_their_payloads() {
    let env = Env::new();
    let (hook, hook_rx) = receiver("/hooks/signed");
    let (slack, slack_rx) = receiver("/services/T0/B0/X");
    let (pd, pd_rx) = receiver("/v2/enqueue");
    let config = env.path("routes.toml");
    std::fs::write(
        &config,
        format!(
            "[[route]]\nwebhook = {hook:?}\nhmac_secret_env = \"TEST_HOOK_SECRET\"\n\n\
             [[route]]\nslack = {slack:?}\n\n\
             [[route]]\nmin_severity = \"high\"\npagerduty_routing_key_env = \"TEST_PD_KEY\"\npagerduty_url = {pd:?}\n"
        ),
    )
    .unwrap();
    let args = bruteforce_args(&["--route", config.to_str().unwrap()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // A secret the route names but the environment lacks: refused before the run.
    let out = env
        .cmd()
        .args(&args)
        .env("TEST_PD_KEY", "pd-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TEST_HOOK_SECRET"),
        "{}",
        stderr(&out)
    );

    let secret = "s3cr3t-for-tests";
    let out = env
        .cmd()
        .args(&args)
        .env("TEST_HOOK_SECRET", secret)
        .env("TEST_PD_KEY", "pd-routing-key-0123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["totals"]["alerts"], 5, "{v:#}");
    let routes = v["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 3, "{v:#}");
    assert!(routes.iter().all(|r| r["error"].is_null()), "{v:#}");
    // The Slack URL is a credential: shown without its path.
    assert!(
        routes[1]["destination"]
            .as_str()
            .unwrap()
            .starts_with("slack http://127.0.0.1:")
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("/services/T0/B0/X"));
    assert!(
        !stderr(&out).contains("/services/T0/B0/X"),
        "{}",
        stderr(&out)
    );

    // The webhook: signed over the exact body with the secret from the environment.
    let r = hook_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        r.request.starts_with("POST /hooks/signed "),
        "{}",
        r.request
    );
    let sig = r.header("x-stance-signature").expect("signature header");
    assert_eq!(
        sig,
        format!(
            "sha256={}",
            hmac_sha256_hex(secret.as_bytes(), r.body.as_bytes())
        )
    );
    assert_ne!(
        sig,
        format!(
            "sha256={}",
            hmac_sha256_hex(b"another secret", r.body.as_bytes())
        )
    );
    assert_eq!(r.json()["alerts"].as_array().unwrap().len(), 5);
    assert!(!std::fs::read_to_string(&config).unwrap().contains(secret));

    // Slack: one message, text and blocks naming severity, rule, count, first event.
    let r = slack_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(r.header("x-stance-signature").is_none());
    let m = r.json();
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains("5 new alert(s)") && text.contains("1 high") && text.contains("4 medium"),
        "{text}"
    );
    let blocks = serde_json::to_string(&m["blocks"]).unwrap();
    for needle in [
        BRUTEFORCE_RULE,
        FAILED_LOGIN_RULE,
        "*HIGH*",
        "*MEDIUM*",
        "4 alert(s)",
        "first event `ev-b1`",
    ] {
        assert!(blocks.contains(needle), "{needle} not in {blocks}");
    }
    assert!(
        slack_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "one message per run"
    );

    // PagerDuty: one trigger per alert at or above high, deduplicated by fingerprint.
    let r = pd_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(r.request.starts_with("POST /v2/enqueue "), "{}", r.request);
    let e = r.json();
    let high = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == BRUTEFORCE_RULE)
        .unwrap();
    assert_eq!(e["routing_key"], "pd-routing-key-0123");
    assert_eq!(e["event_action"], "trigger");
    assert_eq!(e["dedup_key"], high["fingerprint"]);
    assert_eq!(e["payload"]["severity"], "error", "high maps to error");
    assert_eq!(e["payload"]["source"], "111122223333/us-east-1");
    assert!(
        e["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("Console brute force")
    );
    assert!(
        e["payload"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-05T22:0")
    );
    assert_eq!(e["payload"]["custom_details"]["rule_id"], BRUTEFORCE_RULE);
    assert_eq!(
        e["payload"]["custom_details"]["group_key"],
        "sourceIPAddress=203.0.113.9"
    );
    assert!(
        pd_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "only high and above"
    );
}

#[test]
fn suppressions_silence_alerts_until_they_expire() {
    let env = Env::new();
    let alerts_file = env.path("routed.ndjson");
    let suppress = |args: &[&str]| {
        let mut all = vec!["alerts", "suppress"];
        all.extend_from_slice(args);
        env.run(&all)
    };
    // Expired: applies to nothing.
    let out = suppress(&[
        "--rule",
        BRUTEFORCE_RULE,
        "--until",
        "2020-01-01",
        "--reason",
        "old pen test",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired already"), "{}", stderr(&out));
    // In force for a week: the SigmaHQ failed logins from one address.
    let out = suppress(&[
        "--rule",
        FAILED_LOGIN_RULE,
        "--match",
        "sourceIPAddress=203.0.113.9",
        "--match",
        "account=111122223333",
        "--until",
        "7d",
        "--reason",
        "pen test from the red team's address",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A match on another value silences nothing.
    let out = suppress(&[
        "--rule",
        FAILED_LOGIN_RULE,
        "--match",
        "sourceIPAddress=198.51.100.1",
        "--until",
        "2099-12-31T00:00:00Z",
        "--reason",
        "another address",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (code, list) = env.json(&["alerts", "suppressions", "--format", "json"]);
    assert_eq!(code, 0);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3], "only the active ones: {list:#}");
    let (_, all) = env.json(&["alerts", "suppressions", "--all", "--format", "json"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["active"], false);
    assert_eq!(all[1]["active"], true);
    assert_eq!(all[1]["matches"]["sourceIPAddress"], "203.0.113.9");
    let until = chrono::DateTime::parse_from_rfc3339(all[1]["until"].as_str().unwrap()).unwrap();
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "7d from now: {until}");

    let args = bruteforce_args(&[
        "--route-file",
        alerts_file.to_str().unwrap(),
        "--fail-on",
        "medium",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v) = env.json(&args);
    // The high brute force (its suppression expired) still fails the run.
    assert_eq!(code, 1, "{v:#}");
    let totals = &v["run"]["totals"];
    // ev-b3 came from another address: its failed login is not suppressed.
    assert_eq!(totals["alerts"], 2, "{v:#}");
    assert_eq!(totals["suppressed"], 3, "{v:#}");
    assert_eq!(totals["by_severity"]["medium"], 1, "{v:#}");
    assert_eq!(totals["by_severity"]["high"], 1, "{v:#}");
    let stored = v["alerts"].as_array().unwrap();
    assert_eq!(stored.len(), 5);
    for a in stored {
        let expect = if a["rule_id"] == FAILED_LOGIN_RULE && a["event_ids"][0] != "ev-b3" {
            Value::from(2)
        } else {
            Value::Null
        };
        assert_eq!(a["suppressed_by"], expect, "{a:#}");
    }
    let routed = std::fs::read_to_string(&alerts_file).unwrap();
    assert_eq!(
        routed.lines().count(),
        2,
        "suppressed alerts are not routed"
    );
    assert!(routed.contains("ev-b3"));
    assert!(routed.contains(BRUTEFORCE_RULE));

    let (_, listed) = env.json(&["alerts", "--format", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (_, listed) = env.json(&["alerts", "--include-suppressed", "--format", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 5);
    let table = env.run(&["alerts", "--include-suppressed"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("(suppressed #2)"));

    // unsuppress deletes; an unknown id is an error.
    let out = env.run(&["alerts", "unsuppress", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["alerts", "unsuppress", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (_, list) = env.json(&["alerts", "suppressions", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // With every alert of the run silenced (the correlation by its group
    // key), --fail-on is not met and nothing is routed.
    let env = Env::new();
    for (rule, key) in [
        (FAILED_LOGIN_RULE, None),
        (BRUTEFORCE_RULE, Some("sourceIPAddress=203.0.113.9")),
    ] {
        let mut a = vec![
            "alerts", "suppress", "--rule", rule, "--until", "1h", "--reason", "test",
        ];
        if let Some(k) = key {
            a.extend(["--group-key", k]);
        }
        let out = env.run(&a);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let quiet_file = env.path("quiet.ndjson");
    let args = bruteforce_args(&[
        "--route-file",
        quiet_file.to_str().unwrap(),
        "--fail-on",
        "low",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v) = env.json(&args);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["run"]["totals"]["alerts"], 0);
    assert_eq!(v["run"]["totals"]["suppressed"], 5);
    assert!(!quiet_file.exists());

    // Bad input is refused.
    let out = env.run(&[
        "alerts", "suppress", "--rule", "x", "--until", "soon", "--reason", "r",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not an expiry"), "{}", stderr(&out));
    let out = env.run(&[
        "alerts", "suppress", "--rule", "x", "--match", "novalue", "--until", "1d", "--reason", "r",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
