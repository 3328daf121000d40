//! Evaluation of a parsed expression against one asset, with the semantics
//! of `docs/policy-language.md`: missing paths are null, type mismatches are
//! errors, and (when tracing) the evidence of the deciding sub-expressions.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use crate::lexer::Span;
use crate::parser::{CmpOp, Expr, Func, Quantifier};

static NULL: Value = Value::Null;

/// At most this many evidence entries per finding.
pub const MAX_EVIDENCE: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub path: String,
    pub actual: Value,
    pub expected: String,
}

#[derive(Debug, Clone)]
pub struct EvalError {
    pub message: String,
    pub span: Span,
}

/// What an expression is evaluated against.
pub struct Scope<'a> {
    pub resource: &'a Value,
    pub asset: &'a Value,
    /// Seconds since the epoch at which the asset was collected (for `days_since`).
    pub collected_at: Option<i64>,
}

pub struct Evaluator<'a, 's> {
    scope: &'s Scope<'a>,
    src: &'s str,
    trace: bool,
    bindings: Vec<(&'s str, Cow<'a, Value>, Option<String>)>,
}

struct Out<'a> {
    val: Cow<'a, Value>,
    /// The concrete path the value was read from (only when tracing).
    path: Option<String>,
    /// For a function's result: the value at `path` it was computed from.
    raw: Option<Value>,
    ev: Vec<Evidence>,
}

impl<'a> Out<'a> {
    fn value(val: Cow<'a, Value>) -> Self {
        Out {
            val,
            path: None,
            raw: None,
            ev: Vec::new(),
        }
    }

    /// Evidence for this operand of `condition`: its path, the value found
    /// there, and (for a function) what the function made of it.
    fn evidence(self, condition: &str, operand: &str) -> Option<Evidence> {
        let path = self.path?;
        Some(match self.raw {
            Some(raw) => Evidence {
                path,
                actual: raw,
                expected: format!("{condition} (where {operand} = {})", self.val),
            },
            None => Evidence {
                path,
                actual: self.val.into_owned(),
                expected: condition.to_string(),
            },
        })
    }
}

type R<'a> = Result<Out<'a>, EvalError>;

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 {
        let mut cut = 57;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &text[..cut])
    } else {
        text
    }
}

fn err(message: impl Into<String>, span: Span) -> EvalError {
    EvalError {
        message: message.into(),
        span,
    }
}

impl<'a, 's> Evaluator<'a, 's> {
    pub fn new(scope: &'s Scope<'a>, src: &'s str, trace: bool) -> Self {
        Evaluator {
            scope,
            src,
            trace,
            bindings: Vec::new(),
        }
    }

    fn text(&self, span: Span) -> &str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// Evaluate a whole check: `Ok(true)` is pass, `Ok(false)` fail.
    pub fn check(&mut self, expr: &'s Expr) -> Result<(bool, Vec<Evidence>), EvalError> {
        let out = self.eval(expr)?;
        let (b, ev) = self.boolean(out, expr)?;
        Ok((b, ev))
    }

    /// The value of an expression (for message templates).
    pub fn value(&mut self, expr: &'s Expr) -> Result<Value, EvalError> {
        Ok(self.eval(expr)?.val.into_owned())
    }

    /// Require a boolean; a bare path used as a condition becomes its own evidence.
    fn boolean(&self, out: Out<'a>, expr: &Expr) -> Result<(bool, Vec<Evidence>), EvalError> {
        let Value::Bool(b) = *out.val else {
            let what = match &out.path {
                Some(p) => format!("`{p}` is {} {}", kind(&out.val), show(&out.val)),
                None => format!("`{}` yields {}", self.text(expr.span()), kind(&out.val)),
            };
            return Err(err(
                format!("{what}, but a condition needs a boolean"),
                expr.span(),
            ));
        };
        let mut ev = out.ev;
        if self.trace
            && ev.is_empty()
            && let Some(path) = out.path
        {
            ev.push(Evidence {
                path,
                actual: Value::Bool(b),
                expected: format!("{} == true", self.text(expr.span())),
            });
        }
        Ok((b, ev))
    }

    fn eval(&mut self, expr: &'s Expr) -> R<'a> {
        match expr {
            Expr::Literal(v, _) => Ok(Out::value(Cow::Owned(v.clone()))),
            Expr::List(items, _) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.eval(item)?.val.into_owned());
                }
                Ok(Out::value(Cow::Owned(Value::Array(values))))
            }
            Expr::Name(name, span) => self.name(name, *span),
            Expr::Field(base, name, span) => {
                let base = self.eval(base)?;
                let val = project(base.val, |v| match v {
                    Value::Object(map) => Ok(map.get(name.as_str()).unwrap_or(&NULL)),
                    Value::Null => Ok(&NULL),
                    other => Err(err(
                        format!(
                            "`{}` is {} {}, so it has no field `{name}`",
                            base.path.as_deref().unwrap_or("value"),
                            kind(other),
                            show(other)
                        ),
                        *span,
                    )),
                })?;
                let path = base.path.map(|p| format!("{p}.{name}"));
                Ok(Out {
                    val,
                    path,
                    raw: None,
                    ev: Vec::new(),
                })
            }
            Expr::Index(base, index, span) => {
                let base = self.eval(base)?;
                let index = self.eval(index)?.val.into_owned();
                let base_path = base.path.clone();
                let val = project(base.val, |v| match (v, &index) {
                    (Value::Null, _) => Ok(&NULL),
                    (Value::Array(items), Value::Number(n)) if n.as_i64().is_some() => {
                        let i = n.as_i64().unwrap_or(0);
                        let i = if i < 0 { items.len() as i64 + i } else { i };
                        Ok(usize::try_from(i)
                            .ok()
                            .and_then(|i| items.get(i))
                            .unwrap_or(&NULL))
                    }
                    (Value::Object(map), Value::String(k)) => Ok(map.get(k).unwrap_or(&NULL)),
                    (other, index) => Err(err(
                        format!(
                            "cannot index {} `{}` with {} {}",
                            kind(other),
                            base_path.as_deref().unwrap_or("value"),
                            kind(index),
                            show(index)
                        ),
                        *span,
                    )),
                })?;
                let path = base.path.map(|p| match &index {
                    Value::String(k) => format!("{p}[\"{k}\"]"),
                    other => format!("{p}[{other}]"),
                });
                Ok(Out {
                    val,
                    path,
                    raw: None,
                    ev: Vec::new(),
                })
            }
            Expr::Not(inner, _) => {
                let out = self.eval(inner)?;
                let (b, ev) = self.boolean(out, inner)?;
                Ok(bool_out(!b, ev))
            }
            Expr::And(l, r, _) => {
                let lo = self.eval(l)?;
                let (lb, lev) = self.boolean(lo, l)?;
                if !lb {
                    return Ok(bool_out(false, lev));
                }
                let ro = self.eval(r)?;
                let (rb, rev) = self.boolean(ro, r)?;
                if !rb {
                    return Ok(bool_out(false, rev));
                }
                Ok(bool_out(true, merge(lev, rev)))
            }
            Expr::Or(l, r, _) => {
                let lo = self.eval(l)?;
                let (lb, lev) = self.boolean(lo, l)?;
                if lb {
                    return Ok(bool_out(true, lev));
                }
                let ro = self.eval(r)?;
                let (rb, rev) = self.boolean(ro, r)?;
                if rb {
                    return Ok(bool_out(true, rev));
                }
                Ok(bool_out(false, merge(lev, rev)))
            }
            Expr::Exists(inner, positive, span) => {
                let mut out = self.eval(inner)?;
                let present = !out.val.is_null();
                let mut ev = std::mem::take(&mut out.ev);
                if self.trace {
                    ev.extend(out.evidence(self.text(*span), self.text(inner.span())));
                }
                Ok(bool_out(present == *positive, ev))
            }
            Expr::Compare {
                op,
                lhs,
                rhs,
                regex,
                span,
            } => {
                let mut l = self.eval(lhs)?;
                let mut r = self.eval(rhs)?;
                let result = compare(*op, &l, &r, regex.as_ref(), *span)?;
                let mut ev = merge(std::mem::take(&mut l.ev), std::mem::take(&mut r.ev));
                if self.trace {
                    let condition = self.text(*span);
                    ev.extend(l.evidence(condition, self.text(lhs.span())));
                    ev.extend(r.evidence(condition, self.text(rhs.span())));
                }
                Ok(bool_out(result, ev))
            }
            Expr::Call(func, arg, span) => {
                let a = self.eval(arg)?;
                let val = call(*func, &a, self.scope.collected_at, *span)?;
                let raw = a.path.is_some().then(|| a.val.into_owned());
                Ok(Out {
                    val: Cow::Owned(val),
                    path: a.path,
                    raw,
                    ev: a.ev,
                })
            }
            Expr::Quant {
                kind: q,
                list,
                var,
                pred,
                span,
            } => self.quantify(*q, list, var, pred, *span),
        }
    }

    fn name(&self, name: &str, span: Span) -> R<'a> {
        let (val, path) = match name {
            "resource" => (Cow::Borrowed(self.scope.resource), "resource".to_string()),
            "asset" => (Cow::Borrowed(self.scope.asset), "asset".to_string()),
            _ => {
                let Some((_, val, path)) = self.bindings.iter().rev().find(|(n, ..)| *n == name)
                else {
                    return Err(err(format!("`{name}` is not bound here"), span));
                };
                (
                    val.clone(),
                    path.clone().unwrap_or_else(|| name.to_string()),
                )
            }
        };
        Ok(Out {
            val,
            path: self.trace.then_some(path),
            raw: None,
            ev: Vec::new(),
        })
    }

    fn quantify(
        &mut self,
        q: Quantifier,
        list: &'s Expr,
        var: &'s str,
        pred: &'s Expr,
        span: Span,
    ) -> R<'a> {
        let list_out = self.eval(list)?;
        let fname = if q == Quantifier::Any { "any" } else { "all" };
        let items: Vec<Cow<'a, Value>> = match list_out.val {
            Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
            Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
            Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null) => Vec::new(),
            other => {
                return Err(err(
                    format!(
                        "`{fname}` needs a list, but `{}` is {} {}",
                        list_out.path.as_deref().unwrap_or(self.text(list.span())),
                        kind(&other),
                        show(&other)
                    ),
                    span,
                ));
            }
        };
        let mut collected = Vec::new();
        if items.is_empty()
            && self.trace
            && let Some(path) = &list_out.path
        {
            collected.push(Evidence {
                path: path.clone(),
                actual: Value::Array(Vec::new()),
                expected: self.text(span).to_string(),
            });
        }
        let decisive = q == Quantifier::Any;
        for (i, item) in items.into_iter().enumerate() {
            let item_path = list_out.path.as_ref().map(|p| format!("{p}[{i}]"));
            self.bindings.push((var, item, item_path));
            let result = self.eval(pred).and_then(|out| self.boolean(out, pred));
            self.bindings.pop();
            let (b, ev) = result?;
            if b == decisive {
                return Ok(bool_out(decisive, ev));
            }
            if collected.len() < MAX_EVIDENCE {
                collected.extend(ev);
            }
        }
        collected.truncate(MAX_EVIDENCE);
        Ok(bool_out(!decisive, collected))
    }
}

fn bool_out<'a>(b: bool, ev: Vec<Evidence>) -> Out<'a> {
    Out {
        val: Cow::Owned(Value::Bool(b)),
        path: None,
        raw: None,
        ev,
    }
}

fn merge(mut a: Vec<Evidence>, b: Vec<Evidence>) -> Vec<Evidence> {
    if a.is_empty() {
        return b;
    }
    a.extend(b);
    a
}

/// Apply `f` to a borrowed or owned value without cloning borrowed data.
fn project<'a>(
    base: Cow<'a, Value>,
    f: impl Fn(&Value) -> Result<&Value, EvalError>,
) -> Result<Cow<'a, Value>, EvalError> {
    match base {
        Cow::Borrowed(b) => f(b).map(Cow::Borrowed),
        Cow::Owned(o) => f(&o).map(|v| Cow::Owned(v.clone())),
    }
}

fn describe(out: &Out<'_>) -> String {
    match (&out.path, &out.raw) {
        (Some(p), Some(_)) => format!("{} {} computed from `{p}`", kind(&out.val), show(&out.val)),
        (Some(p), None) => format!("`{p}` ({} {})", kind(&out.val), show(&out.val)),
        (None, _) => format!("{} {}", kind(&out.val), show(&out.val)),
    }
}

fn compare(
    op: CmpOp,
    l: &Out<'_>,
    r: &Out<'_>,
    regex: Option<&regex::Regex>,
    span: Span,
) -> Result<bool, EvalError> {
    let (a, b) = (&*l.val, &*r.val);
    let mismatch = |what: &str| err(format!("{what}: {} and {}", describe(l), describe(r)), span);
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            if !a.is_null() && !b.is_null() && kind(a) != kind(b) {
                return Err(mismatch("cannot compare values of different kinds"));
            }
            Ok(deep_eq(a, b) == (op == CmpOp::Eq))
        }
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = match (a, b) {
                (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            }
            .ok_or_else(|| mismatch("ordering needs two numbers or two strings"))?;
            Ok(match op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
        CmpOp::In | CmpOp::NotIn => {
            let found = match b {
                Value::Array(items) => items.iter().any(|x| deep_eq(a, x)),
                Value::Null => false,
                _ => return Err(mismatch("`in` needs a list on the right")),
            };
            Ok(found == (op == CmpOp::In))
        }
        CmpOp::Contains => match (a, b) {
            (Value::Null, _) => Ok(false),
            (Value::Array(items), x) => Ok(items.iter().any(|i| deep_eq(i, x))),
            (Value::String(s), Value::String(t)) => Ok(s.contains(t.as_str())),
            _ => Err(mismatch("`contains` needs a list, or two strings")),
        },
        CmpOp::StartsWith | CmpOp::EndsWith => match (a, b) {
            (Value::Null, _) => Ok(false),
            (Value::String(s), Value::String(t)) => Ok(if op == CmpOp::StartsWith {
                s.starts_with(t.as_str())
            } else {
                s.ends_with(t.as_str())
            }),
            _ => Err(mismatch("needs two strings")),
        },
        CmpOp::Matches => match (a, b) {
            (Value::Null, _) => Ok(false),
            (Value::String(s), Value::String(pattern)) => match regex {
                Some(re) => Ok(re.is_match(s)),
                None => regex::Regex::new(pattern)
                    .map(|re| re.is_match(s))
                    .map_err(|e| err(format!("invalid regular expression {pattern:?}: {e}"), span)),
            },
            _ => Err(mismatch("`matches` needs a string and a pattern string")),
        },
    }
}

fn num_cmp(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

/// Deep equality where numbers compare by value (`1 == 1.0`).
pub fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        _ => a == b,
    }
}

fn call(
    func: Func,
    a: &Out<'_>,
    collected_at: Option<i64>,
    span: Span,
) -> Result<Value, EvalError> {
    let v = &*a.val;
    let wrong = |needs: &str| err(format!("{needs}, not {}", describe(a)), span);
    match func {
        Func::Len => match v {
            Value::Null => Ok(Value::from(0)),
            Value::Array(x) => Ok(Value::from(x.len())),
            Value::String(s) => Ok(Value::from(s.chars().count())),
            Value::Object(m) => Ok(Value::from(m.len())),
            _ => Err(wrong("`len` needs a list, string or object")),
        },
        Func::Lower | Func::Upper => match v {
            Value::Null => Ok(Value::Null),
            Value::String(s) => Ok(Value::String(if func == Func::Lower {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            })),
            _ => Err(wrong("`lower`/`upper` need a string")),
        },
        Func::Keys => match v {
            Value::Null => Ok(Value::Array(Vec::new())),
            Value::Object(m) => Ok(Value::Array(m.keys().cloned().map(Value::String).collect())),
            _ => Err(wrong("`keys` needs an object")),
        },
        Func::DaysSince => match v {
            Value::Null => Ok(Value::Null),
            Value::String(s) => {
                let then = chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|_| wrong("`days_since` needs an RFC 3339 time"))?;
                let now = collected_at.ok_or_else(|| {
                    err(
                        "`days_since` needs the asset's collected_at time, which is missing",
                        span,
                    )
                })?;
                Ok(Value::from((now - then.timestamp()).div_euclid(86_400)))
            }
            _ => Err(wrong("`days_since` needs an RFC 3339 time string")),
        },
    }
}
