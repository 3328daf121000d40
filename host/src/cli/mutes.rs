//! `stance mutes add|list|audit`: the mute file (`docs/mutes.md`). The file
//! format, matching and the audit are `crate::mutes`'; this is flags,
//! output and exit codes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use serde::Serialize;

use super::Globals;
use crate::model::Status;
use crate::mutes::audit::{self, Problem, ScanView};
use crate::mutes::edit::{self, NewMute};
use crate::mutes::{Mute, MuteSet, Subject};
use crate::report::{self, Format};
use crate::settings::Origin;
use crate::store::{AssetFilter, FindingFilter};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a mute to the mute file (appended; the file's text and comments are kept)
    Add(Box<AddArgs>),
    /// List the mutes of the file, with whether each is in force
    List {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Check the mute file against the latest scan: expired mutes, mutes that
    /// matched no failure, rule ids that did not run, mutes without an owner.
    /// Exits 1 when it finds a problem, 0 when none, 2 on errors.
    Audit {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// `--mutes FILE`.
#[derive(Debug, clap::Args)]
pub struct FileArg {
    /// Mute file (default: .stance/mutes.yaml in the current directory)
    #[arg(long, value_name = "FILE")]
    mutes: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    file: FileArg,
    /// Rule id or glob (`aws-s3-*`); repeatable, any of them
    #[arg(long = "rule", value_name = "RULE", required = true)]
    rules: Vec<String>,
    /// Resource ARN glob (`arn:aws:s3:::acme-scratch-*`, `*`) or `re:REGEX`; repeatable, any of them
    #[arg(long = "resource", value_name = "GLOB", required = true)]
    resources: Vec<String>,
    /// Why the risk is accepted (a ticket id helps)
    #[arg(long)]
    reason: String,
    /// Who owns the decision
    #[arg(long)]
    owner: Option<String>,
    /// The day the mute stops applying (YYYY-MM-DD, UTC): it covers findings before that day
    #[arg(long, value_name = "DATE")]
    expires: Option<String>,
    /// Store a mute without an end date (`permanent: true`)
    #[arg(long)]
    allow_permanent: bool,
    /// Only in this account (glob; repeatable, any of them)
    #[arg(long = "account", value_name = "ACCOUNT")]
    accounts: Vec<String>,
    /// Only in this region (glob; repeatable, any of them)
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Only resources with this tag, KEY=VALUE (value a glob; repeatable, all of them)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// The mute's id (default: mute-N, the first free N)
    #[arg(long)]
    id: Option<String>,
}

impl Command {
    /// `--mutes FILE`, for the settings.
    pub(crate) fn mutes(&self) -> Option<PathBuf> {
        match self {
            Command::Add(a) => a.file.mutes.clone(),
            Command::List { file, .. } | Command::Audit { file, .. } => file.mutes.clone(),
        }
    }
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add(args) => add(g, *args),
        Command::List { format, .. } => list(g, format),
        Command::Audit { format, .. } => audit_file(g, format),
    }
}

/// The mute file the settings name, validated: no mutes when the default
/// file does not exist; an error when a file named by `--mutes` does not.
pub(crate) fn load(g: &Globals) -> anyhow::Result<MuteSet> {
    let setting = &g.settings().mutes;
    let required = matches!(setting.origin, Origin::Flag(_));
    Ok(MuteSet::load(&setting.value, required)?)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn add(g: &Globals, a: AddArgs) -> anyhow::Result<ExitCode> {
    let today = today();
    let expires = match (&a.expires, a.allow_permanent) {
        (Some(_), true) => bail!("--expires and --allow-permanent: give one of the two"),
        (None, false) => bail!(
            "--expires DATE is required (the day the mute stops applying, YYYY-MM-DD); --allow-permanent stores a mute without one"
        ),
        (None, true) => None,
        (Some(d), false) => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .filter(|_| d.len() == 10)
                .with_context(|| format!("--expires {d}: not a date; write YYYY-MM-DD"))?,
        ),
    };
    if let Some(e) = expires.filter(|e| *e <= today) {
        bail!(
            "--expires {e}: that day has come (today is {today}, UTC); a mute stops applying on its end date"
        );
    }
    let mut tags = BTreeMap::new();
    for t in &a.tags {
        let Some((k, v)) = t.split_once('=') else {
            bail!("--tag {t}: write KEY=VALUE");
        };
        tags.insert(k.to_string(), v.to_string());
    }
    let path = g.settings().mutes.value.clone();
    let new = NewMute {
        id: a.id,
        rules: a.rules,
        resources: a.resources,
        accounts: a.accounts,
        regions: a.regions,
        tags,
        reason: a.reason,
        owner: a.owner,
        expires,
        permanent: a.allow_permanent,
        created: today,
    };
    let set = edit::append(&path, new).context("the mute was not added")?;
    let Some(m) = set.mutes.last() else {
        bail!("{}: the mute was not added", path.display());
    };
    let until = m
        .expires
        .map_or("no end date".to_string(), |e| format!("until {e}"));
    let mut out = report::TerminalWriter::new(std::io::stdout().lock());
    writeln!(out, "added mute {} to {} ({until})", m.id, path.display())?;
    Ok(ExitCode::SUCCESS)
}

/// A mute as `mutes list --format json` prints it.
#[derive(Serialize)]
struct MuteView<'a> {
    id: &'a str,
    state: &'static str,
    rules: &'a [String],
    resources: Vec<&'a str>,
    accounts: &'a [String],
    regions: &'a [String],
    tags: &'a BTreeMap<String, String>,
    reason: &'a str,
    owner: Option<&'a str>,
    expires: Option<String>,
    created: Option<String>,
    line: usize,
}

fn view(m: &Mute, today: NaiveDate) -> MuteView<'_> {
    MuteView {
        id: &m.id,
        state: match m.expires {
            None => "permanent",
            Some(_) if m.expired(today) => "expired",
            Some(_) => "active",
        },
        rules: &m.rules,
        resources: m.resources.iter().map(|p| p.as_written()).collect(),
        accounts: &m.accounts,
        regions: &m.regions,
        tags: &m.tags,
        reason: &m.reason,
        owner: m.owner.as_deref(),
        expires: m.expires.map(|d| d.to_string()),
        created: m.created.map(|d| d.to_string()),
        line: m.line,
    }
}

fn list(g: &Globals, format: Format) -> anyhow::Result<ExitCode> {
    let set = load(g)?;
    let today = today();
    let views: Vec<MuteView<'_>> = set.mutes.iter().map(|m| view(m, today)).collect();
    let mut out = report::open_output(None)?;
    let row = |v: &MuteView<'_>| {
        vec![
            v.id.to_string(),
            v.state.to_string(),
            v.expires.clone().unwrap_or_default(),
            v.owner.unwrap_or_default().to_string(),
            v.rules.join(" "),
            v.resources.join(" "),
            v.reason.to_string(),
        ]
    };
    const HEADER: [&str; 7] = [
        "ID",
        "STATE",
        "EXPIRES",
        "OWNER",
        "RULES",
        "RESOURCES",
        "REASON",
    ];
    match format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(format, "mute lists").into());
        }
        Format::Json => report::write_json(&mut out, &views)?,
        Format::Csv => report::write_csv(
            &mut out,
            &HEADER
                .map(str::to_ascii_lowercase)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            views.iter().map(row),
        )?,
        Format::Table if views.is_empty() => writeln!(
            out,
            "no mutes in {}",
            report::safe(g.settings().mutes.value.display())
        )?,
        Format::Table => {
            let mut t = report::table(&HEADER);
            for v in &views {
                t.add_row(row(v));
            }
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn audit_file(g: &Globals, format: Format) -> anyhow::Result<ExitCode> {
    let set = load(g)?;
    let store = g.store_read()?;
    let scan = match store.latest_scan_id()? {
        Some(id) => Some(scan_data(&store, id)?),
        None => None,
    };
    let view = scan.as_ref().map(|(id, failing, tags, rules)| ScanView {
        id: *id,
        failing: failing
            .iter()
            .map(|(rule, res, account, region)| Subject {
                rule_id: rule,
                resource: res,
                account,
                region,
                tags: tags.get(res).map_or(&[][..], Vec::as_slice),
            })
            .collect(),
        rules: rules.clone(),
    });
    let problems = audit::audit(&set, view.as_ref(), today());
    write_audit(g, format, &problems, view.as_ref().map(|v| v.id))?;
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

type Failing = Vec<(String, String, String, String)>;
type Tags = BTreeMap<String, Vec<(String, String)>>;

/// A scan's failing findings (rule, resource, account, region), its
/// resources' tags and the rules it ran.
fn scan_data(
    store: &crate::store::Store,
    id: i64,
) -> anyhow::Result<(i64, Failing, Tags, std::collections::BTreeSet<String>)> {
    let filter = FindingFilter {
        scan: Some(id),
        statuses: vec![Status::Fail],
        ..Default::default()
    };
    let failing = store
        .findings(&filter)?
        .into_iter()
        .map(|f| {
            (
                f.rule_id,
                f.resource.id,
                f.resource.account,
                f.resource.region,
            )
        })
        .collect();
    let assets = store.assets(&AssetFilter {
        scan: Some(id),
        ..Default::default()
    })?;
    let tags = assets
        .into_iter()
        .map(|a| {
            let pairs = a
                .tags
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (a.id, pairs)
        })
        .collect();
    let rules = store.rules(id)?.into_iter().map(|r| r.id).collect();
    Ok((id, failing, tags, rules))
}

fn write_audit(
    g: &Globals,
    format: Format,
    problems: &[Problem],
    scan: Option<i64>,
) -> anyhow::Result<()> {
    let file = g.settings().mutes.value.display().to_string();
    let mut out = report::open_output(None)?;
    let row = |p: &Problem| {
        vec![
            p.mute.clone(),
            p.line.to_string(),
            p.kind.to_string(),
            p.detail.clone(),
        ]
    };
    match format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(format, "mute audits").into());
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Audit<'a> {
                file: &'a str,
                scan: Option<i64>,
                problems: &'a [Problem],
            }
            report::write_json(
                &mut out,
                &Audit {
                    file: &file,
                    scan,
                    problems,
                },
            )?
        }
        Format::Csv => report::write_csv(
            &mut out,
            &["mute", "line", "problem", "detail"],
            problems.iter().map(row),
        )?,
        Format::Table => {
            if scan.is_none() {
                writeln!(out, "no scan yet: mutes were not matched against findings")?;
            }
            if problems.is_empty() {
                writeln!(out, "{}: no problems", report::safe(&file))?;
            } else {
                let mut t = report::table(&["MUTE", "LINE", "PROBLEM", "DETAIL"]);
                for p in problems {
                    t.add_row(row(p));
                }
                writeln!(out, "{t}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
