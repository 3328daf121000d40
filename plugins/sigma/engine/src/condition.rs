//! The condition grammar: `and`, `or`, `not`, parentheses, `1 of`/`any of`/
//! `all of` a pattern or `them`; parsed once into a tree over selection indices.
//! Precedence, loosest first: or, and, not, `x of`, parentheses.
//!
//! It never sees events: evaluating a `Cond` asks the caller whether each
//! selection matched.

use crate::error::RuleError;

/// A condition resolved against a rule's selection names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The search identifier at this index.
    Sel(usize),
    /// `not`.
    Not(Box<Cond>),
    /// `and` (and `all of`).
    And(Vec<Cond>),
    /// `or` (and `1 of`/`any of`; several conditions in a list).
    Or(Vec<Cond>),
}

impl Cond {
    /// Evaluates with `sel` deciding each selection (short-circuiting).
    pub fn eval(&self, sel: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Sel(i) => sel(*i),
            Cond::Not(c) => !c.eval(sel),
            Cond::And(cs) => cs.iter().all(|c| c.eval(sel)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(sel)),
        }
    }
}

/// A condition token: parentheses and whitespace-separated words.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// Anything else: a keyword, an identifier or a pattern.
    Word(String),
}

/// Splits a condition into tokens; `|` (a Sigma v1 aggregation) is refused.
fn lex(s: &str) -> Result<Vec<Token>, RuleError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Token>| {
        if !cur.is_empty() {
            out.push(Token::Word(std::mem::take(cur)));
        }
    };
    for c in s.chars() {
        match c {
            '(' => {
                flush(&mut cur, &mut out);
                out.push(Token::Open);
            }
            ')' => {
                flush(&mut cur, &mut out);
                out.push(Token::Close);
            }
            '|' => {
                return Err(RuleError::new(
                    "aggregation expressions (`| count() ...`) were removed in Sigma v2; write a correlation rule",
                ));
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

/// A recursive-descent parser over the tokens of one condition.
struct Parser<'a> {
    toks: Vec<Token>,
    /// The next token.
    pos: usize,
    /// Nesting of `not` and parentheses so far.
    depth: usize,
    /// The detection's search identifiers, in order.
    names: &'a [String],
}

/// Deeper nesting than this is refused, so a hostile rule cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Whether `t` is the keyword `kw`, in any case.
fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

/// Matches a selection name against a pattern with `*` wildcards.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let toks: Vec<crate::pattern::Tok> = pattern
        .chars()
        .map(|c| {
            if c == '*' {
                crate::pattern::Tok::Star
            } else {
                crate::pattern::Tok::Char(c)
            }
        })
        .collect();
    crate::pattern::Pattern::new(&toks, true).matches(name)
}

impl Parser<'_> {
    /// The next token, if any.
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    /// `and ('or' and)*`.
    fn or(&mut self) -> Result<Cond, RuleError> {
        let mut items = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    /// `not ('and' not)*`.
    fn and(&mut self) -> Result<Cond, RuleError> {
        let mut items = vec![self.not()?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    /// `'not' not | primary`, with a depth limit.
    fn not(&mut self) -> Result<Cond, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(format!(
                "condition nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let out = if is_kw(self.peek(), "not") {
            self.pos += 1;
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        out
    }

    /// `( or )`, `1 of`/`any of`/`all of` a pattern or `them`, or an identifier.
    fn primary(&mut self) -> Result<Cond, RuleError> {
        match self.toks.get(self.pos).cloned() {
            None => Err(RuleError::new(
                "condition ends where an expression was expected",
            )),
            Some(Token::Close) => Err(RuleError::new("unexpected ')' in condition")),
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(RuleError::new("missing ')' in condition"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                let lower = w.to_ascii_lowercase();
                if matches!(lower.as_str(), "and" | "or" | "of" | "them") {
                    return Err(RuleError::new(format!("unexpected '{w}' in condition")));
                }
                let quant = matches!(lower.as_str(), "1" | "any" | "all");
                if quant && is_kw(self.toks.get(self.pos + 1), "of") {
                    self.pos += 2;
                    let Some(Token::Word(target)) = self.toks.get(self.pos).cloned() else {
                        return Err(RuleError::new(format!(
                            "'{w} of' must be followed by 'them' or a selection pattern"
                        )));
                    };
                    self.pos += 1;
                    let picked: Vec<Cond> = if target.eq_ignore_ascii_case("them") {
                        (0..self.names.len())
                            .filter(|&i| !self.names[i].starts_with('_'))
                            .map(Cond::Sel)
                            .collect()
                    } else {
                        (0..self.names.len())
                            .filter(|&i| name_matches(&target, &self.names[i]))
                            .map(Cond::Sel)
                            .collect()
                    };
                    if picked.is_empty() {
                        return Err(RuleError::new(format!(
                            "'{w} of {target}' matches no search identifier"
                        )));
                    }
                    return Ok(if lower == "all" {
                        Cond::And(picked)
                    } else {
                        Cond::Or(picked)
                    });
                }
                if let Ok(n) = lower.parse::<u32>()
                    && is_kw(self.toks.get(self.pos + 1), "of")
                {
                    return Err(RuleError::new(format!(
                        "'{n} of' is not Sigma: only '1 of' and 'all of' are"
                    )));
                }
                self.pos += 1;
                match self.names.iter().position(|n| *n == w) {
                    Some(i) => Ok(Cond::Sel(i)),
                    None => Err(RuleError::new(format!(
                        "condition names '{w}', which is not a search identifier of the detection"
                    ))),
                }
            }
        }
    }
}

/// Parses `text` against the selection `names` of the rule.
pub fn parse(text: &str, names: &[String]) -> Result<Cond, RuleError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        names,
    };
    let c = p.or()?;
    if let Some(t) = p.peek() {
        let shown = match t {
            Token::Open => "(".to_string(),
            Token::Close => ")".to_string(),
            Token::Word(w) => w.clone(),
        };
        return Err(RuleError::new(format!("unexpected '{shown}' in condition")));
    }
    Ok(c)
}
