//! The architecture, kept by tests that read the source (docs/architecture.md):
//! which pipeline module may use which, the one module that reads the
//! environment, the model crate that depends on no engine, functions that
//! read at once, and documents that exist. Each test names the file and
//! line of every breach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The workspace root, read at run time (a test binary shared through the
/// target directory reads this checkout, not the one it was built from).
fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a line: without its `//` comment (doc comments included)
/// and without the contents of string literals.
fn code(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_str => {
                chars.next();
            }
            '"' => {
                in_str = !in_str;
                out.push('"');
            }
            '/' if !in_str && chars.peek() == Some(&'/') => break,
            _ if in_str => {}
            _ => out.push(c),
        }
    }
    out
}

/// The lines of a file before its inline `#[cfg(test)] mod … {` module:
/// product code (a `#[cfg(test)] mod tests;` declaration does not end it).
fn product_lines(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map_or("", |n| n.trim());
        if l.trim() == "#[cfg(test)]" && next.starts_with("mod ") && next.ends_with('{') {
            break;
        }
        out.push((i + 1, code(l)));
    }
    out
}

/// The pipeline module a file of `host/src` belongs to (`store`, `cli`,
/// `settings`, …), and its module path (`["report", "alerts"]`).
fn module_of(src: &Path, file: &Path) -> (String, Vec<String>) {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut path: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = path.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        path.push(stem.to_string());
    }
    let top = path.first().cloned().unwrap_or_else(|| "crate".into());
    (top, path)
}

/// The top-level modules a line of a file uses: `crate::X`, `crate::{X, Y}`,
/// and `super::…::X` that climbs to the crate root.
fn used_modules(line: &str, module_path: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        out.extend(idents_at(after));
        rest = after;
    }
    let mut rest = line;
    while let Some(i) = rest.find("super::") {
        let mut after = &rest[i..];
        let mut depth = 0;
        while let Some(a) = after.strip_prefix("super::") {
            depth += 1;
            after = a;
        }
        // `super` from a file climbs out of the file's own module.
        if depth >= module_path.len() {
            out.extend(idents_at(after));
        } else if depth == module_path.len() - 1 {
            out.insert(module_path[0].clone());
        }
        rest = &rest[i + "super::".len()..];
    }
    out
}

/// `X…` or `{X, Y::…}` at the start of a path: the first identifiers.
fn idents_at(s: &str) -> Vec<String> {
    let ident = |t: &str| -> String {
        t.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match s.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or("")
            .split(',')
            .map(ident)
            .filter(|i| !i.is_empty() && i != "self")
            .collect(),
        None => vec![ident(s)],
    }
}

/// Which modules each pipeline module must never use (docs/architecture.md).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "model",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "notify",
            "pack", "devkit", "bench", "watch", "cli", "settings", "net",
        ],
    ),
    (
        "settings",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "notify",
            "pack", "devkit", "bench", "watch", "cli", "net",
        ],
    ),
    (
        "net",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "notify",
            "pack", "devkit", "bench", "watch", "cli",
        ],
    ),
    (
        "intake",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "notify",
            "pack", "devkit", "bench", "watch", "cli", "settings", "net", "model",
        ],
    ),
    (
        "mutes",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "notify",
            "pack", "devkit", "bench", "watch", "cli", "settings", "net", "intake",
        ],
    ),
    (
        "collect",
        &[
            "catalog", "runtime", "pipeline", "store", "report", "notify", "devkit", "bench",
            "watch", "cli",
        ],
    ),
    (
        "events",
        &[
            "catalog", "runtime", "pipeline", "store", "report", "notify", "devkit", "bench",
            "watch", "cli",
        ],
    ),
    (
        "catalog",
        &[
            "collect", "events", "pipeline", "store", "report", "notify", "devkit", "bench",
            "watch", "cli",
        ],
    ),
    (
        "runtime",
        &[
            "collect", "events", "catalog", "pipeline", "store", "report", "notify", "pack",
            "devkit", "bench", "watch", "cli", "settings", "net", "mutes",
        ],
    ),
    (
        "pipeline",
        &["report", "notify", "devkit", "bench", "watch", "cli"],
    ),
    (
        "store",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "report", "notify", "pack",
            "devkit", "bench", "watch", "cli",
        ],
    ),
    (
        "report",
        &[
            "collect", "events", "catalog", "runtime", "bench", "watch", "cli", "net",
        ],
    ),
    (
        "notify",
        &[
            "collect", "events", "catalog", "runtime", "pipeline", "store", "report", "pack",
            "devkit", "bench", "watch", "cli",
        ],
    ),
    (
        "pack",
        &[
            "collect", "events", "catalog", "pipeline", "store", "report", "notify", "devkit",
            "bench", "watch", "cli",
        ],
    ),
    (
        "devkit",
        &["pipeline", "store", "report", "notify", "watch", "cli"],
    ),
    ("bench", &["store", "notify", "watch", "cli"]),
    ("watch", &["report", "notify", "cli"]),
];

/// Every use of a forbidden module in `host/src`, as `file:line: X uses Y`.
fn breaches(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(src) {
        let (module, path) = module_of(src, &file);
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(m, _)| *m == module) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in product_lines(&text) {
            for used in used_modules(&line, &path) {
                if forbidden.contains(&used.as_str()) {
                    out.push(format!(
                        "{}:{n}: `{module}` uses `{used}`: {}",
                        file.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn pipeline_modules_use_only_what_the_architecture_allows() {
    let found = breaches(&root().join("host/src"));
    assert!(
        found.is_empty(),
        "forbidden imports (see the module table of docs/architecture.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_import_check_catches_a_forbidden_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join("writer.rs"),
        "//! crate::runtime in a comment is fine\nuse crate::model::Finding;\nuse crate::{runtime::Runtime, model};\n",
    )
    .unwrap();
    std::fs::write(
        store.join("mod.rs"),
        "#[cfg(test)]\nmod tests;\nuse super::report::table;\n#[cfg(test)]\nmod more {\nuse crate::cli;\n}\n",
    )
    .unwrap();
    let found = breaches(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("store/mod.rs:3: `store` uses `report`"));
    assert!(found[1].contains("store/writer.rs:3: `store` uses `runtime`"));
}

/// Places that read a process variable, outside the one module allowed to.
fn environment_reads(dir: &Path, allowed: &[&str]) -> Vec<String> {
    const READS: &[&str] = &[
        "env::var(",
        "env::var_os(",
        "env::vars(",
        "env::vars_os(",
        "dirs::home_dir(",
        "dirs::cache_dir(",
    ];
    let mut out = Vec::new();
    for file in rust_files(dir) {
        let shown = file.display().to_string();
        if allowed.iter().any(|a| shown.ends_with(a)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in product_lines(&text) {
            if READS.iter().any(|r| line.contains(r)) {
                out.push(format!("{shown}:{n}: {}", line.trim()));
            }
        }
    }
    out
}

#[test]
fn only_the_settings_module_reads_the_environment() {
    let root = root();
    let mut found = environment_reads(&root.join("host/src"), &["host/src/settings.rs"]);
    // The AWS SDK's own retry variables (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE)
    // belong to its chain: stance-aws only asks whether they are set.
    found.extend(environment_reads(
        &root.join("host/aws/src"),
        &["host/aws/src/toolkit/sdk.rs"],
    ));
    found.extend(environment_reads(&root.join("host/pack/src"), &[]));
    assert!(
        found.is_empty(),
        "read the environment through stance::settings (Settings::resolve) instead:\n{}",
        found.join("\n")
    );
}

/// Places that print to the terminal without escaping control characters:
/// `println!`, `eprintln!`, `print!`, `eprint!` outside the two macros that
/// escape (`say!`, `say_err!` in `report/terminal.rs`).
fn raw_prints(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(dir) {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in product_lines(&text) {
            let raw = ["println!(", "print!(", "eprintln!(", "eprint!("]
                .iter()
                .any(|m| line.match_indices(m).any(|(i, _)| is_bare_macro(&line, i)));
            if raw {
                out.push(format!("{shown}:{n}: {}", line.trim()));
            }
        }
    }
    out
}

/// Whether the macro name at `i` stands alone: not `::std::println!` (the
/// escaping macros' own expansion) and not the tail of a longer name.
fn is_bare_macro(line: &str, i: usize) -> bool {
    let before = &line[..i];
    !(before.ends_with("::std::") || before.ends_with(|c: char| c.is_alphanumeric() || c == '_'))
}

#[test]
fn terminal_output_goes_through_the_escaping_macros() {
    let root = root();
    let mut found = raw_prints(&root.join("host/src"));
    found.extend(raw_prints(&root.join("host/aws/src")));
    found.extend(raw_prints(&root.join("host/pack/src")));
    assert!(
        found.is_empty(),
        "print with crate::say!/crate::say_err! (report/terminal.rs), which escape control characters:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_print_check_catches_a_raw_print() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rs"),
        "fn f(n: &str) {\n    println!(\"{n}\");\n    crate::say!(\"{n}\");\n    ::std::eprintln!(\"{}\", n);\n}\n",
    )
    .unwrap();
    let found = raw_prints(dir.path());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].ends_with("a.rs:2: println!(\"\");"), "{found:#?}");
}

#[test]
fn the_model_depends_on_no_engine_and_no_runtime() {
    let manifest = std::fs::read_to_string(root().join("host/model/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
    for engine in [
        "stance-policy-engine",
        "stance-sigma-engine",
        "wasmtime",
        "rusqlite",
        "tokio",
    ] {
        assert!(
            !deps.contains(engine),
            "host/model must stay the bottom of the graph, but depends on {engine}"
        );
    }
}

/// Functions of product code longer than `max` lines, as `file:line name (n lines)`.
fn long_functions(dir: &Path, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(dir) {
        let shown = file.display().to_string();
        if shown.contains("/tests/") || shown.ends_with("/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines = product_lines(&text);
        let mut i = 0;
        while i < lines.len() {
            let (n, line) = &lines[i];
            let Some(name) = fn_name(line) else {
                i += 1;
                continue;
            };
            let end = body_end(&lines, i);
            if let Some(end) = end
                && end - i + 1 > max
            {
                out.push(format!("{shown}:{n} {name} ({} lines)", end - i + 1));
            }
            i += 1;
        }
    }
    out
}

/// The name of the function a line declares, if it does.
fn fn_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let t = t
        .strip_prefix("pub(crate) ")
        .or(t.strip_prefix("pub "))
        .unwrap_or(t);
    let t = t.strip_prefix("async ").unwrap_or(t);
    let t = t.strip_prefix("const ").unwrap_or(t);
    let rest = t.strip_prefix("fn ")?;
    Some(
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect(),
    )
}

/// The index of the line that closes the body opened at or after `start`
/// (`None` for a declaration without a body).
fn body_end(lines: &[(usize, String)], start: usize) -> Option<usize> {
    let mut depth = 0i64;
    let mut opened = false;
    for (j, (_, line)) in lines.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return Some(j);
        }
        if !opened && line.trim_end().ends_with(';') {
            return None;
        }
    }
    None
}

#[test]
fn functions_read_at_once() {
    let root = root();
    let mut found = Vec::new();
    for dir in [
        "host/src",
        "host/model/src",
        "host/builtin/src",
        "host/aws/src",
        "host/pack/src",
        "plugins/yaml-policy/engine/src",
        "plugins/yaml-policy/component/src",
        "plugins/sigma/engine/src",
        "plugins/sigma/component/src",
        "sdk/rust/src",
    ] {
        found.extend(long_functions(&root.join(dir), 80));
    }
    assert!(
        found.is_empty(),
        "split these into named steps of at most 80 lines:\n{}",
        found.join("\n")
    );
}

/// Documents the code's comments and the docs point at (`README.md`,
/// `docs/….md`): each must exist in the repository.
#[test]
fn documents_referred_to_exist() {
    let root = root();
    let mut missing = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["host", "plugins", "sdk/rust", "docs"] {
        files.extend(rust_files(&root.join(dir)));
    }
    for f in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        files.push(f.path());
    }
    files.push(root.join("README.md"));
    for file in files {
        if file.components().any(|c| c.as_os_str() == "target") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let is_rust = file.extension().is_some_and(|e| e == "rs");
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            // In code, only comments name documents (strings are data); in
            // Markdown, code blocks show commands, not references.
            if !is_rust && line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let line = match (is_rust, line.find("//")) {
                (false, _) if fenced => continue,
                (false, _) => line,
                (true, Some(i)) => &line[i..],
                (true, None) => continue,
            };
            for doc in md_names(line) {
                let exists = root.join(&doc).is_file()
                    || root.join("docs").join(&doc).is_file()
                    || file.parent().is_some_and(|d| d.join(&doc).is_file());
                if !exists {
                    missing.push(format!("{}:{}: {doc}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The `*.md` names a line mentions (paths of letters, digits, `-_./`).
fn md_names(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices(".md") {
        let after = line[i + 3..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let start = line[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || "-_./".contains(*c)))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let name = line[start..i + 3].trim_start_matches("./").to_string();
        let pattern = start > 0 && line[..start].ends_with('*');
        if name.len() > 3 && !pattern && !name.starts_with("http") && !name.contains("://") {
            out.push(name);
        }
    }
    out
}
