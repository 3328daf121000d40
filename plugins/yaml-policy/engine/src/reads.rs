//! Static analysis of an expression: the body paths it may read, as
//! `encryption.enabled` or `ingress[].cidr_ipv4` (relative to the asset
//! body; `[]` stands for any list element). Hosts use them to mark results
//! `error` when a field could not be collected, and to check that collectors
//! emit every field a policy reads.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::parser::Expr;

/// Paths under `resource` that `expr` reads, sorted and without duplicates.
pub fn body_paths(expr: &Expr) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut scopes: Vec<(String, Option<String>)> = Vec::new();
    walk(expr, &mut scopes, &mut out);
    // Keep only the longest paths: `a.b` (or `a[]`) makes `a` redundant.
    // The paths that extend `p` sort right after `p.` and `p[`, so one
    // ordered lookup each decides (no quadratic scan of a long `or` chain).
    let extended = |p: &String| {
        [".", "["].iter().any(|sep| {
            let prefix = format!("{p}{sep}");
            out.range(prefix.clone()..)
                .next()
                .is_some_and(|q| q.starts_with(&prefix))
        })
    };
    out.iter().filter(|p| !extended(p)).cloned().collect()
}

/// The body path an expression denotes, if it is a path rooted in
/// `resource` or in a bound variable whose list is such a path.
fn path_of(expr: &Expr, scopes: &[(String, Option<String>)]) -> Option<String> {
    match expr {
        Expr::Name(name, _) if name == "resource" => Some(String::new()),
        Expr::Name(name, _) => scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, p)| p.clone()),
        Expr::Field(base, field, _) => {
            let base = path_of(base, scopes)?;
            Some(if base.is_empty() {
                field.clone()
            } else {
                format!("{base}.{field}")
            })
        }
        Expr::Index(base, index, _) => {
            let base = path_of(base, scopes)?;
            match index.as_ref() {
                Expr::Literal(Value::String(key), _) => Some(format!("{base}.{key}")),
                _ => Some(format!("{base}[]")),
            }
        }
        _ => None,
    }
}

fn walk(expr: &Expr, scopes: &mut Vec<(String, Option<String>)>, out: &mut BTreeSet<String>) {
    if let Some(p) = path_of(expr, scopes) {
        if !p.is_empty() {
            out.insert(p);
        }
        // Index expressions inside a path may read other paths.
        if let Expr::Index(_, index, _) = expr {
            walk(index, scopes, out);
        }
        return;
    }
    match expr {
        Expr::Literal(..) | Expr::Name(..) => {}
        Expr::List(items, _) => items.iter().for_each(|e| walk(e, scopes, out)),
        Expr::Field(base, _, _) => walk(base, scopes, out),
        Expr::Index(base, index, _) => {
            walk(base, scopes, out);
            walk(index, scopes, out);
        }
        Expr::Not(e, _) | Expr::Exists(e, _, _) | Expr::Call(_, e, _) => walk(e, scopes, out),
        Expr::And(items, _) | Expr::Or(items, _) => {
            items.iter().for_each(|e| walk(e, scopes, out));
        }
        Expr::Compare { lhs, rhs, .. } => {
            walk(lhs, scopes, out);
            walk(rhs, scopes, out);
        }
        Expr::Quant {
            list, var, pred, ..
        } => {
            walk(list, scopes, out);
            let element = path_of(list, scopes).map(|p| format!("{p}[]"));
            scopes.push((var.clone(), element));
            walk(pred, scopes, out);
            scopes.pop();
        }
    }
}
