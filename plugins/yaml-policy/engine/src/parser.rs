//! The expression grammar: tokens to an AST whose nodes keep their spans,
//! nesting at most `MAX_DEPTH` levels. It never evaluates anything.
//!
//! ```text
//! expr    := or
//! or      := and ('or' and)*
//! and     := not ('and' not)*
//! not     := 'not' not | test
//! test    := postfix (cmp-op postfix | 'exists' | 'not_exists')?
//! postfix := primary ('.' ident | '[' expr ']')*
//! primary := literal | '[' (expr (',' expr)*)? ']' | '(' expr ')'
//!          | ident '(' args ')' | ident
//! ```
//!
//! `and` and `or` chains are one n-ary node each, so a list of a thousand
//! alternatives is one level, not a thousand. Everything else that holds an
//! expression is a level: every operator, function call, quantifier, list,
//! index, field access and pair of parentheses; a name or literal is the
//! last level. The parser refuses an expression deeper than `MAX_DEPTH`
//! while it reads it (its own recursion follows the same count), so
//! evaluating, analysing and dropping a parsed expression recurse at most
//! `MAX_DEPTH` levels too, natively and in the wasm plugin alike.

use regex::Regex;
use serde_json::Value;

use crate::error::SyntaxError;
use crate::lexer::{Span, Tok, Token, tokenize};

/// The deepest an expression may nest, in levels as the module doc counts
/// them. The same limit holds wherever the crate runs (`stance policies
/// validate`, the host, the wasm plugin), and the plugin's stack evaluates
/// an expression this deep with ample margin (tests/e2e/hostile/parsers.rs
/// scans one inside the plugin). Realistic policies nest well under 20.
pub const MAX_DEPTH: usize = 64;

/// A comparison operator (`==`, `in`, `contains`, `matches`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
}

/// A built-in function of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Len,
    Lower,
    Upper,
    DaysSince,
    Keys,
}

/// `any(...)` or `all(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
}

/// A parsed expression; every node keeps its span in the source text.
#[derive(Debug)]
pub enum Expr {
    Literal(Value, Span),
    List(Vec<Expr>, Span),
    /// A root name: `resource`, `asset`, `item` or a lambda parameter.
    Name(String, Span),
    Field(Box<Expr>, String, Span),
    Index(Box<Expr>, Box<Expr>, Span),
    Not(Box<Expr>, Span),
    /// Two or more operands, all of which must hold.
    And(Vec<Expr>, Span),
    /// Two or more operands, one of which must hold.
    Or(Vec<Expr>, Span),
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        /// Precompiled when the pattern of `matches` is a literal.
        regex: Option<Regex>,
        span: Span,
    },
    Exists(Box<Expr>, bool, Span),
    Call(Func, Box<Expr>, Span),
    Quant {
        kind: Quantifier,
        list: Box<Expr>,
        var: String,
        pred: Box<Expr>,
        span: Span,
    },
}

impl Expr {
    /// Where the expression sits in the source text.
    pub fn span(&self) -> Span {
        match self {
            Expr::Literal(_, s)
            | Expr::List(_, s)
            | Expr::Name(_, s)
            | Expr::Field(_, _, s)
            | Expr::Index(_, _, s)
            | Expr::Not(_, s)
            | Expr::And(_, s)
            | Expr::Or(_, s)
            | Expr::Exists(_, _, s)
            | Expr::Call(_, _, s) => *s,
            Expr::Compare { span, .. } | Expr::Quant { span, .. } => *span,
        }
    }
}

/// Names an expression may start a path with, besides lambda parameters.
const ROOTS: &[&str] = &["resource", "asset"];

/// An expression and how many levels it nests (a name or literal is one).
struct Node {
    expr: Expr,
    depth: usize,
}

impl Node {
    /// A name or literal: one level.
    fn leaf(expr: Expr) -> Node {
        Node { expr, depth: 1 }
    }
}

/// What each grammar rule returns.
type Parsed = Result<Node, SyntaxError>;

/// The error for an expression nested past `MAX_DEPTH`, at byte `offset`.
fn too_deep(offset: usize) -> SyntaxError {
    SyntaxError::new(
        format!(
            "the expression nests deeper than {MAX_DEPTH} levels; split it into simpler conditions or separate policies"
        ),
        offset,
    )
}

/// Parses a whole expression; anything left over is an error.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        scopes: Vec::new(),
        nesting: 0,
    };
    let node = parser.expr()?;
    let next = parser.peek();
    if next.tok != Tok::End {
        return Err(SyntaxError::new(
            format!(
                "unexpected {} after a complete expression",
                next.tok.describe()
            ),
            next.span.start,
        ));
    }
    Ok(node.expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Names bound by enclosing `any`/`all`, innermost last.
    scopes: Vec<String>,
    /// Constructs open around the current token (parentheses, `not`, lists,
    /// indexes, calls): the levels the expression has at least. Bounds the
    /// parser's own recursion before any node is built.
    nesting: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s == kw)
    }

    fn expect(&mut self, tok: Tok, context: &str) -> Result<Span, SyntaxError> {
        let t = self.peek().clone();
        if t.tok == tok {
            self.bump();
            Ok(t.span)
        } else {
            Err(SyntaxError::new(
                format!(
                    "expected {} {context}, found {}",
                    tok.describe(),
                    t.tok.describe()
                ),
                t.span.start,
            ))
        }
    }

    /// A node over children `depth` levels deep, refused past `MAX_DEPTH`
    /// (`at` is the offset the error points to).
    fn node(expr: Expr, depth: usize, at: usize) -> Parsed {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep(at));
        }
        Ok(Node { expr, depth })
    }

    fn expr(&mut self) -> Parsed {
        self.or()
    }

    fn or(&mut self) -> Parsed {
        let first = self.and()?;
        if !self.is_keyword("or") {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut items = vec![first.expr];
        while self.is_keyword("or") {
            self.bump();
            let rhs = self.operand(Self::and, "`or`")?;
            depth = depth.max(rhs.depth);
            items.push(rhs.expr);
        }
        Self::junction(items, depth, Expr::Or)
    }

    fn and(&mut self) -> Parsed {
        let first = self.not()?;
        if !self.is_keyword("and") {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut items = vec![first.expr];
        while self.is_keyword("and") {
            self.bump();
            let rhs = self.operand(Self::not, "`and`")?;
            depth = depth.max(rhs.depth);
            items.push(rhs.expr);
        }
        Self::junction(items, depth, Expr::And)
    }

    /// An n-ary `and`/`or` node over `items` (two or more).
    fn junction(items: Vec<Expr>, depth: usize, make: fn(Vec<Expr>, Span) -> Expr) -> Parsed {
        let span = match (items.first(), items.last()) {
            (Some(a), Some(b)) => a.span().join(b.span()),
            _ => Span { start: 0, end: 0 },
        };
        Self::node(make(items, span), depth, span.start)
    }

    fn not(&mut self) -> Parsed {
        if self.is_keyword("not") {
            let start = self.bump().span;
            let inner = self.nested(Self::not, "`not`", start.start)?;
            let span = start.join(inner.expr.span());
            return Self::node(
                Expr::Not(Box::new(inner.expr), span),
                inner.depth,
                start.start,
            );
        }
        self.test()
    }

    /// Parse the operand that must follow an operator, with an error naming
    /// the operator when it is missing.
    fn operand(&mut self, rule: fn(&mut Self) -> Parsed, after: &str) -> Parsed {
        let t = self.peek().clone();
        if t.tok == Tok::End || matches!(t.tok, Tok::RParen | Tok::RBracket | Tok::Comma) {
            return Err(SyntaxError::new(
                format!(
                    "expected an operand after {after}, found {}",
                    t.tok.describe()
                ),
                t.span.start,
            ));
        }
        rule(self)
    }

    /// An operand one construct deeper (inside parentheses, a list, an
    /// index, a call or after `not`), refused before recursing past
    /// `MAX_DEPTH`; `at` is the offset of the construct's opening token.
    fn nested(&mut self, rule: fn(&mut Self) -> Parsed, after: &str, at: usize) -> Parsed {
        // The operand is at least one level, inside `nesting + 1` constructs.
        if self.nesting + 2 > MAX_DEPTH {
            return Err(too_deep(at));
        }
        self.nesting += 1;
        let out = self.operand(rule, after);
        self.nesting -= 1;
        out
    }

    fn test(&mut self) -> Parsed {
        let lhs = self.postfix()?;
        let t = self.peek().clone();
        let op = match &t.tok {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Ident(s) => match s.as_str() {
                "in" => CmpOp::In,
                "not_in" => CmpOp::NotIn,
                "contains" => CmpOp::Contains,
                "starts_with" => CmpOp::StartsWith,
                "ends_with" => CmpOp::EndsWith,
                "matches" => CmpOp::Matches,
                "exists" | "not_exists" => {
                    self.bump();
                    let span = lhs.expr.span().join(t.span);
                    let exists = Expr::Exists(Box::new(lhs.expr), s == "exists", span);
                    return Self::node(exists, lhs.depth, t.span.start);
                }
                _ => return Ok(lhs),
            },
            _ => return Ok(lhs),
        };
        self.bump();
        let rhs = self.operand(Self::postfix, &t.tok.describe())?;
        let regex = match (&op, &rhs.expr) {
            (CmpOp::Matches, Expr::Literal(Value::String(pattern), span)) => {
                Some(Regex::new(pattern).map_err(|e| {
                    SyntaxError::new(format!("invalid regular expression: {e}"), span.start)
                })?)
            }
            _ => None,
        };
        let span = lhs.expr.span().join(rhs.expr.span());
        let depth = lhs.depth.max(rhs.depth);
        let compare = Expr::Compare {
            op,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
            regex,
            span,
        };
        Self::node(compare, depth, t.span.start)
    }

    fn postfix(&mut self) -> Parsed {
        let mut base = self.primary()?;
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    let dot = self.bump().span;
                    let t = self.bump();
                    let Tok::Ident(name) = t.tok else {
                        return Err(SyntaxError::new(
                            format!(
                                "expected a field name after `.`, found {}",
                                t.tok.describe()
                            ),
                            t.span.start,
                        ));
                    };
                    let span = base.expr.span().join(t.span);
                    let field = Expr::Field(Box::new(base.expr), name, span);
                    base = Self::node(field, base.depth, dot.start)?;
                }
                Tok::LBracket => {
                    let open = self.bump().span;
                    let index = self.nested(Self::expr, "`[`", open.start)?;
                    let end = self.expect(Tok::RBracket, "to close the index")?;
                    let span = base.expr.span().join(end);
                    let depth = base.depth.max(index.depth);
                    let indexed = Expr::Index(Box::new(base.expr), Box::new(index.expr), span);
                    base = Self::node(indexed, depth, open.start)?;
                }
                _ => return Ok(base),
            }
        }
    }

    fn primary(&mut self) -> Parsed {
        let t = self.bump();
        match t.tok {
            Tok::Str(s) => Ok(Node::leaf(Expr::Literal(Value::String(s), t.span))),
            Tok::Num(n) => Ok(Node::leaf(Expr::Literal(Value::Number(n), t.span))),
            Tok::LParen => {
                let inner = self.nested(Self::expr, "`(`", t.span.start)?;
                self.expect(Tok::RParen, "to close `(`")?;
                // The parentheses are a level of their own.
                Self::node(inner.expr, inner.depth, t.span.start)
            }
            Tok::LBracket => self.list(t.span),
            Tok::Ident(name) => self.ident(name, t.span),
            tok => Err(SyntaxError::new(
                format!("expected an operand, found {}", tok.describe()),
                t.span.start,
            )),
        }
    }

    /// `[a, b, ...]` after its `[` at `open`.
    fn list(&mut self, open: Span) -> Parsed {
        let mut items = Vec::new();
        let mut depth = 0;
        if self.peek().tok != Tok::RBracket {
            loop {
                let item = self.nested(Self::expr, "`[`", open.start)?;
                depth = depth.max(item.depth);
                items.push(item.expr);
                if self.peek().tok == Tok::Comma {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        let end = self.expect(Tok::RBracket, "to close the list")?;
        Self::node(literal_list(items, open.join(end)), depth, open.start)
    }

    /// A name: a literal keyword, a call, a root or bound variable.
    fn ident(&mut self, name: String, span: Span) -> Parsed {
        match name.as_str() {
            "true" => Ok(Node::leaf(Expr::Literal(Value::Bool(true), span))),
            "false" => Ok(Node::leaf(Expr::Literal(Value::Bool(false), span))),
            "null" => Ok(Node::leaf(Expr::Literal(Value::Null, span))),
            _ if self.peek().tok == Tok::LParen => self.call(name, span),
            _ if ROOTS.contains(&name.as_str())
                || name == "item" && !self.scopes.is_empty()
                || self.scopes.contains(&name) =>
            {
                Ok(Node::leaf(Expr::Name(name, span)))
            }
            "item" => Err(SyntaxError::new(
                "`item` is only defined inside `any(list, …)` or `all(list, …)`",
                span.start,
            )),
            "and" | "or" | "in" | "not_in" | "contains" | "starts_with" | "ends_with"
            | "matches" | "exists" | "not_exists" => Err(SyntaxError::new(
                format!("expected an operand, found the operator `{name}`"),
                span.start,
            )),
            _ => Err(SyntaxError::new(
                format!(
                    "unknown name `{name}`; paths start with `resource` or `asset` (did you mean `resource.{name}`?)"
                ),
                span.start,
            )),
        }
    }

    fn call(&mut self, name: String, start: Span) -> Parsed {
        self.bump(); // (
        let kind = match name.as_str() {
            "any" => Quantifier::Any,
            "all" => Quantifier::All,
            _ => return self.function(name, start),
        };
        let list = self.nested(Self::expr, &format!("`{name}(`"), start.start)?;
        self.expect(
            Tok::Comma,
            &format!("between the list and the predicate of `{name}`"),
        )?;
        let var = match (self.peek().tok.clone(), self.peek_at(1)) {
            (Tok::Ident(v), Tok::Arrow) => {
                if ROOTS.contains(&v.as_str()) {
                    return Err(SyntaxError::new(
                        format!("`{v}` cannot be a parameter name"),
                        self.peek().span.start,
                    ));
                }
                self.bump();
                self.bump();
                v
            }
            _ => "item".to_string(),
        };
        self.scopes.push(var.clone());
        let pred = self.nested(Self::expr, &format!("`{name}(list,`"), start.start);
        self.scopes.pop();
        let pred = pred?;
        let end = self.expect(Tok::RParen, &format!("to close `{name}(`"))?;
        let depth = list.depth.max(pred.depth);
        let quant = Expr::Quant {
            kind,
            list: Box::new(list.expr),
            var,
            pred: Box::new(pred.expr),
            span: start.join(end),
        };
        Self::node(quant, depth, start.start)
    }

    /// A function of one argument, after `name(`.
    fn function(&mut self, name: String, start: Span) -> Parsed {
        let func = match name.as_str() {
            "len" => Func::Len,
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            "days_since" => Func::DaysSince,
            "keys" => Func::Keys,
            _ => {
                return Err(SyntaxError::new(
                    format!(
                        "unknown function `{name}`; functions are len, any, all, lower, upper, days_since, keys"
                    ),
                    start.start,
                ));
            }
        };
        let arg = self.nested(Self::expr, &format!("`{name}(`"), start.start)?;
        if self.peek().tok == Tok::Comma {
            return Err(SyntaxError::new(
                format!("`{name}` takes one argument"),
                self.peek().span.start,
            ));
        }
        let end = self.expect(Tok::RParen, &format!("to close `{name}(`"))?;
        let call = Expr::Call(func, Box::new(arg.expr), start.join(end));
        Self::node(call, arg.depth, start.start)
    }
}

/// A list of literals becomes one literal value, so it is built once at parse time.
fn literal_list(items: Vec<Expr>, span: Span) -> Expr {
    if items.iter().all(|e| matches!(e, Expr::Literal(..))) {
        let values = items
            .into_iter()
            .map(|e| match e {
                Expr::Literal(v, _) => v,
                _ => Value::Null,
            })
            .collect();
        Expr::Literal(Value::Array(values), span)
    } else {
        Expr::List(items, span)
    }
}
