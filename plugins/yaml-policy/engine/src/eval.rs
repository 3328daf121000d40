//! Evaluation of a parsed expression against one asset, with the semantics
//! of `docs/policy-language.md`: missing paths are null, type mismatches are
//! errors, and (when tracing) the evidence of the deciding sub-expressions.
//!
//! Evaluation is bounded: it recurses once per level of the expression
//! (at most `parser::MAX_DEPTH`; `and`/`or` chains are looped over), and it
//! stops with an error after `MAX_EVAL_STEPS` steps, so nested quantifiers
//! over large lists cost one policy an `error` outcome, never the batch.
//!
//! It never parses, and reads nothing beyond the `Scope` it is given.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use crate::lexer::Span;
use crate::parser::{CmpOp, Expr, Func, Quantifier};

static NULL: Value = Value::Null;

/// At most this many evidence entries per finding.
pub const MAX_EVIDENCE: usize = 20;

/// Evaluating one policy on one asset stops with an error after this many
/// steps: one per sub-expression evaluated, and for every value it copies
/// or compares, one per value inside it and per 64 bytes of text (see
/// `weight`). Time and the memory of copies are both bounded by it. The
/// built-in policies take tens to hundreds of steps on an asset, a few
/// thousand on a large IAM document. A policy that exhausts the budget on
/// every asset costs about 5 ms an asset natively and 10 ms inside the
/// plugin: a 256-asset batch still ends far inside the plugin's deadline,
/// so the other policies of the batch are evaluated.
pub const MAX_EVAL_STEPS: u64 = 100_000;

/// What copying, comparing or scanning `v` costs in steps: one per value in
/// it (itself included) and one per 64 bytes of its text and keys. Counted
/// without recursion, and only until the count passes `cap`.
fn weight(v: &Value, cap: u64) -> u64 {
    let text = |s: &str| s.len() as u64 / 64;
    match v {
        Value::Array(_) | Value::Object(_) => {}
        Value::String(s) => return 1 + text(s),
        _ => return 1,
    }
    let mut n = 0u64;
    let mut stack = vec![v];
    while let Some(x) = stack.pop() {
        n += 1;
        match x {
            Value::String(s) => n += text(s),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, v) in map {
                    n += text(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
        if n > cap {
            break;
        }
    }
    n
}

/// Why a check failed: a value the deciding sub-expression read, and what it needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The concrete path read (`resource.ingress[2].cidr_ipv4`).
    pub path: String,
    /// The value found there (null when missing).
    pub actual: Value,
    /// The condition the value was held against, as written in the policy.
    pub expected: String,
}

/// A run-time error of an expression: a type mismatch or an unusable value.
#[derive(Debug, Clone)]
pub struct EvalError {
    /// What went wrong, naming the paths and values involved.
    pub message: String,
    /// The sub-expression at fault.
    pub span: Span,
    /// The step budget ran out (tracing again would only spend it again).
    pub exhausted: bool,
}

/// What an expression is evaluated against.
pub struct Scope<'a> {
    /// The asset's body: `resource`.
    pub resource: &'a Value,
    /// The asset's record (id, type, provider, account, region, name, tags): `asset`.
    pub asset: &'a Value,
    /// Seconds since the epoch at which the asset was collected (for `days_since`).
    pub collected_at: Option<i64>,
}

/// Evaluates expressions of one policy against one scope.
pub struct Evaluator<'a, 's> {
    scope: &'s Scope<'a>,
    /// The expression's text, to quote sub-expressions in evidence and errors.
    src: &'s str,
    /// Whether to collect evidence and paths (only needed when a check fails).
    trace: bool,
    /// Variables bound by enclosing `any`/`all`: name, value, path; innermost last.
    bindings: Vec<(&'s str, Cow<'a, Value>, Option<String>)>,
    /// Steps left before evaluation stops (`MAX_EVAL_STEPS` at the start).
    budget: u64,
}

/// A sub-expression's value, and where it came from.
struct Out<'a> {
    val: Cow<'a, Value>,
    /// The concrete path the value was read from (only when tracing).
    path: Option<String>,
    /// For a function's result: the value at `path` it was computed from.
    raw: Option<Value>,
    /// Evidence gathered by the sub-expressions.
    ev: Vec<Evidence>,
}

impl<'a> Out<'a> {
    /// A value with no path or evidence (a literal, a computed list).
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

/// What evaluating a sub-expression gives.
type R<'a> = Result<Out<'a>, EvalError>;

/// The language's name of a value's kind, for messages.
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

/// A value as JSON text, cut to 60 characters.
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

/// An `EvalError` at `span`.
fn err(message: impl Into<String>, span: Span) -> EvalError {
    EvalError {
        message: message.into(),
        span,
        exhausted: false,
    }
}

impl<'a, 's> Evaluator<'a, 's> {
    /// An evaluator over `scope` for the expression text `src`; with `trace`,
    /// results carry evidence.
    pub fn new(scope: &'s Scope<'a>, src: &'s str, trace: bool) -> Self {
        Evaluator {
            scope,
            src,
            trace,
            bindings: Vec::new(),
            budget: MAX_EVAL_STEPS,
        }
    }

    /// Spend the steps that copying or comparing `v` costs (`weight`).
    fn charge(&mut self, v: &Value, span: Span) -> Result<(), EvalError> {
        let w = weight(v, self.budget);
        self.spend(w, span)
    }

    /// `out`'s value, owned: a borrowed value is copied, and charged for.
    fn owned(&mut self, out: Out<'a>, span: Span) -> Result<Value, EvalError> {
        if let Cow::Borrowed(v) = &out.val {
            self.charge(v, span)?;
        }
        Ok(out.val.into_owned())
    }

    /// Spend `n` steps of the budget; an error once it is gone.
    fn spend(&mut self, n: u64, span: Span) -> Result<(), EvalError> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => {
                self.budget = 0;
                Err(EvalError {
                    message: format!(
                        "evaluation stopped after {MAX_EVAL_STEPS} steps (nested `any`/`all` over large lists?); simplify the expression"
                    ),
                    span,
                    exhausted: true,
                })
            }
        }
    }

    /// The source text of a sub-expression.
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
        let out = self.eval(expr)?;
        self.owned(out, expr.span())
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

    /// The value of `expr`: one step per kind of expression (and a literal's
    /// copy charged by its weight).
    fn eval(&mut self, expr: &'s Expr) -> R<'a> {
        self.spend(1, expr.span())?;
        match expr {
            Expr::Literal(v, span) => {
                self.charge(v, *span)?;
                Ok(Out::value(Cow::Owned(v.clone())))
            }
            Expr::List(items, _) => self.list(items),
            Expr::Name(name, span) => self.name(name, *span),
            Expr::Field(base, name, span) => self.field(base, name, *span),
            Expr::Index(base, index, span) => self.index(base, index, *span),
            Expr::Not(inner, _) => self.negate(inner),
            Expr::And(items, _) => self.junction(items, false),
            Expr::Or(items, _) => self.junction(items, true),
            Expr::Exists(inner, positive, span) => self.exists(inner, *positive, *span),
            Expr::Compare {
                op,
                lhs,
                rhs,
                regex,
                span,
            } => self.comparison(*op, lhs, rhs, regex.as_ref(), *span),
            Expr::Call(func, arg, span) => self.call(*func, arg, *span),
            Expr::Quant {
                kind: q,
                list,
                var,
                pred,
                span,
            } => self.quantify(*q, list, var, pred, *span),
        }
    }

    /// `[a, b, ...]`: a list of the items' values.
    fn list(&mut self, items: &'s [Expr]) -> R<'a> {
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let out = self.eval(item)?;
            values.push(self.owned(out, item.span())?);
        }
        Ok(Out::value(Cow::Owned(Value::Array(values))))
    }

    /// `base.name`: null when `base` is null or lacks the field; an error
    /// when `base` is neither an object nor null.
    fn field(&mut self, base: &'s Expr, name: &str, span: Span) -> R<'a> {
        let base = self.eval(base)?;
        let val = project(base.val, |v| match v {
            Value::Object(map) => Ok(map.get(name).unwrap_or(&NULL)),
            Value::Null => Ok(&NULL),
            other => Err(err(
                format!(
                    "`{}` is {} {}, so it has no field `{name}`",
                    base.path.as_deref().unwrap_or("value"),
                    kind(other),
                    show(other)
                ),
                span,
            )),
        })?;
        Ok(Out {
            val,
            path: base.path.map(|p| format!("{p}.{name}")),
            raw: None,
            ev: Vec::new(),
        })
    }

    /// `base[index]`: a list by (possibly negative) integer, an object by
    /// key; null when out of range, missing, or `base` is null.
    fn index(&mut self, base: &'s Expr, index: &'s Expr, span: Span) -> R<'a> {
        let base = self.eval(base)?;
        let index = self.eval(index)?;
        let index = self.owned(index, span)?;
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
                span,
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

    /// `not inner`, keeping the inner evidence.
    fn negate(&mut self, inner: &'s Expr) -> R<'a> {
        let out = self.eval(inner)?;
        let (b, ev) = self.boolean(out, inner)?;
        Ok(bool_out(!b, ev))
    }

    /// `a and b and ...` (`decisive` false) or `a or b or ...` (`decisive`
    /// true), short-circuiting: the first operand that equals `decisive`
    /// decides, with its evidence; otherwise every operand's evidence is kept.
    fn junction(&mut self, items: &'s [Expr], decisive: bool) -> R<'a> {
        let mut all = Vec::new();
        for item in items {
            let out = self.eval(item)?;
            let (b, ev) = self.boolean(out, item)?;
            if b == decisive {
                return Ok(bool_out(decisive, ev));
            }
            all = merge(all, ev);
        }
        Ok(bool_out(!decisive, all))
    }

    /// `inner exists` (`positive`) or `inner not_exists`: whether it is non-null.
    fn exists(&mut self, inner: &'s Expr, positive: bool, span: Span) -> R<'a> {
        let mut out = self.eval(inner)?;
        let present = !out.val.is_null();
        let mut ev = std::mem::take(&mut out.ev);
        if self.trace {
            ev.extend(out.evidence(self.text(span), self.text(inner.span())));
        }
        Ok(bool_out(present == positive, ev))
    }

    /// `lhs op rhs`, with both operands as evidence.
    fn comparison(
        &mut self,
        op: CmpOp,
        lhs: &'s Expr,
        rhs: &'s Expr,
        regex: Option<&regex::Regex>,
        span: Span,
    ) -> R<'a> {
        let mut l = self.eval(lhs)?;
        let mut r = self.eval(rhs)?;
        let cost = compare_cost(op, &l.val, &r.val, self.budget);
        self.spend(cost, span)?;
        if self.trace {
            // Evidence copies the operands read from paths.
            for side in [&l, &r] {
                if side.path.is_some() {
                    self.charge(&side.val, span)?;
                }
            }
        }
        let result = compare(op, &l, &r, regex, span)?;
        let mut ev = merge(std::mem::take(&mut l.ev), std::mem::take(&mut r.ev));
        if self.trace {
            let condition = self.text(span);
            ev.extend(l.evidence(condition, self.text(lhs.span())));
            ev.extend(r.evidence(condition, self.text(rhs.span())));
        }
        Ok(bool_out(result, ev))
    }

    /// `func(arg)`: the result remembers the path and value it was computed from.
    fn call(&mut self, func: Func, arg: &'s Expr, span: Span) -> R<'a> {
        let a = self.eval(arg)?;
        let cost = match (func, &*a.val) {
            (Func::Len | Func::Lower | Func::Upper, Value::String(s)) => s.len() as u64 / 64,
            (Func::Keys, Value::Object(map)) => map.len() as u64,
            _ => 0,
        };
        self.spend(cost, span)?;
        if a.path.is_some() {
            // Tracing: `raw` below copies the argument.
            self.charge(&a.val, span)?;
        }
        let val = apply(func, &a, self.scope.collected_at, span)?;
        let raw = a.path.is_some().then(|| a.val.into_owned());
        Ok(Out {
            val: Cow::Owned(val),
            path: a.path,
            raw,
            ev: a.ev,
        })
    }

    /// `resource`, `asset`, or a variable bound by an enclosing quantifier.
    fn name(&mut self, name: &str, span: Span) -> R<'a> {
        let (val, path) = match name {
            "resource" => (Cow::Borrowed(self.scope.resource), "resource".to_string()),
            "asset" => (Cow::Borrowed(self.scope.asset), "asset".to_string()),
            _ => {
                let Some(i) = self.bindings.iter().rposition(|(n, ..)| *n == name) else {
                    return Err(err(format!("`{name}` is not bound here"), span));
                };
                if let Cow::Owned(v) = &self.bindings[i].1 {
                    // An element of a computed list: each use is a copy.
                    let w = weight(v, self.budget);
                    self.spend(w, span)?;
                }
                let (_, val, path) = &self.bindings[i];
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

    /// `any(list, var => pred)` / `all(...)`: stops at the first element that
    /// decides; a null list is empty. Evidence of the elements that did not
    /// decide is kept, up to `MAX_EVIDENCE`.
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

/// A boolean result with its evidence.
fn bool_out<'a>(b: bool, ev: Vec<Evidence>) -> Out<'a> {
    Out {
        val: Cow::Owned(Value::Bool(b)),
        path: None,
        raw: None,
        ev,
    }
}

/// Both sides' evidence, in order.
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

/// An operand for an error message: its kind, value and where it came from.
fn describe(out: &Out<'_>) -> String {
    match (&out.path, &out.raw) {
        (Some(p), Some(_)) => format!("{} {} computed from `{p}`", kind(&out.val), show(&out.val)),
        (Some(p), None) => format!("`{p}` ({} {})", kind(&out.val), show(&out.val)),
        (None, _) => format!("{} {}", kind(&out.val), show(&out.val)),
    }
}

/// What `compare` costs in steps: the part of the operands it reads.
fn compare_cost(op: CmpOp, a: &Value, b: &Value, cap: u64) -> u64 {
    let text = |v: &Value| match v {
        Value::String(s) => s.len() as u64 / 64,
        _ => 0,
    };
    match op {
        CmpOp::Eq | CmpOp::Ne if a.is_null() || b.is_null() || kind(a) != kind(b) => 0,
        // deep_eq stops at the smaller side.
        CmpOp::Eq | CmpOp::Ne => {
            let wa = weight(a, cap);
            wa.min(weight(b, wa))
        }
        CmpOp::In | CmpOp::NotIn => weight(b, cap),
        CmpOp::Contains if a.is_array() => weight(a, cap),
        CmpOp::Contains | CmpOp::Matches => text(a),
        CmpOp::StartsWith | CmpOp::EndsWith => text(b),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => text(a).min(text(b)),
    }
}

/// `l op r`: equality across kinds only with null; ordering of two numbers
/// or two strings; membership, containment, affixes and regular expressions.
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

/// Numbers compared by value, exactly for integers.
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

/// The value of a function applied to its argument's value.
fn apply(
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
