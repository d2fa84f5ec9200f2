//! Hyperparameter values as configs write them: numbers (counts, shares,
//! switches written 1 or 0, early stopping's -1/0/1) and, for the few that
//! choose among named options (a boosting loss), names. Each typed value
//! says how it is parsed from a config's value and written back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hyperparameter's value as a config or `--set NAME=VALUE` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Hyper {
    Number(f64),
    Name(String),
}

impl Hyper {
    /// A value typed on a command line: a number when it reads as one, else a name.
    pub fn parse(s: &str) -> Hyper {
        let t = s.trim();
        match t.parse::<f64>() {
            Ok(x) => Hyper::Number(x),
            Err(_) => Hyper::Name(t.to_string()),
        }
    }
}

impl From<f64> for Hyper {
    fn from(x: f64) -> Hyper {
        Hyper::Number(x)
    }
}

impl fmt::Display for Hyper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hyper::Number(x) => x.fmt(f),
            Hyper::Name(s) => s.fmt(f),
        }
    }
}

/// A hyperparameter whose config value is a number: how it is written and
/// what the trainer takes.
trait Number: Copy {
    fn from_number(x: f64) -> std::result::Result<Self, &'static str>;
    fn to_number(self) -> f64;
}

/// A hyperparameter's config value as the trainer takes it.
pub(crate) trait Value: Copy {
    fn from_hyper(h: &Hyper) -> std::result::Result<Self, &'static str>;
    fn to_hyper(self) -> Hyper;
}

impl<T: Number> Value for T {
    fn from_hyper(h: &Hyper) -> std::result::Result<T, &'static str> {
        match h {
            Hyper::Number(x) => T::from_number(*x),
            Hyper::Name(_) => Err("must be a number"),
        }
    }
    fn to_hyper(self) -> Hyper {
        Hyper::Number(self.to_number())
    }
}

impl Number for f64 {
    fn from_number(x: f64) -> std::result::Result<f64, &'static str> {
        Ok(x)
    }
    fn to_number(self) -> f64 {
        self
    }
}

/// Counts are whole numbers; the bound keeps every count exact as an f64.
impl Number for usize {
    fn from_number(x: f64) -> std::result::Result<usize, &'static str> {
        if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
            return Err("must be a whole number, 0 or more");
        }
        if x > f64::from(u32::MAX) {
            return Err("is too large; counts go up to 4294967295");
        }
        Ok(x as usize)
    }
    fn to_number(self) -> f64 {
        self as f64
    }
}

/// Early stopping is on, off, or on for large training sets only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    /// On when the training rows number more than [`EarlyStopping::AUTO_ROWS`]
    /// (scikit-learn's "auto"); written -1.
    Auto,
    /// Written 1.
    On,
    /// Written 0.
    Off,
}

impl EarlyStopping {
    pub const AUTO_ROWS: usize = 10_000;

    /// Whether it applies to a fit on `rows` training rows.
    pub fn applies(self, rows: usize) -> bool {
        match self {
            EarlyStopping::Auto => rows > EarlyStopping::AUTO_ROWS,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        }
    }
}

impl Number for EarlyStopping {
    fn from_number(x: f64) -> std::result::Result<EarlyStopping, &'static str> {
        if x == -1.0 {
            Ok(EarlyStopping::Auto)
        } else if x == 1.0 {
            Ok(EarlyStopping::On)
        } else if x == 0.0 {
            Ok(EarlyStopping::Off)
        } else {
            Err("must be 1 (on), 0 (off) or -1 (auto: on above 10000 training rows)")
        }
    }
    fn to_number(self) -> f64 {
        match self {
            EarlyStopping::Auto => -1.0,
            EarlyStopping::On => 1.0,
            EarlyStopping::Off => 0.0,
        }
    }
}

/// Switches are written 1 (on) or 0 (off), as numbers like every other
/// hyperparameter.
impl Number for bool {
    fn from_number(x: f64) -> std::result::Result<bool, &'static str> {
        if x == 1.0 {
            Ok(true)
        } else if x == 0.0 {
            Ok(false)
        } else {
            Err("must be 1 (on) or 0 (off)")
        }
    }
    fn to_number(self) -> f64 {
        if self { 1.0 } else { 0.0 }
    }
}

/// What histogram gradient boosting minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistLoss {
    /// Log loss for a classifier, squared error for a regressor.
    Auto,
    SquaredError,
    AbsoluteError,
    Poisson,
    LogLoss,
}

impl HistLoss {
    const NAMES: [(&'static str, HistLoss); 5] = [
        ("auto", HistLoss::Auto),
        ("squared_error", HistLoss::SquaredError),
        ("absolute_error", HistLoss::AbsoluteError),
        ("poisson", HistLoss::Poisson),
        ("log_loss", HistLoss::LogLoss),
    ];

    pub fn as_str(self) -> &'static str {
        HistLoss::NAMES.iter().find(|(_, l)| *l == self).map_or("auto", |(n, _)| n)
    }
}

impl Value for HistLoss {
    fn from_hyper(h: &Hyper) -> std::result::Result<HistLoss, &'static str> {
        let Hyper::Name(name) = h else {
            return Err("must be a name: auto, squared_error, absolute_error, poisson or log_loss");
        };
        HistLoss::NAMES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| *l)
            .ok_or("must be one of auto, squared_error, absolute_error, poisson, log_loss")
    }
    fn to_hyper(self) -> Hyper {
        Hyper::Name(self.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_numbers_or_names_and_are_checked_by_their_type() {
        assert_eq!(Hyper::parse(" 0.5 "), Hyper::Number(0.5));
        assert_eq!(Hyper::parse("poisson"), Hyper::Name("poisson".into()));
        assert_eq!(HistLoss::from_hyper(&Hyper::parse("poisson")), Ok(HistLoss::Poisson));
        assert!(HistLoss::from_hyper(&Hyper::Number(1.0)).unwrap_err().contains("must be a name"));
        assert!(HistLoss::from_hyper(&Hyper::parse("huber")).unwrap_err().contains("absolute_error"));
        assert_eq!(usize::from_hyper(&Hyper::parse("deep")), Err("must be a number"));
        assert_eq!(<usize as Value>::from_hyper(&Hyper::Number(3.0)), Ok(3));
        for (name, loss) in HistLoss::NAMES {
            assert_eq!(HistLoss::from_hyper(&loss.to_hyper()), Ok(loss), "{name}");
        }
        // A config's table reads numbers and names alike.
        let t: std::collections::BTreeMap<String, Hyper> =
            toml::from_str("a = 1\nb = 0.5\nloss = \"poisson\"\n").unwrap();
        assert_eq!(t["a"], Hyper::Number(1.0));
        assert_eq!(t["loss"], Hyper::Name("poisson".into()));
    }
}
