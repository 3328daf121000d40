//! `stance prune`: retention. Keeps the newest scans of each scope
//! (`--keep-scans`), drops scans and detection runs older than an age
//! (`--older-than`), then gives the space back.

use std::process::ExitCode;

use anyhow::bail;
use chrono::{DateTime, Utc};

use super::Globals;
use crate::report;
use crate::store::PrunePolicy;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the newest N scans of each scope (at least 1); older ones go
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep_scans: Option<u32>,

    /// Prune scans and detection runs (with their alerts) that finished longer ago than AGE: 90d, 12h, 2w, 30m, or a date or RFC 3339 time. With --keep-scans, a scan goes only when both say so; the newest scan of a scope always stays
    #[arg(long, value_name = "AGE")]
    older_than: Option<String>,

    /// Show what would be pruned and change nothing
    #[arg(long)]
    dry_run: bool,

    /// Do not vacuum: free pages stay in the file and later scans reuse them
    #[arg(long)]
    no_vacuum: bool,

    /// table (a few lines for people), or json
    #[arg(long, value_enum, default_value = "table")]
    format: PruneFormat,
}

/// Output of `stance prune` (its own: the shared format list is for rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PruneFormat {
    Table,
    Json,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    if args.keep_scans.is_none() && args.older_than.is_none() {
        bail!(
            "say what to prune: --keep-scans N (newest scans kept per scope), --older-than AGE, or both"
        );
    }
    let before = match &args.older_than {
        Some(age) => Some(
            cutoff(age, Utc::now())
                .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        None => None,
    };
    let policy = PrunePolicy {
        keep_scans: args.keep_scans.map(|n| n as usize),
        before,
    };
    let quiet = g.quiet();
    let result = if args.dry_run {
        g.store_read()?.prune_plan(&policy)?
    } else {
        g.store()?.prune(&policy, !args.no_vacuum, &|step| {
            if !quiet {
                crate::say_err!("prune: {step}");
            }
        })?
    };
    let mut out = super::output(None)?;
    report::prune::write(&mut out, &result, args.format == PruneFormat::Json)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The time before which things are old: `now` minus an age (`90d`, `12h`,
/// `2w`, `30m`, `45s`), or a date (midnight UTC) or an RFC 3339 time.
pub(crate) fn cutoff(age: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = age.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    let bad = || {
        format!(
            "{age:?} is not an age: use a number and a unit (90d, 12h, 2w, 30m, 45s), a date (2026-01-31) or an RFC 3339 time"
        )
    };
    let split = s.len().saturating_sub(1);
    let (num, unit) = (s.get(..split).unwrap_or(""), s.get(split..).unwrap_or(""));
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    let d = match unit {
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    now.checked_sub_signed(d).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_dates_and_times_are_cutoffs_and_the_rest_is_refused() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| cutoff(s, now).unwrap().to_rfc3339();
        assert_eq!(at("90d"), "2026-09-08T12:00:00+00:00");
        assert_eq!(at("12h"), "2026-12-07T00:00:00+00:00");
        assert_eq!(at("2w"), "2026-11-23T12:00:00+00:00");
        assert_eq!(at("30m"), "2026-12-07T11:30:00+00:00");
        assert_eq!(at("0d"), "2026-12-07T12:00:00+00:00");
        assert_eq!(at("2026-01-31"), "2026-01-31T00:00:00+00:00");
        assert_eq!(at("2026-06-01T08:00:00Z"), "2026-06-01T08:00:00+00:00");
        for bad in [
            "",
            "d",
            "90",
            "90y",
            "-3d",
            "ninety days",
            "9999999999999999w",
            "é",
        ] {
            let e = cutoff(bad, now).expect_err(bad);
            assert!(e.contains("is not an age"), "{bad}: {e}");
        }
    }
}
