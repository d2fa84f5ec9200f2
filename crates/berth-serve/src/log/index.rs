//! The requests this replica logged, remembered for the labels that come
//! later: a label is taken only for a request that was logged, for one of
//! its rows, and of the kind its model predicts (a class the model knows,
//! or a number). The newest `capacity` requests are kept.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::segment::Feedback;

/// What a logged request's model predicts.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A class, one of these (none known: any text).
    Label(Vec<String>),
    /// A number.
    Value,
}

/// What many logged requests share: the model that answered and its kind.
#[derive(PartialEq)]
struct Answerer {
    model: String,
    kind: Kind,
}

struct Entry {
    /// Shared by every request the same model answered, so a million
    /// remembered requests hold one copy of its classes, not a million.
    by: Arc<Answerer>,
    rows: u32,
}

/// A label or value as the request sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Text(String),
    /// The number, and how the request wrote it (a class may be `1`).
    Number(f64, String),
    Bool(bool),
}

/// One label for one row of one logged request.
#[derive(Debug, Clone)]
pub struct FeedbackRequest {
    /// The model the path named, if it named one.
    pub model: Option<String>,
    pub request_id: String,
    /// Which row of the request; may be left out for a one-row request.
    pub row: Option<u32>,
    pub truth: Truth,
    /// Seconds since the epoch, when it arrived.
    pub at: i64,
}

/// Why a label was not taken.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackError {
    /// No logged request has this id (never logged, not sampled, answered
    /// by another replica, or older than the ones remembered).
    UnknownRequest { id: String, remembered: usize },
    /// The path named another model than the one that answered.
    OtherModel { id: String, asked: String, answered: String },
    /// The row is not one of the request's.
    Row { id: String, row: Option<u32>, rows: u32 },
    /// A label where a number was predicted, or the other way round, or a
    /// class the model does not know.
    Wrong(String),
    /// The log is behind; retry.
    Busy,
    /// The server is stopping.
    Closed,
}

impl std::fmt::Display for FeedbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedbackError::UnknownRequest { id, remembered } => write!(
                f,
                "no logged request has id {id:?}: send feedback to the server that answered, for a request it \
                 logged (it remembers its last {remembered}); labels for older or unsampled requests go in a \
                 batch with `berth feedback --data FILE`"
            ),
            FeedbackError::OtherModel { id, asked, answered } => {
                write!(f, "request {id:?} was answered by model {answered:?}, not {asked:?}")
            }
            FeedbackError::Row { id, row: None, rows } => {
                write!(
                    f,
                    "request {id:?} had {rows} rows: say which one this label is for with \"row\" (0 to {})",
                    rows - 1
                )
            }
            FeedbackError::Row { id, row: Some(r), rows } => {
                write!(
                    f,
                    "request {id:?} had {rows} row(s); row {r} is not one of them (0 to {})",
                    rows.saturating_sub(1)
                )
            }
            FeedbackError::Wrong(why) => f.write_str(why),
            FeedbackError::Busy => f.write_str("the prediction log is behind; retry in a moment"),
            FeedbackError::Closed => f.write_str("the server is stopping and takes no more feedback"),
        }
    }
}

pub struct Index {
    map: HashMap<String, Entry>,
    order: VecDeque<String>,
    capacity: usize,
    /// The answerer of the request remembered last, reused while it stays the same.
    last: Option<Arc<Answerer>>,
}

impl Index {
    pub fn new(capacity: usize) -> Index {
        Index { map: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1), last: None }
    }

    pub fn remember(&mut self, id: &str, model: &str, rows: u32, kind: Kind) {
        let by = match &self.last {
            Some(a) if a.model == model && a.kind == kind => a.clone(),
            _ => {
                let a = Arc::new(Answerer { model: model.to_string(), kind });
                self.last = Some(a.clone());
                a
            }
        };
        let entry = Entry { by, rows };
        if self.map.insert(id.to_string(), entry).is_none() {
            self.order.push_back(id.to_string());
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    /// The label as a feedback row, if the request it names was logged and
    /// it fits that request.
    pub fn check(&self, f: FeedbackRequest) -> Result<Feedback, FeedbackError> {
        let FeedbackRequest { model, request_id: id, row, truth, at } = f;
        let Some(e) = self.map.get(&id) else {
            return Err(FeedbackError::UnknownRequest { id, remembered: self.capacity });
        };
        if let Some(asked) = model
            && asked != e.by.model
        {
            return Err(FeedbackError::OtherModel { id, asked, answered: e.by.model.clone() });
        }
        let row = match row {
            Some(r) if r < e.rows => r,
            None if e.rows == 1 => 0,
            _ => return Err(FeedbackError::Row { id, row, rows: e.rows }),
        };
        let (label, value) = match (&e.by.kind, truth) {
            (Kind::Value, Truth::Number(v, _)) => (None, Some(v)),
            (Kind::Value, other) => {
                return Err(FeedbackError::Wrong(format!(
                    "request {id:?} was answered by a model that predicts numbers; {} is not a number",
                    shown(&other)
                )));
            }
            (Kind::Label(classes), truth) => {
                let text = match truth {
                    Truth::Text(s) => s,
                    Truth::Number(_, written) => written,
                    Truth::Bool(b) => b.to_string(),
                };
                if !classes.is_empty() && !classes.contains(&text) {
                    return Err(FeedbackError::Wrong(format!(
                        "label {text:?} is not one of the classes of the model that answered request {id:?}: {}",
                        classes.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
                    )));
                }
                (Some(text), None)
            }
        };
        Ok(Feedback { at, request_id: id, row, label, value })
    }
}

fn shown(t: &Truth) -> String {
    match t {
        Truth::Text(s) => format!("{s:?}"),
        Truth::Number(_, w) => w.clone(),
        Truth::Bool(b) => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str, row: Option<u32>, truth: Truth) -> FeedbackRequest {
        FeedbackRequest { model: None, request_id: id.into(), row, truth, at: 5 }
    }

    #[test]
    fn a_label_must_fit_the_request_it_names() {
        let mut ix = Index::new(10);
        ix.remember("a", "churn", 1, Kind::Label(vec!["0".into(), "1".into()]));
        ix.remember("b", "price", 3, Kind::Value);
        let ok = ix.check(req("a", None, Truth::Number(1.0, "1".into()))).unwrap();
        assert_eq!((ok.row, ok.label.as_deref()), (0, Some("1")));
        assert!(matches!(ix.check(req("zz", None, Truth::Bool(true))), Err(FeedbackError::UnknownRequest { .. })));
        assert!(matches!(ix.check(req("a", None, Truth::Text("2".into()))), Err(FeedbackError::Wrong(_))));
        assert!(matches!(ix.check(req("b", None, Truth::Number(1.0, "1".into()))), Err(FeedbackError::Row { .. })));
        assert!(matches!(ix.check(req("b", Some(3), Truth::Number(1.0, "1".into()))), Err(FeedbackError::Row { .. })));
        assert!(matches!(ix.check(req("b", Some(2), Truth::Text("x".into()))), Err(FeedbackError::Wrong(_))));
        assert_eq!(ix.check(req("b", Some(2), Truth::Number(2.5, "2.5".into()))).unwrap().value, Some(2.5));
        let other = FeedbackRequest { model: Some("fraud".into()), ..req("a", None, Truth::Bool(true)) };
        assert!(matches!(ix.check(other), Err(FeedbackError::OtherModel { .. })));
    }

    #[test]
    fn the_oldest_requests_are_forgotten_first() {
        let mut ix = Index::new(2);
        for id in ["a", "b", "c"] {
            ix.remember(id, "m", 1, Kind::Value);
        }
        assert!(ix.check(req("a", None, Truth::Number(1.0, "1".into()))).is_err());
        assert!(ix.check(req("c", None, Truth::Number(1.0, "1".into()))).is_ok());
    }
}
