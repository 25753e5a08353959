//! The subset of KQL the mock's Resource Graph answers: the `resources` table (its name in any
//! case, as ARG takes it), then any number of `| where` clauses of comparisons joined by `and`
//! (`==`, `=~`, `in`, `in~`, `contains` on the string columns), `| project` of columns and
//! `| limit N` / `| take N`, and a last `| summarize NAME = make_list(EXPR) by COLUMNS` (see
//! `graph_summarize.rs`). Anything else is refused with the token that stopped the parser.
//! Column names are case-sensitive, as in KQL.

use std::collections::HashSet;

use super::graph_summarize::{Expr, Func, Summarize};

/// The string columns a `where` may compare.
pub const FILTER_COLUMNS: &[&str] = &[
    "id",
    "name",
    "type",
    "location",
    "resourceGroup",
    "subscriptionId",
    "kind",
    "tenantId",
];

/// Every column of ARG's `resources` table (what `project` may name).
pub const COLUMNS: &[&str] = &[
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
];

/// How a comparison matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`, `in`: exact.
    Equal,
    /// `=~`, `in~`: ignoring case.
    EqualNoCase,
    /// `contains`: a substring, ignoring case (KQL's `contains` is case-insensitive).
    Contains,
}

/// One comparison: `column op value` or `column in (values)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: &'static str,
    pub op: Op,
    pub values: Vec<String>,
    /// The values to look up (lower-cased unless the comparison is exact): a query may name
    /// hundreds of ids.
    set: HashSet<String>,
}

impl Filter {
    fn new(column: &'static str, op: Op, values: Vec<String>) -> Self {
        let set = values
            .iter()
            .map(|v| match op {
                Op::Equal => v.clone(),
                _ => v.to_ascii_lowercase(),
            })
            .collect();
        Self {
            column,
            op,
            values,
            set,
        }
    }

    /// Whether a row's `value` of the column passes.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            Op::Equal => self.set.contains(value),
            Op::EqualNoCase => self.set.contains(&value.to_ascii_lowercase()),
            Op::Contains => {
                let value = value.to_ascii_lowercase();
                self.set.iter().any(|v| value.contains(v.as_str()))
            }
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Every filter must pass (`where a and b | where c`).
    pub filters: Vec<Filter>,
    /// The columns kept, in order (None: all).
    pub project: Option<Vec<&'static str>>,
    /// `limit` / `take`: at most this many rows.
    pub limit: Option<usize>,
    /// The closing aggregation, if any.
    pub summarize: Option<Summarize>,
}

/// Why a query was refused: the problem, and the token it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError {
    pub message: String,
    pub token: String,
    /// False: not KQL at all (ParserFailure); true: KQL the mock does not serve
    /// (InvalidQueryLanguage).
    pub unsupported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Int(usize),
    Sym(&'static str),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Int(n) => n.to_string(),
            Tok::Sym(s) => (*s).to_owned(),
        }
    }
}

fn syntax(message: impl Into<String>, token: impl Into<String>) -> KqlError {
    KqlError {
        message: message.into(),
        token: token.into(),
        unsupported: false,
    }
}

fn unsupported(message: impl Into<String>, token: impl Into<String>) -> KqlError {
    KqlError {
        message: message.into(),
        token: token.into(),
        unsupported: true,
    }
}

const SYMBOLS: &[&str] = &[
    "=~", "==", "!=", "!~", "|", ",", "(", ")", "~", "=", "<", ">", ".", "[", "]",
];

/// A string literal `'…'` or `"…"` (a backslash escapes the next character); `chars` is
/// positioned after the opening quote.
fn literal(
    quote: char,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<String, KqlError> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => return Err(syntax("a string literal is not closed", quote.to_string())),
            Some('\\') => match chars.next() {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some(c) => s.push(c),
                None => return Err(syntax("a string literal is not closed", "\\")),
            },
            Some(c) if c == quote => return Ok(s),
            Some(c) => s.push(c),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Tok>, KqlError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            out.push(Tok::Str(literal(c, &mut chars)?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut w = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                w.push(c);
                chars.next();
            }
            out.push(Tok::Word(w));
        } else if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                n.push(c);
                chars.next();
            }
            let v = n.parse().map_err(|_| syntax("a number is too large", n))?;
            out.push(Tok::Int(v));
        } else {
            chars.next();
            let two: String = [c].into_iter().chain(chars.peek().copied()).collect();
            match SYMBOLS.iter().find(|s| **s == two) {
                Some(s) => {
                    chars.next();
                    out.push(Tok::Sym(s));
                }
                None => match SYMBOLS.iter().find(|s| s.len() == 1 && s.starts_with(c)) {
                    Some(s) => out.push(Tok::Sym(s)),
                    None => return Err(syntax("unexpected character", c.to_string())),
                },
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), KqlError> {
        match self.next() {
            Some(Tok::Sym(s)) if s == sym => Ok(()),
            t => Err(syntax(
                format!("'{sym}' expected"),
                t.map(|t| t.text()).unwrap_or_default(),
            )),
        }
    }

    fn column(&mut self, allowed: &[&'static str], what: &str) -> Result<&'static str, KqlError> {
        match self.next() {
            Some(Tok::Word(w)) => allowed.iter().find(|c| **c == w).copied().ok_or_else(|| {
                unsupported(
                    format!(
                        "'{w}' is not a column {what} (one of {})",
                        allowed.join(", ")
                    ),
                    w,
                )
            }),
            t => Err(syntax(
                "a column name expected",
                t.map(|t| t.text()).unwrap_or_default(),
            )),
        }
    }

    fn string(&mut self) -> Result<String, KqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            t => Err(unsupported(
                "only string literals are compared",
                t.map(|t| t.text()).unwrap_or_default(),
            )),
        }
    }

    fn filter(&mut self) -> Result<Filter, KqlError> {
        let column = self.column(FILTER_COLUMNS, "a where clause compares")?;
        let op = self.next();
        let (op, list) = match &op {
            Some(Tok::Sym("==")) => (Op::Equal, false),
            Some(Tok::Sym("=~")) => (Op::EqualNoCase, false),
            Some(Tok::Word(w)) if w == "contains" => (Op::Contains, false),
            Some(Tok::Word(w)) if w == "in" => {
                if self.peek() == Some(&Tok::Sym("~")) {
                    self.next();
                    (Op::EqualNoCase, true)
                } else {
                    (Op::Equal, true)
                }
            }
            t => {
                return Err(unsupported(
                    "the mock compares with ==, =~, in, in~ and contains only",
                    t.as_ref().map(Tok::text).unwrap_or_default(),
                ))
            }
        };
        let values = if list {
            self.expect_sym("(")?;
            let mut values = vec![self.string()?];
            while self.peek() == Some(&Tok::Sym(",")) {
                self.next();
                values.push(self.string()?);
            }
            self.expect_sym(")")?;
            values
        } else {
            vec![self.string()?]
        };
        Ok(Filter::new(column, op, values))
    }

    fn operator(&mut self, q: &mut Query) -> Result<(), KqlError> {
        match self.next() {
            Some(Tok::Word(w)) if w == "where" => {
                q.filters.push(self.filter()?);
                while self.peek() == Some(&Tok::Word("and".into())) {
                    self.next();
                    q.filters.push(self.filter()?);
                }
            }
            Some(Tok::Word(w)) if w == "project" => {
                let mut cols = vec![self.column(COLUMNS, "of the resources table")?];
                while self.peek() == Some(&Tok::Sym(",")) {
                    self.next();
                    cols.push(self.column(COLUMNS, "of the resources table")?);
                }
                q.project = Some(cols);
            }
            Some(Tok::Word(w)) if w == "limit" || w == "take" => match self.next() {
                Some(Tok::Int(n)) => q.limit = Some(q.limit.map_or(n, |l| l.min(n))),
                t => {
                    return Err(syntax(
                        format!("'{w}' takes a number"),
                        t.map(|t| t.text()).unwrap_or_default(),
                    ))
                }
            },
            Some(Tok::Word(w)) if w == "summarize" => q.summarize = Some(self.summarize()?),
            Some(t) => {
                return Err(unsupported(
                    "the mock serves where, project, limit/take and summarize only",
                    t.text(),
                ))
            }
            None => return Err(syntax("an operator expected after '|'", "")),
        }
        match self.peek() {
            None | Some(Tok::Sym("|")) => Ok(()),
            Some(t) => Err(unsupported(
                "the mock joins comparisons with 'and' only",
                t.text(),
            )),
        }
    }
}

impl Parser {
    fn word(&mut self, what: &str) -> Result<String, KqlError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            t => Err(syntax(
                format!("{what} expected"),
                t.map(|t| t.text()).unwrap_or_default(),
            )),
        }
    }

    /// `NAME = make_list(EXPR) by COLUMN [, COLUMN …]`, after `summarize`.
    fn summarize(&mut self) -> Result<Summarize, KqlError> {
        let name = self.word("a column name")?;
        if self.peek() == Some(&Tok::Sym("(")) {
            return Err(unsupported(
                "the mock serves 'NAME = make_list(…)' only",
                name,
            ));
        }
        self.expect_sym("=")?;
        let agg = self.word("an aggregation")?;
        if agg != "make_list" {
            return Err(unsupported("the mock aggregates with make_list only", agg));
        }
        self.expect_sym("(")?;
        let expr = self.expr()?;
        self.expect_sym(")")?;
        let by = self.word("'by'")?;
        if by != "by" {
            return Err(unsupported("the mock summarizes by columns only", by));
        }
        let mut cols = vec![self.column(COLUMNS, "of the resources table")?];
        while self.peek() == Some(&Tok::Sym(",")) {
            self.next();
            cols.push(self.column(COLUMNS, "of the resources table")?);
        }
        Ok(Summarize {
            name,
            expr,
            by: cols,
        })
    }

    /// A column, or a call of a served function on expressions.
    fn expr(&mut self) -> Result<Expr, KqlError> {
        let w = self.word("an expression")?;
        if self.peek() != Some(&Tok::Sym("(")) {
            return COLUMNS
                .iter()
                .find(|c| **c == w)
                .map(|c| Expr::Column(c))
                .ok_or_else(|| unsupported("not a column of the resources table", w));
        }
        let f = Func::named(&w).ok_or_else(|| {
            unsupported(
                "the mock calls pack_array, tolower, tostring and hash only",
                w.clone(),
            )
        })?;
        self.next();
        let mut args = vec![self.expr()?];
        while self.peek() == Some(&Tok::Sym(",")) {
            self.next();
            args.push(self.expr()?);
        }
        self.expect_sym(")")?;
        if f.arity().is_some_and(|n| n != args.len()) {
            return Err(syntax(format!("'{w}' takes one argument"), w));
        }
        Ok(Expr::Call(f, args))
    }
}

/// Parse a query of the subset.
pub fn parse(text: &str) -> Result<Query, KqlError> {
    let mut p = Parser {
        toks: tokens(text)?,
        at: 0,
    };
    match p.next() {
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("resources") => {}
        Some(t) => {
            return Err(unsupported(
                "the mock serves the resources table only",
                t.text(),
            ))
        }
        None => return Err(syntax("the query is empty", "")),
    }
    let mut q = Query::default();
    while let Some(t) = p.next() {
        if t != Tok::Sym("|") {
            return Err(syntax("'|' expected", t.text()));
        }
        if q.summarize.is_some() {
            let next = p.peek().map(Tok::text).unwrap_or_default();
            return Err(unsupported("the mock serves nothing after summarize", next));
        }
        p.operator(&mut q)?;
        if q.summarize.is_some() && q.project.is_some() {
            return Err(unsupported(
                "the mock does not summarize projected rows",
                "summarize",
            ));
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_parses() {
        let q = parse("Resources | where id in~ ('/a', \"/B\") and type =~ 'x/y' | where name contains 'test' | project id, name | limit 3 | take 5").unwrap();
        assert_eq!(q.filters.len(), 3);
        assert_eq!(q.filters[0].op, Op::EqualNoCase);
        assert_eq!(q.filters[0].values, vec!["/a", "/B"]);
        assert!(q.filters[0].matches("/b"));
        assert!(q.filters[2].matches("MyTestDisk"));
        assert_eq!(q.project, Some(vec!["id", "name"]));
        assert_eq!(q.limit, Some(3));
        let exact = parse("resources | where resourceGroup in ('RG')").unwrap();
        assert!(exact.filters[0].matches("RG") && !exact.filters[0].matches("rg"));
    }

    #[test]
    fn the_fingerprint_summary_parses() {
        let q = parse("resources | where type in~ ('a/b') | summarize f = make_list(pack_array(tolower(id), hash(tostring(pack_array(sku, properties, tags))))) by subscriptionId, resourceGroup").unwrap();
        let s = q.summarize.unwrap();
        assert_eq!(s.name, "f");
        assert_eq!(s.by, vec!["subscriptionId", "resourceGroup"]);
        assert!(matches!(s.expr, Expr::Call(Func::PackArray, ref a) if a.len() == 2));
    }

    #[test]
    fn quoting_round_trips_through_the_parser() {
        let nasty = r"/subscriptions/s/x'y\z";
        let quoted = crate::azure::resource_graph::kql_string(nasty);
        let q = parse(&format!("resources | where id == {quoted}")).unwrap();
        assert_eq!(q.filters[0].values, vec![nasty]);
    }

    #[test]
    fn anything_else_is_refused_naming_the_token() {
        let e = parse("Resources | summarize n = count() by type").unwrap_err();
        assert!(e.unsupported && e.token == "count", "{e:?}");
        let e = parse("Resources | summarize count() by type").unwrap_err();
        assert!(e.unsupported && e.token == "count", "{e:?}");
        let e = parse("Resources | summarize f = make_list(id) by type | limit 1").unwrap_err();
        assert!(e.unsupported && e.token == "limit", "{e:?}");
        let e = parse("Resources | summarize f = make_list(md5(id)) by type").unwrap_err();
        assert_eq!(e.token, "md5");
        let e = parse("resourcecontainers").unwrap_err();
        assert_eq!(e.token, "resourcecontainers");
        let e = parse("resources | where resourcegroup =~ 'x'").unwrap_err();
        assert_eq!(e.token, "resourcegroup", "column names are case-sensitive");
        let e = parse("resources | where name =~ 'x' or name =~ 'y'").unwrap_err();
        assert_eq!(e.token, "or");
        let e = parse("resources | where name =~ 'x").unwrap_err();
        assert!(!e.unsupported, "{e:?}");
        assert!(parse("resources | where name startswith 'x'").is_err());
        assert!(parse("resources | project secret").is_err());
    }
}
