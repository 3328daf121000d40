//! The expression grammar: tokens to an AST whose nodes keep their spans.
//! It never evaluates anything.
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

use regex::Regex;
use serde_json::Value;

use crate::error::SyntaxError;
use crate::lexer::{Span, Tok, Token, tokenize};

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
    And(Box<Expr>, Box<Expr>, Span),
    Or(Box<Expr>, Box<Expr>, Span),
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
            | Expr::And(_, _, s)
            | Expr::Or(_, _, s)
            | Expr::Exists(_, _, s)
            | Expr::Call(_, _, s) => *s,
            Expr::Compare { span, .. } | Expr::Quant { span, .. } => *span,
        }
    }
}

/// Names an expression may start a path with, besides lambda parameters.
const ROOTS: &[&str] = &["resource", "asset"];

/// Parses a whole expression; anything left over is an error.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        scopes: Vec::new(),
    };
    let expr = parser.expr()?;
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
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Names bound by enclosing `any`/`all`, innermost last.
    scopes: Vec<String>,
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

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.or()
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.and()?;
        while self.is_keyword("or") {
            self.bump();
            let rhs = self.operand(Self::and, "`or`")?;
            let span = lhs.span().join(rhs.span());
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs), span);
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.not()?;
        while self.is_keyword("and") {
            self.bump();
            let rhs = self.operand(Self::not, "`and`")?;
            let span = lhs.span().join(rhs.span());
            lhs = Expr::And(Box::new(lhs), Box::new(rhs), span);
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.is_keyword("not") {
            let start = self.bump().span;
            let inner = self.operand(Self::not, "`not`")?;
            let span = start.join(inner.span());
            return Ok(Expr::Not(Box::new(inner), span));
        }
        self.test()
    }

    /// Parse the operand that must follow an operator, with an error naming
    /// the operator when it is missing.
    fn operand(
        &mut self,
        rule: fn(&mut Self) -> Result<Expr, SyntaxError>,
        after: &str,
    ) -> Result<Expr, SyntaxError> {
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

    fn test(&mut self) -> Result<Expr, SyntaxError> {
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
                    let span = lhs.span().join(t.span);
                    return Ok(Expr::Exists(Box::new(lhs), s == "exists", span));
                }
                _ => return Ok(lhs),
            },
            _ => return Ok(lhs),
        };
        self.bump();
        let rhs = self.operand(Self::postfix, &t.tok.describe())?;
        let regex = match (&op, &rhs) {
            (CmpOp::Matches, Expr::Literal(Value::String(pattern), span)) => {
                Some(Regex::new(pattern).map_err(|e| {
                    SyntaxError::new(format!("invalid regular expression: {e}"), span.start)
                })?)
            }
            _ => None,
        };
        let span = lhs.span().join(rhs.span());
        Ok(Expr::Compare {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            regex,
            span,
        })
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut base = self.primary()?;
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
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
                    let span = base.span().join(t.span);
                    base = Expr::Field(Box::new(base), name, span);
                }
                Tok::LBracket => {
                    self.bump();
                    let index = self.operand(Self::expr, "`[`")?;
                    let end = self.expect(Tok::RBracket, "to close the index")?;
                    let span = base.span().join(end);
                    base = Expr::Index(Box::new(base), Box::new(index), span);
                }
                _ => return Ok(base),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let t = self.bump();
        match t.tok {
            Tok::Str(s) => Ok(Expr::Literal(Value::String(s), t.span)),
            Tok::Num(n) => Ok(Expr::Literal(Value::Number(n), t.span)),
            Tok::LParen => {
                let inner = self.operand(Self::expr, "`(`")?;
                self.expect(Tok::RParen, "to close `(`")?;
                Ok(inner)
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                if self.peek().tok != Tok::RBracket {
                    loop {
                        items.push(self.operand(Self::expr, "`[`")?);
                        if self.peek().tok == Tok::Comma {
                            self.bump();
                            continue;
                        }
                        break;
                    }
                }
                let end = self.expect(Tok::RBracket, "to close the list")?;
                Ok(literal_list(items, t.span.join(end)))
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true), t.span)),
                "false" => Ok(Expr::Literal(Value::Bool(false), t.span)),
                "null" => Ok(Expr::Literal(Value::Null, t.span)),
                _ if self.peek().tok == Tok::LParen => self.call(name, t.span),
                _ if ROOTS.contains(&name.as_str())
                    || name == "item" && !self.scopes.is_empty()
                    || self.scopes.contains(&name) =>
                {
                    Ok(Expr::Name(name, t.span))
                }
                "item" => Err(SyntaxError::new(
                    "`item` is only defined inside `any(list, …)` or `all(list, …)`",
                    t.span.start,
                )),
                "and" | "or" | "in" | "not_in" | "contains" | "starts_with" | "ends_with"
                | "matches" | "exists" | "not_exists" => Err(SyntaxError::new(
                    format!("expected an operand, found the operator `{name}`"),
                    t.span.start,
                )),
                _ => Err(SyntaxError::new(
                    format!(
                        "unknown name `{name}`; paths start with `resource` or `asset` (did you mean `resource.{name}`?)"
                    ),
                    t.span.start,
                )),
            },
            tok => Err(SyntaxError::new(
                format!("expected an operand, found {}", tok.describe()),
                t.span.start,
            )),
        }
    }

    fn call(&mut self, name: String, start: Span) -> Result<Expr, SyntaxError> {
        self.bump(); // (
        let quant = match name.as_str() {
            "any" => Some(Quantifier::Any),
            "all" => Some(Quantifier::All),
            _ => None,
        };
        if let Some(kind) = quant {
            let list = self.operand(Self::expr, &format!("`{name}(`"))?;
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
            let pred = self.operand(Self::expr, &format!("`{name}(list,`"));
            self.scopes.pop();
            let pred = pred?;
            let end = self.expect(Tok::RParen, &format!("to close `{name}(`"))?;
            return Ok(Expr::Quant {
                kind,
                list: Box::new(list),
                var,
                pred: Box::new(pred),
                span: start.join(end),
            });
        }
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
        let arg = self.operand(Self::expr, &format!("`{name}(`"))?;
        if self.peek().tok == Tok::Comma {
            return Err(SyntaxError::new(
                format!("`{name}` takes one argument"),
                self.peek().span.start,
            ));
        }
        let end = self.expect(Tok::RParen, &format!("to close `{name}(`"))?;
        Ok(Expr::Call(func, Box::new(arg), start.join(end)))
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
