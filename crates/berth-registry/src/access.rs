//! Who may act (tokens) and under which rules (policies), as the registry
//! stores them. A token is kept as the SHA-256 of its secret and a short
//! display prefix; the secret itself never reaches the registry. A policy is
//! one document, versioned: applying a different document appends a version,
//! applying the same one again changes nothing.

use async_trait::async_trait;
use berth_core::{Grant, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Actor, Result};

/// A token as stored: everything but its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// `tok_` and 12 hex digits: how lists, revocations and the audit log name it.
    pub id: String,
    /// The first characters of the secret, so a person can tell tokens apart.
    pub prefix: String,
    /// Who the token acts as: a person or a service account (`ci`, `serve-eu`).
    pub principal: String,
    pub grant: Grant,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<Timestamp>,
}

impl TokenRecord {
    /// Why the token cannot be used at `now`, if it cannot.
    pub fn unusable(&self, now: Timestamp) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if self.expires_at.is_some_and(|e| e <= now) {
            Some("expired")
        } else {
            None
        }
    }
}

/// A token to store: its id, the SHA-256 (hex) of its secret, its prefix.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub secret_sha256: &'a str,
    pub prefix: &'a str,
    pub principal: &'a str,
    pub grant: &'a Grant,
    pub expires_at: Option<Timestamp>,
}

/// One version of the policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// 1, 2, … in the order they were applied.
    pub version: u64,
    pub document: serde_json::Value,
    /// `sha256:` of the document's canonical JSON.
    pub digest: String,
    pub applied_by: String,
    pub applied_at: Timestamp,
    /// Where the document came from, e.g. `berth.toml`.
    pub source: Option<String>,
}

/// The registry's half of access control.
#[async_trait]
pub trait Access: Send + Sync {
    /// Stores a new token (audited as `token.create`, without its hash).
    async fn create_token(&self, t: NewToken<'_>, actor: &Actor) -> Result<TokenRecord>;

    /// The token whose secret hashes to `secret_sha256`, revoked or not.
    async fn token_by_hash(&self, secret_sha256: &str) -> Result<Option<TokenRecord>>;

    /// Every token, newest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;

    /// Revokes a token (audited as `token.revoke`); revoking twice keeps the
    /// first revocation.
    async fn revoke_token(&self, id: &str, actor: &Actor) -> Result<TokenRecord>;

    /// Notes that a token was used now; cheap to call on every request (it
    /// writes at most once a minute per token).
    async fn touch_token(&self, id: &str) -> Result<()>;

    /// Makes `document` the policy in force (audited as `policy.apply`); a
    /// document equal to the one in force is not applied again, and the flag
    /// says whether this one is new.
    async fn apply_policy(
        &self,
        document: &serde_json::Value,
        source: Option<&str>,
        actor: &Actor,
    ) -> Result<(PolicyRecord, bool)>;

    /// The policy in force, if one was ever applied.
    async fn policy(&self) -> Result<Option<PolicyRecord>>;

    /// Every policy version, newest first.
    async fn policy_history(&self) -> Result<Vec<PolicyRecord>>;
}

/// The canonical form of a policy document (keys sorted, no spaces), which
/// its digest is taken over.
pub(crate) fn canonical(document: &serde_json::Value) -> String {
    // serde_json's maps are BTreeMaps here (its preserve_order feature is off), so keys are sorted.
    serde_json::to_string(document).expect("a JSON value always serialises")
}
