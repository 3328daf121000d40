//! `stance export securityhub`: a scan's findings into AWS Security Hub as
//! ASFF. The command resolves the scan and the caller's account, refuses a
//! scan of another account or one older than the last export, asks
//! `report::securityhub` what to send, hands it to `notify::securityhub`,
//! and records what Security Hub accepted in the store.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use stance_aws::securityhub_export::{HubError, SecurityHub};

use super::Globals;
use crate::notify::securityhub as sender;
use crate::report::asff::Target;
use crate::report::securityhub::{self as planner, Change, Plan};
use crate::report::{self, safe};
use crate::store::{ExportCounts, ExportedFinding, FindingFilter, ScanRow, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import a scan's findings into AWS Security Hub (BatchImportFindings, ASFF)
    Securityhub(Args),
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Security Hub region to import into (default STANCE_AWS_REGION, AWS_REGION or the profile's)
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// AWS profile from the shared config files (default: the standard credential chain)
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Scan id (default: the latest scan)
    #[arg(long, value_name = "ID")]
    scan: Option<i64>,

    /// Check credentials and account and say what would be sent; send and store nothing
    #[arg(long)]
    dry_run: bool,

    /// The summary as a table (text) or JSON
    #[arg(long, value_enum, default_value = "table")]
    format: report::Format,
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Securityhub(args) => securityhub(g, args),
    }
}

fn securityhub(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    // Read-only until Security Hub accepted something: without credentials,
    // or refused, nothing stored changes.
    let store = g.store_read()?;
    let scan = resolve_scan(&store, args.scan)?;
    let region = args
        .region
        .clone()
        .or_else(|| g.settings().aws_region.value.clone());
    let hub = crate::net::block_on(SecurityHub::connect(args.profile.clone(), region))?
        .map_err(explain)?;
    let account = hub.account().to_string();
    check_account(&scan, &account)?;
    if let Some(last) = store.last_export(&account, hub.region(), &scan.scope)?
        && last > scan.id
    {
        bail!(
            "refused: scan #{} is older than scan #{last}, already exported to Security Hub for account {account} in {}; exporting it would undo newer state. Export scan #{last} or a newer one.",
            scan.id,
            hub.region()
        );
    }
    let plan = make_plan(&store, &scan, &account, hub.region())?;
    if args.dry_run {
        let counts = ExportCounts {
            imported: plan.count(Change::Import),
            archived: plan.count(Change::Archive),
            unchanged: plan.unchanged,
            failed: 0,
        };
        return summary(&args, &scan, &hub, &plan, counts, true).map(|_| ExitCode::SUCCESS);
    }
    let (counts, failed) = send(g, &scan, &hub, &plan)?;
    summary(&args, &scan, &hub, &plan, counts, false)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn resolve_scan(store: &Store, id: Option<i64>) -> anyhow::Result<ScanRow> {
    let id = match id {
        Some(id) => id,
        None => store.latest_scan_id()?.with_context(|| {
            format!(
                "no scans in {} yet; run `stance scan` first",
                store.path().display()
            )
        })?,
    };
    let scan = store.scan(id)?.with_context(|| {
        format!(
            "there is no complete scan #{id} in {}; `stance scans` lists them",
            store.path().display()
        )
    })?;
    if scan.provider != "aws" {
        bail!(
            "scan #{id} is of provider {:?}; only AWS findings go to Security Hub",
            scan.provider
        );
    }
    Ok(scan)
}

/// A clear message for a failure to reach Security Hub.
fn explain(e: HubError) -> anyhow::Error {
    match e {
        HubError::AccessDenied(m) => anyhow::anyhow!(
            "access denied: {m}; the credentials need sts:GetCallerIdentity and securityhub:BatchImportFindings, and Security Hub must be enabled in the region. Nothing was exported."
        ),
        other => anyhow::anyhow!("{other}. Nothing was exported."),
    }
}

/// The accounts of a scope (`aws:ACCOUNT,ACCOUNT:REGION,…`).
fn scope_accounts(scope: &str) -> Vec<&str> {
    scope
        .split(':')
        .nth(1)
        .map(|a| a.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// BatchImportFindings takes only findings of the caller's account (their
/// `AwsAccountId` must be it, for a custom integration).
fn check_account(scan: &ScanRow, account: &str) -> anyhow::Result<()> {
    let accounts = scope_accounts(&scan.scope);
    if !accounts.contains(&account) {
        bail!(
            "refused: the credentials are for account {account}, but scan #{} covers {}; Security Hub accepts a custom integration's findings only from the account they are about (AwsAccountId). Run the export with credentials of that account. Nothing was exported.",
            scan.id,
            if accounts.is_empty() {
                "no account".to_string()
            } else {
                accounts.join(", ")
            }
        );
    }
    Ok(())
}

fn make_plan(store: &Store, scan: &ScanRow, account: &str, region: &str) -> anyhow::Result<Plan> {
    let rows = store.findings(&FindingFilter {
        scan: Some(scan.id),
        ..FindingFilter::default()
    })?;
    let (tags, _) = report::findings::asff_context(store, Some(scan.id))?;
    let exported = store.exported_findings(account, region)?;
    let target = Target {
        region: Some(region.to_string()),
        account: Some(account.to_string()),
    };
    let mut absent = HashMap::new();
    for e in &exported {
        absent.insert(
            e.fingerprint.clone(),
            store.finding_absent(&scan.scope, &e.fingerprint)?,
        );
    }
    Ok(planner::plan(
        &rows,
        &exported,
        (&scan.scope, &scan.finished_at),
        &target,
        &tags,
        |fp| absent.get(fp).copied().unwrap_or(false),
    ))
}

/// Send the plan and record what Security Hub accepted. Returns the counts
/// and whether any finding could not be imported.
fn send(
    g: &Globals,
    scan: &ScanRow,
    hub: &SecurityHub,
    plan: &Plan,
) -> anyhow::Result<(ExportCounts, bool)> {
    let documents = plan.send.iter().map(|p| p.document.clone()).collect();
    let bar = super::progress_bar(g, "{bar:30} {pos}/{len} findings sent");
    bar.set_length(plan.send.len() as u64);
    let outcome = crate::net::block_on(sender::send(
        hub,
        documents,
        sender::Retry::default(),
        |n| bar.inc(n as u64),
    ))?;
    bar.finish_and_clear();
    // Refused before Security Hub accepted anything (access denied): a
    // clear error, and nothing stored changes.
    if outcome.accepted.is_empty()
        && let Some(stop) = outcome.stopped
    {
        return Err(explain(stop));
    }
    let now = crate::model::now_rfc3339();
    let accepted = accepted_records(scan, plan, &outcome.accepted);
    let counts = ExportCounts {
        imported: accepted
            .iter()
            .filter(|e| e.record_state == "ACTIVE")
            .count(),
        archived: accepted
            .iter()
            .filter(|e| e.record_state == "ARCHIVED")
            .count(),
        unchanged: plan.unchanged,
        failed: outcome.failed.len(),
    };
    let mut store = g.store()?;
    store.record_exported(hub.account(), hub.region(), &accepted, &now)?;
    store.record_export_run(
        hub.account(),
        hub.region(),
        (scan.id, &scan.scope),
        counts,
        &now,
    )?;
    report_failures(&outcome)?;
    Ok((
        counts,
        !outcome.failed.is_empty() || outcome.stopped.is_some(),
    ))
}

/// What Security Hub accepted, as the store records it.
fn accepted_records(scan: &ScanRow, plan: &Plan, accepted: &[String]) -> Vec<ExportedFinding> {
    let by_id: HashMap<String, &planner::Planned> = plan
        .send
        .iter()
        .map(|p| (p.document["Id"].as_str().unwrap_or_default().to_string(), p))
        .collect();
    accepted
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|p| ExportedFinding {
            fingerprint: p.fingerprint.clone(),
            scope: scan.scope.clone(),
            scan_id: scan.id,
            record_state: p.document["RecordState"]
                .as_str()
                .unwrap_or("ACTIVE")
                .to_string(),
            digest: p.digest.clone(),
            document: p.document.to_string(),
        })
        .collect()
}

/// Each finding Security Hub refused, and why the export stopped, on stderr.
fn report_failures(outcome: &sender::Outcome) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    for f in &outcome.failed {
        writeln!(
            err,
            "error: finding {} not imported: {}: {}",
            safe(&f.id),
            safe(&f.code),
            safe(&f.message)
        )?;
    }
    if let Some(stop) = &outcome.stopped {
        writeln!(err, "error: the export stopped: {}", safe(stop.to_string()))?;
    }
    Ok(())
}

fn summary(
    args: &Args,
    scan: &ScanRow,
    hub: &SecurityHub,
    plan: &Plan,
    counts: ExportCounts,
    dry_run: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.format == report::Format::Json {
        report::write_json(
            &mut out,
            &serde_json::json!({
                "scan": scan.id, "account": hub.account(), "region": hub.region(), "dry_run": dry_run,
                "imported": counts.imported, "archived": counts.archived,
                "unchanged": counts.unchanged, "failed": counts.failed,
                "other_accounts": plan.other_accounts, "imported_findings_left_out": plan.imported_left_out,
            }),
        )?;
        return Ok(());
    }
    let verb = if dry_run { "would send" } else { "sent" };
    writeln!(
        out,
        "scan #{} → Security Hub {} ({}): {verb} {} active, {} archived; {} unchanged; {} failed",
        scan.id,
        hub.account(),
        hub.region(),
        counts.imported,
        counts.archived,
        counts.unchanged,
        counts.failed
    )?;
    for (account, n) in &plan.other_accounts {
        writeln!(
            out,
            "  {n} failing findings of account {account} not sent: export them with that account's credentials"
        )?;
    }
    if plan.imported_left_out > 0 {
        writeln!(
            out,
            "  {} findings imported from Security Hub or Inspector2 are never sent back",
            plan.imported_left_out
        )?;
    }
    Ok(())
}
