//! The filters MLflow's search calls take, as far as berth answers them:
//! clauses `KEY OP 'VALUE'` joined by `AND`, where `KEY` is `name`,
//! `run_id`, `version_number` or `tags.KEY` (also `tag.KEY`, and the key in
//! backquotes, as MLflow's client writes `` tag.`mlflow.prompt.is_prompt` ``) and `OP`
//! is `=`, `!=`, `LIKE` or `ILIKE` (`%` any run of characters, `_` one).
//! Anything else is refused by name rather than silently ignored; and a
//! page of results is named by its offset.

use super::MlflowError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Name,
    RunId,
    VersionNumber,
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Like,
    ILike,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    pub key: Key,
    pub op: Op,
    pub value: String,
}

/// A parsed filter: every clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter(pub Vec<Clause>);

const SUPPORTED: &str = "berth's MLflow API filters on name, run_id, version_number and tags.KEY with =, !=, LIKE \
                         and ILIKE, clauses joined by AND, values in single quotes (e.g. name LIKE 'churn%')";

fn refuse(filter: &str, why: &str) -> MlflowError {
    MlflowError::invalid(format!("cannot read the filter {filter:?}: {why}; {SUPPORTED}"))
}

impl Filter {
    pub fn parse(filter: Option<&str>) -> Result<Filter, MlflowError> {
        let Some(text) = filter.map(str::trim).filter(|f| !f.is_empty()) else { return Ok(Filter::default()) };
        let mut clauses = Vec::new();
        let mut rest = text;
        loop {
            let (clause, after) = clause(rest).map_err(|why| refuse(text, &why))?;
            clauses.push(clause);
            let after = after.trim_start();
            if after.is_empty() {
                break;
            }
            let Some(next) = strip_keyword(after, "AND") else {
                return Err(refuse(text, &format!("expected AND before {after:?}")));
            };
            rest = next;
        }
        Ok(Filter(clauses))
    }

    /// True when every clause holds for the value `field` gives each key
    /// (`None`: the key has no value here, so only `!=` holds).
    pub fn matches(&self, field: impl Fn(&Key) -> Option<String>) -> bool {
        self.0.iter().all(|c| {
            let Some(v) = field(&c.key) else { return c.op == Op::Ne };
            match c.op {
                Op::Eq => v == c.value,
                Op::Ne => v != c.value,
                Op::Like => like(&v, &c.value),
                Op::ILike => like(&v.to_lowercase(), &c.value.to_lowercase()),
            }
        })
    }
}

fn strip_keyword<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let tail = &s[word.len()..];
    (head.eq_ignore_ascii_case(word) && tail.starts_with(char::is_whitespace)).then(|| tail.trim_start())
}

/// One clause at the start of `s`, and what follows it.
fn clause(s: &str) -> Result<(Clause, &str), String> {
    let s = s.trim_start();
    let key_len = s.find(|c: char| c.is_whitespace() || c == '=' || c == '!').unwrap_or(s.len());
    let (key_text, rest) = s.split_at(key_len);
    let key = match key_text {
        "name" => Key::Name,
        "run_id" => Key::RunId,
        "version_number" => Key::VersionNumber,
        k => match k.strip_prefix("tags.").or_else(|| k.strip_prefix("tag.")) {
            Some(t) => Key::Tag(t.trim_matches('`').to_string()),
            None => return Err(format!("unknown key {k:?}")),
        },
    };
    let rest = rest.trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("!=") {
        (Op::Ne, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (Op::Eq, r)
    } else if let Some(r) = strip_keyword(rest, "ILIKE") {
        (Op::ILike, r)
    } else if let Some(r) = strip_keyword(rest, "LIKE") {
        (Op::Like, r)
    } else {
        return Err(format!("unknown comparison after {key_text}"));
    };
    let rest = rest.trim_start();
    let (value, rest) = if key == Key::VersionNumber && rest.starts_with(|c: char| c.is_ascii_digit()) {
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        (rest[..end].to_string(), &rest[end..])
    } else {
        quoted(rest)?
    };
    Ok((Clause { key, op, value }, rest))
}

/// A value in single (or double) quotes, a doubled quote standing for one.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    let Some((_, q @ ('\'' | '"'))) = chars.next() else { return Err("a value must be in quotes".into()) };
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            if s[i + 1..].starts_with(q) {
                value.push(q);
                chars.next();
                continue;
            }
            return Ok((value, &s[i + 1..]));
        }
        value.push(c);
    }
    Err("a quote is not closed".into())
}

/// SQL's LIKE: `%` matches any run of characters, `_` any one.
fn like(v: &str, pattern: &str) -> bool {
    let (v, p): (Vec<char>, Vec<char>) = (v.chars().collect(), pattern.chars().collect());
    // Classic wildcard matching with one backtrack point.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while i < v.len() {
        if j < p.len() && (p[j] == '_' || p[j] == v[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(s) = star {
            j = s + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '%')
}

/// The offset a page token names (none: the first page).
pub(crate) fn page_offset(token: Option<&str>) -> Result<usize, MlflowError> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => t.parse().map_err(|_| {
            MlflowError::invalid(format!(
                "page_token {t:?} is not one this hub gave; pass next_page_token back as it came"
            ))
        }),
    }
}

/// One page of `items` from `offset`, at most `max` long, and the next page's token.
pub(crate) fn page<T>(items: Vec<T>, offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = (offset + page.len() < total).then(|| (offset + page.len()).to_string());
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Filter {
        Filter::parse(Some(s)).unwrap()
    }

    #[test]
    fn clauses_are_read_as_mlflow_writes_them() {
        assert_eq!(parse("name='churn'").0, [Clause { key: Key::Name, op: Op::Eq, value: "churn".into() }]);
        let f = parse("name LIKE 'ch%' and tags.`team` != 'x' AND version_number = 3 AND run_id = \"r1\"");
        let client = parse("name LIKE 'ch%' AND tag.`mlflow.prompt.is_prompt` != 'true'");
        assert_eq!(client.0[1].key, Key::Tag("mlflow.prompt.is_prompt".into()));
        assert_eq!(f.0.len(), 4);
        assert_eq!(f.0[1], Clause { key: Key::Tag("team".into()), op: Op::Ne, value: "x".into() });
        assert_eq!(f.0[2].value, "3");
        assert_eq!(parse("name = 'it''s'").0[0].value, "it's");
        assert_eq!(Filter::parse(Some("  ")).unwrap(), Filter::default());
    }

    #[test]
    fn other_filters_are_refused_with_what_is_supported() {
        for bad in ["stage = 'x'", "name > 'a'", "name = churn", "name = 'a' OR name = 'b'", "name = 'a"] {
            let e = Filter::parse(Some(bad)).unwrap_err();
            assert!(e.message.contains("berth's MLflow API filters on"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn like_matches_as_sql_does() {
        assert!(like("churn", "ch%") && like("churn", "%urn") && like("churn", "c_urn") && like("churn", "%"));
        assert!(like("churn", "c%r%n") && !like("churn", "ch") && !like("churn", "_hur") && !like("", "_"));
        let f = parse("name ILIKE 'CH%'");
        assert!(f.matches(|_| Some("churn".into())));
        assert!(!parse("tags.team = 'x'").matches(|_| None) && parse("tags.team != 'x'").matches(|_| None));
    }

    #[test]
    fn pages_follow_their_tokens() {
        let (p, next) = page((0..5).collect(), 0, 2);
        assert_eq!((p, next.as_deref()), (vec![0, 1], Some("2")));
        let (p, next) = page((0..5).collect(), page_offset(Some("4")).unwrap(), 2);
        assert_eq!((p, next), (vec![4], None));
        assert!(page_offset(Some("abc")).is_err());
    }
}
