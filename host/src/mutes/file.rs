//! The mute file: a YAML list of mutes (a list, so that two mutes can never
//! collide as duplicate keys), each checked field by field. Every refusal
//! names the file, the line and the field.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use super::{Mute, MuteError, MuteSet, Pattern};

/// A mute as written; unknown keys are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMute {
    id: String,
    rules: Vec<String>,
    resources: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    reason: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    permanent: bool,
    #[serde(default)]
    created: Option<String>,
}

/// Parse and validate the text of the mute file `file`.
pub fn parse(text: &str, file: &Path) -> Result<MuteSet, MuteError> {
    let invalid = |line: usize, field: Option<&str>, what: String| MuteError::Invalid {
        file: file.to_path_buf(),
        line,
        field: field.map(str::to_string),
        what,
    };
    let raw: Vec<RawMute> = if only_comments(text) {
        Vec::new()
    } else {
        serde_norway::from_str(text).map_err(|e| {
            let line = e.location().map_or(1, |l| l.line());
            invalid(
                line,
                field_named_in(&e.to_string()).as_deref(),
                format!("{e}; the mute file is a YAML list of mutes (`- id: ...`, docs/mutes.md)"),
            )
        })?
    };
    let items = item_lines(text);
    let mut mutes: Vec<Mute> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let start = items.get(i).copied().unwrap_or(1);
        let end = items.get(i + 1).copied().unwrap_or(usize::MAX);
        let at = Fields { text, start, end };
        let m = validate(r, &at).map_err(|(field, msg)| {
            invalid(
                at.line(field),
                Some(field),
                format!("mute #{}, field `{field}`: {msg}", i + 1),
            )
        })?;
        if let Some(first) = mutes.iter().find(|o| o.id == m.id) {
            return Err(invalid(
                at.line("id"),
                Some("id"),
                format!(
                    "mute #{}, field `id`: `{}` is already the id of the mute on line {}; ids must be unique",
                    i + 1,
                    m.id,
                    first.line
                ),
            ));
        }
        mutes.push(m);
    }
    Ok(MuteSet {
        file: Some(file.to_path_buf()),
        mutes,
    })
}

type Refusal = (&'static str, String);

/// Check one mute's fields; the error names the field.
fn validate(r: RawMute, at: &Fields<'_>) -> Result<Mute, Refusal> {
    check_id(&r.id)?;
    non_empty_list("rules", &r.rules, "a rule id or a glob such as `aws-s3-*`")?;
    non_empty_list(
        "resources",
        &r.resources,
        "an ARN glob such as `arn:aws:s3:::acme-*`, `*`, or `re:REGEX`",
    )?;
    non_empty_list_or_absent("accounts", &r.accounts)?;
    non_empty_list_or_absent("regions", &r.regions)?;
    if r.tags.keys().any(|k| k.trim().is_empty()) {
        return Err(("tags", "a tag key is empty".into()));
    }
    if r.reason.trim().is_empty() {
        return Err((
            "reason",
            "is empty; say why the risk is accepted (a ticket id helps)".into(),
        ));
    }
    let resources = r
        .resources
        .iter()
        .map(|p| pattern(p))
        .collect::<Result<Vec<_>, _>>()?;
    let expires = match (&r.expires, r.permanent) {
        (Some(d), false) => Some(date("expires", d)?),
        (None, true) => None,
        (Some(_), true) => {
            return Err((
                "permanent",
                "a mute with `expires` is not permanent; keep one of the two".into(),
            ));
        }
        (None, false) => {
            return Err(("expires", "is missing; give the day the mute stops applying (YYYY-MM-DD), or write `permanent: true` (`stance mutes add --allow-permanent`)".into()));
        }
    };
    let created = r
        .created
        .as_deref()
        .map(|d| date("created", d))
        .transpose()?;
    Ok(Mute {
        line: at.start,
        rules_line: at.line("rules"),
        id: r.id,
        rules: r.rules,
        resources,
        accounts: r.accounts,
        regions: r.regions,
        tags: r.tags,
        reason: r.reason.trim().to_string(),
        owner: r.owner.filter(|o| !o.trim().is_empty()),
        expires,
        created,
    })
}

fn check_id(id: &str) -> Result<(), Refusal> {
    let ok = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err((
            "id",
            format!(
                "`{id}` is not an id: letters, digits, `.`, `_` and `-`, starting with a letter or digit"
            ),
        ))
    }
}

fn non_empty_list(field: &'static str, values: &[String], example: &str) -> Result<(), Refusal> {
    if values.is_empty() {
        return Err((field, format!("is empty; give at least one: {example}")));
    }
    non_empty_list_or_absent(field, values)
}

fn non_empty_list_or_absent(field: &'static str, values: &[String]) -> Result<(), Refusal> {
    if values.iter().any(|v| v.trim().is_empty()) {
        return Err((field, "has an empty entry".into()));
    }
    Ok(())
}

/// A resource pattern: `re:` makes a regular expression (whole id), else a glob.
fn pattern(written: &str) -> Result<Pattern, Refusal> {
    match written.strip_prefix("re:") {
        Some(re) => regex::Regex::new(&format!("^(?:{re})$"))
            .map(|compiled| Pattern::Regex(compiled, written.to_string()))
            .map_err(|e| {
                let e = e.to_string().replace('\n', " ");
                (
                    "resources",
                    format!("`{written}` is not a regular expression: {e}"),
                )
            }),
        None => Ok(Pattern::Glob(written.to_string())),
    }
}

/// A calendar day, `YYYY-MM-DD`.
pub(crate) fn date(field: &'static str, text: &str) -> Result<NaiveDate, Refusal> {
    let t = text.trim();
    let parsed = NaiveDate::parse_from_str(t, "%Y-%m-%d");
    match parsed {
        Ok(d) if t.len() == 10 => Ok(d),
        _ => Err((
            field,
            format!("`{text}` is not a date; write YYYY-MM-DD, such as 2027-03-31"),
        )),
    }
}

/// Whether the text holds no YAML at all (blank lines and comments only).
fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    })
}

/// The lines (1-based) where the top-level list's items start: lines that
/// begin with `-` at the indentation of the first item.
fn item_lines(text: &str) -> Vec<usize> {
    let mut indent = None;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let body = l.trim_start();
        let is_item = body == "-" || body.starts_with("- ");
        if !is_item {
            continue;
        }
        let at = l.len() - body.len();
        if *indent.get_or_insert(at) == at {
            out.push(i + 1);
        }
    }
    out
}

/// Where the fields of one item are: its lines `start..end`.
struct Fields<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

impl Fields<'_> {
    /// The line of `field` in the item; the item's line when not found.
    fn line(&self, field: &str) -> usize {
        let key = format!("{field}:");
        self.text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(n, _)| *n >= self.start && *n < self.end)
            .find(|(_, l)| {
                let t = l.trim_start();
                let t = t.strip_prefix("- ").unwrap_or(t).trim_start();
                t.starts_with(&key)
            })
            .map_or(self.start, |(n, _)| n)
    }
}

/// The field a serde message names (`unknown field `x``, `missing field `x``).
fn field_named_in(message: &str) -> Option<String> {
    let rest = message.split("field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}
