//! The documented field contract of every registered service: for each
//! resource type of each entry of `KNOWN_SERVICES`, `docs/aws-resources.md`
//! has its section (`## `TYPE``) with a field table, and every body path
//! that a built-in policy of that type reads (`policies/aws/**/*.yaml`) is
//! documented there. The e2e test (`tests/e2e/aws.rs`) checks the other half
//! of the contract against moto: that collectors emit those paths.
//!
//! A path is documented by a row whose field is the path itself, or a prefix
//! of it whose meaning names each remaining step (`acl.grants[]` with
//! `{grantee_uri, …}` documents `acl.grants[].grantee_uri`). Like the e2e
//! check, a path stops at policy-document keys (PascalCase, as AWS writes
//! them) and condition keys (`aws:…`): documents are AWS's, not the schema's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stance_aws::KNOWN_SERVICES;
use stance_policy_engine::{PolicySet, SourceFile};

/// The workspace root (this crate is `host/aws`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One row of a field table: the fields it names and its meaning.
struct Row {
    fields: Vec<Vec<String>>,
    meaning: String,
}

/// Each `## `TYPE`` section of the resource page with the rows of its
/// field tables (`None` when the section has no field table).
fn sections(text: &str) -> BTreeMap<String, Option<Vec<Row>>> {
    let mut out: BTreeMap<String, Option<Vec<Row>>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_table = false;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = heading
                .trim()
                .strip_prefix('`')
                .and_then(|h| h.strip_suffix('`'))
                .map(str::to_string);
            if let Some(ty) = &current {
                out.insert(ty.clone(), None);
            }
            in_table = false;
            continue;
        }
        let Some(ty) = &current else { continue };
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.first() == Some(&"field") {
            in_table = true;
            out.get_mut(ty)
                .map(|rows| rows.get_or_insert_with(Vec::new));
            continue;
        }
        if !in_table
            || cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let fields = cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(segments)
            .collect();
        let meaning = cells[1..].join(" | ");
        if let Some(Some(rows)) = out.get_mut(ty) {
            rows.push(Row { fields, meaning });
        }
    }
    out
}

/// A path's steps without list markers: `a.b[].c` → `[a, b, c]`.
fn segments(path: &str) -> Vec<String> {
    path.split('.')
        .map(|s| s.trim_end_matches("[]").to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The part of a read path that the schema defines: stop at policy-document
/// keys (PascalCase, as AWS writes them) and at condition keys (`aws:…`),
/// as `tests/e2e/aws.rs` does.
fn contract_path(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.') {
        let name = seg.trim_end_matches("[]");
        if name.starts_with(|c: char| c.is_ascii_uppercase()) || name.contains(':') {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// Does some row document `path`: the field itself, or a prefix of it whose
/// meaning names every remaining step?
fn documented(rows: &[Row], path: &str) -> bool {
    let steps = segments(path);
    rows.iter().any(|row| {
        row.fields.iter().any(|field| {
            steps.starts_with(field)
                && !field.is_empty()
                && steps[field.len()..]
                    .iter()
                    .all(|step| names(&row.meaning, step))
        })
    })
}

/// Does `text` name `word` (as a whole word)?
fn names(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '@';
    text.split(|c: char| !is_word(c)).any(|w| w == word)
}

/// Every built-in AWS policy file (case files under `tests/` excluded).
fn policy_files(dir: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                policy_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).expect("a policy file");
            out.push(SourceFile {
                path: path.display().to_string(),
                text,
            });
        }
    }
}

#[test]
fn every_field_a_policy_reads_is_documented_for_every_registered_type() {
    let doc_path = root().join("docs/aws-resources.md");
    let text = std::fs::read_to_string(&doc_path).expect("docs/aws-resources.md");
    let sections = sections(&text);
    let mut files = Vec::new();
    policy_files(&root().join("policies/aws"), &mut files);
    let set = PolicySet::load(&files).unwrap_or_else(|e| panic!("the built-in policies: {e}"));

    let mut problems = Vec::new();
    let mut checked = 0;
    for service in KNOWN_SERVICES {
        for ty in service.types {
            let rows = match sections.get(*ty) {
                None => {
                    problems.push(format!(
                        "{ty} (service {}): no section `## \\`{ty}\\`` in docs/aws-resources.md",
                        service.name
                    ));
                    continue;
                }
                Some(None) => {
                    problems.push(format!(
                        "{ty} (service {}): its section has no field table (`| field | type | meaning |`)",
                        service.name
                    ));
                    continue;
                }
                Some(Some(rows)) => rows,
            };
            for policy in set.policies().iter().filter(|p| p.applies_to(ty)) {
                for read in policy.reads() {
                    let path = contract_path(&read);
                    if path.is_empty() {
                        continue;
                    }
                    checked += 1;
                    if !documented(rows, &path) {
                        problems.push(format!(
                            "{}: reads `{path}` of {ty}, which the field table of docs/aws-resources.md does not document",
                            policy.id
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 150, "only {checked} (policy, path) pairs checked");
    eprintln!("field contract: {checked} (policy, path) pairs documented");
}

#[test]
fn the_check_itself_reads_tables_and_prefixes() {
    let page = "## `aws_x_thing`\n\nid …\n\n| field | type | meaning |\n|---|---|---|\n\
        | `name` | string | |\n| `acl.grants[]` | list | `{grantee_uri, permission}` |\n\
        | `a`, `b.c` | bool | |\n\n## `aws_x_bare`\n\nNo table.\n";
    let s = sections(page);
    let rows = s["aws_x_thing"].as_ref().unwrap();
    for path in ["name", "acl.grants[].grantee_uri", "acl.grants", "a", "b.c"] {
        assert!(documented(rows, path), "{path}");
    }
    for path in ["acl.grants[].grantee_id", "nme", "b", "b.c.d"] {
        assert!(!documented(rows, path), "{path}");
    }
    assert!(s["aws_x_bare"].is_none());
    assert_eq!(
        contract_path("policy.Statement[].Condition"),
        "policy".to_string()
    );
    assert_eq!(contract_path("document.aws:SourceArn"), "document");
}
