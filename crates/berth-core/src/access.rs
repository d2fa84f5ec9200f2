//! Who may do what: roles, the model patterns a grant covers, and grants.
//!
//! A token carries one grant: a role over the models a pattern matches,
//! optionally limited to some environments. Roles are not a ladder except
//! that every role reads and `admin` may do everything:
//!
//! | role        | may                                                        |
//! |-------------|------------------------------------------------------------|
//! | `reader`    | list, show, pull, resolve, read the logs                   |
//! | `publisher` | push, tag, store gate reports                              |
//! | `approver`  | approve versions for environments                          |
//! | `deployer`  | promote, roll back, move aliases, run rollouts and checks  |
//! | `admin`     | all of the above, tokens, policies, gc and fsck            |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AliasName, ModelName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Publisher,
    Approver,
    Deployer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Reader, Role::Publisher, Role::Approver, Role::Deployer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Publisher => "publisher",
            Role::Approver => "approver",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn covers(self, needed: Role) -> bool {
        self == needed || self == Role::Admin || needed == Role::Reader
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid model pattern {value:?}: {reason}")]
pub struct PatternError {
    pub value: String,
    pub reason: String,
}

/// Which models a grant covers: `*`, an exact name (`churn`), or a prefix
/// ending in `*` (`fraud-*`). A `*` anywhere else is refused, so a pattern
/// means what it looks like.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelPattern(String);

impl ModelPattern {
    pub fn any() -> ModelPattern {
        ModelPattern("*".into())
    }

    pub fn parse(s: &str) -> Result<ModelPattern, PatternError> {
        let err = |reason: &str| PatternError { value: s.to_string(), reason: reason.to_string() };
        if s == "*" {
            return Ok(ModelPattern::any());
        }
        let stem = s.strip_suffix('*').unwrap_or(s);
        if stem.contains('*') {
            return Err(err("'*' may only end a pattern, as in 'fraud-*', or stand alone"));
        }
        if s.ends_with('*') {
            // A prefix must itself be the start of a valid name.
            let probe = format!("{stem}x");
            ModelName::parse(&probe).map_err(|e| err(&e.reason))?;
        } else {
            ModelName::parse(s).map_err(|e| err(&e.reason))?;
        }
        Ok(ModelPattern(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, model: &ModelName) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => model.as_str().starts_with(prefix),
            None => self.0 == model.as_str(),
        }
    }
}

impl TryFrom<String> for ModelPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, PatternError> {
        ModelPattern::parse(&s)
    }
}

impl From<ModelPattern> for String {
    fn from(p: ModelPattern) -> String {
        p.0
    }
}

impl std::str::FromStr for ModelPattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, PatternError> {
        ModelPattern::parse(s)
    }
}

impl fmt::Display for ModelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role over the models a pattern matches, in the listed environments
/// (all when empty). Environments only narrow what acts on an environment:
/// approving, promoting, rolling back, moving an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub models: ModelPattern,
    #[serde(default)]
    pub envs: Vec<AliasName>,
}

impl Grant {
    /// Everything: what a local user has over their own project.
    pub fn everything() -> Grant {
        Grant { role: Role::Admin, models: ModelPattern::any(), envs: Vec::new() }
    }

    /// Whether this grant allows `needed` on `model` (any model when `None`)
    /// and, for acts on an environment, on `env`.
    pub fn allows(&self, needed: Role, model: Option<&ModelName>, env: Option<&AliasName>) -> bool {
        if !self.role.covers(needed) {
            return false;
        }
        let model_ok = match model {
            Some(m) => self.models.matches(m),
            // An act on no particular model (tokens, policies, gc) needs the whole registry.
            None => self.models == ModelPattern::any(),
        };
        let env_ok = match env {
            Some(e) => self.envs.is_empty() || self.envs.contains(e),
            None => true,
        };
        model_ok && env_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> ModelName {
        ModelName::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        let p = ModelPattern::parse("fraud-*").unwrap();
        assert!(p.matches(&m("fraud-eu")));
        assert!(!p.matches(&m("churn")));
        assert!(ModelPattern::parse("churn").unwrap().matches(&m("churn")));
        assert!(!ModelPattern::parse("churn").unwrap().matches(&m("churn2")));
        assert!(ModelPattern::any().matches(&m("x")));
        assert!(ModelPattern::parse("a*b").is_err());
        assert!(ModelPattern::parse("Churn").is_err());
        assert!(ModelPattern::parse("").is_err());
    }

    #[test]
    fn roles_cover_themselves_reading_and_admin_everything() {
        assert!(Role::Deployer.covers(Role::Reader));
        assert!(!Role::Publisher.covers(Role::Approver));
        assert!(Role::Admin.covers(Role::Deployer));
        assert!(!Role::Reader.covers(Role::Publisher));
    }

    #[test]
    fn environments_narrow_only_acts_on_environments() {
        let staging = AliasName::parse("staging").unwrap();
        let prod = AliasName::parse("production").unwrap();
        let g = Grant {
            role: Role::Deployer,
            models: ModelPattern::parse("fraud-*").unwrap(),
            envs: vec![staging.clone()],
        };
        assert!(g.allows(Role::Deployer, Some(&m("fraud-eu")), Some(&staging)));
        assert!(!g.allows(Role::Deployer, Some(&m("fraud-eu")), Some(&prod)));
        assert!(!g.allows(Role::Deployer, Some(&m("churn")), Some(&staging)));
        assert!(g.allows(Role::Reader, Some(&m("fraud-eu")), None));
        assert!(!g.allows(Role::Deployer, None, None));
    }
}
